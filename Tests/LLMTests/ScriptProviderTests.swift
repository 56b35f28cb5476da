import XCTest
import Foundation
@testable import LLM

final class ScriptProviderTests: XCTestCase {
    let demo = """
    @# demo.script: lists files, then answers.

    --- turn 1
    I'll look at the files first.
    @tool shell {"command": "ls -la"}

    --- turn 2: answer
    @expect README.md
    @expect-any You are a coder
    There is a README.

    @text @mentions and
    @text --- turn markers are literal here.
    @usage 120 9
    @stop max_tokens
    """

    func request(_ last: Message) -> ChatRequest {
        ChatRequest(model: "script", system: "You are a coder.", messages: [.user("list files"), last])
    }

    func testParse() throws {
        let s = try Script.parse(demo, fileName: "demo.script")
        XCTAssertEqual(s.turns.count, 2)
        XCTAssertEqual(s.turns[0].line, 3)
        XCTAssertEqual(s.turns[0].label, "1")
        XCTAssertEqual(s.turns[0].items, [.text("I'll look at the files first."),
                                          .tool(name: "shell", input: ["command": "ls -la"])])
        XCTAssertEqual(s.turns[1].items, [.text("There is a README.\n\n@mentions and\n--- turn markers are literal here.")])
        XCTAssertEqual(s.turns[1].stop, .maxTokens)
        XCTAssertEqual(s.turns[1].usage, Usage(input: 120, output: 9))
        XCTAssertEqual(s.turns[1].expectations.map(\.substring), ["README.md", "You are a coder"])
        XCTAssertEqual(s.turns[1].expectations.map(\.anywhere), [false, true])
    }

    func testTurnsStreamAndAssemble() throws {
        var p = try ScriptProvider(text: demo, fileName: "demo.script")
        let ev1 = p.respond(to: ChatRequest(model: "script", messages: [.user("list files")]))
        XCTAssertGreaterThan(ev1.filter { if case .textDelta = $0 { return true } else { return false } }.count, 1,
                             "text arrives in several deltas")
        var a = Assembler(provider: "script")
        a.apply(ev1)
        let r1 = try a.finish()
        XCTAssertEqual(r1.message.content, [.text("I'll look at the files first."),
                                            .toolUse(id: "toolu_script_1_1", name: "shell", input: ["command": "ls -la"])])
        XCTAssertEqual(r1.stopReason, .toolUse)
        XCTAssertGreaterThan(r1.usage.output, 0)

        let ev2 = p.respond(to: request(Message(role: .user, content: [
            .toolResult(toolUseId: "toolu_script_1_1", content: "README.md\nmain.swift", isError: false)])))
        var b = Assembler(provider: "script")
        b.apply(ev2)
        let r2 = try b.finish()
        XCTAssertEqual(r2.message.text, "There is a README.\n\n@mentions and\n--- turn markers are literal here.")
        XCTAssertEqual(r2.stopReason, .maxTokens)
        XCTAssertEqual(r2.usage, Usage(input: 120, output: 9))
        XCTAssertEqual(p.turnsConsumed, 2)

        let ev3 = p.respond(to: request(.user("more?")))
        XCTAssertEqual(ev3, [.error(ProviderError(provider: "script", kind: .scriptExhausted,
                                                  message: "demo.script: script exhausted after 2 turns"))])
    }

    func testExpectationFailureNamesFileAndLine() throws {
        var p = try ScriptProvider(text: demo, fileName: "demo.script")
        _ = p.respond(to: ChatRequest(model: "script", messages: [.user("go")]))
        let ev = p.respond(to: request(.user("nothing relevant")))
        guard case .error(let e)? = ev.first, ev.count == 1 else { return XCTFail("\(ev)") }
        XCTAssertEqual(e.kind, .scriptExpectation)
        XCTAssertTrue(e.message.hasPrefix("demo.script:8: turn 2 expected the request to contain \"README.md\""), e.message)
        XCTAssertTrue(e.message.contains("nothing relevant"), e.message)
    }

    func testErrorDirective() throws {
        var p = try ScriptProvider(text: "--- turn\nPartial\n@error overloaded_error Overloaded\n", fileName: "e")
        let ev = p.respond(to: ChatRequest(model: "m", messages: [.user("x")]))
        XCTAssertEqual(ev.last, .error(ProviderError(provider: "script", kind: .api(type: "overloaded_error"), message: "Overloaded")))
        XCTAssertFalse(ev.contains { if case .stop = $0 { return true } else { return false } })
    }

    func testCRLFAndUnicode() throws {
        let s = try Script.parse("--- turn\r\nGrüße 🎉\r\n@tool t {\"k\": \"ü\"}\r\n", fileName: "w")
        XCTAssertEqual(s.turns[0].items, [.text("Grüße 🎉"), .tool(name: "t", input: ["k": "ü"])])
        var p = ScriptProvider(script: s)
        var a = Assembler(provider: "script")
        a.apply(p.respond(to: ChatRequest(model: "m", messages: [])))
        XCTAssertEqual(try a.finish().message.toolUses.first?.input, ["k": "ü"])
    }

    func testParseErrorsHaveLineNumbers() {
        func err(_ text: String) -> String {
            do { _ = try Script.parse(text, fileName: "bad.script"); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(err("hello\n--- turn\n"), "bad.script:1: expected '--- turn' before the first turn's content")
        XCTAssertEqual(err("--- turn\n@tool\n"), "bad.script:2: @tool needs a tool name")
        XCTAssertTrue(err("--- turn\nok\n@tool shell {bad json}\n").hasPrefix("bad.script:3: @tool shell: invalid JSON"))
        XCTAssertEqual(err("--- turn\n@tool shell [1]\n"), "bad.script:2: @tool shell: the input must be a JSON object")
        XCTAssertEqual(err("--- turn\n@stop later\n"),
                       "bad.script:2: @stop must be end_turn, tool_use, max_tokens or stop_sequence, not 'later'")
        XCTAssertEqual(err("--- turn\n\n@usage 1\n"),
                       "bad.script:3: @usage needs INPUT OUTPUT [CACHE_READ CACHE_WRITE] as non-negative integers")
        XCTAssertEqual(err("--- turn\n@frobnicate\n"),
                       "bad.script:2: unknown directive '@frobnicate' (use @text for a text line starting with '@')")
        XCTAssertEqual(err("--- turn\n@expect\n"), "bad.script:2: @expect needs a substring")
        XCTAssertEqual(err("@# only a comment\n\n"), "bad.script:2: no turns (a turn starts with a line '--- turn')")
        XCTAssertEqual(err(""), "bad.script:1: no turns (a turn starts with a line '--- turn')")
    }

    func testScriptFormatDocExists() throws {
        // The format is documented in the profile reference; keep the doc and parser in step.
        let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../profiles/README.md").standardized
        let text = try String(contentsOf: doc, encoding: .utf8)
        for directive in ["--- turn", "@text", "@tool", "@stop", "@usage", "@expect", "@expect-any", "@error", "@#"] {
            XCTAssertTrue(text.contains("`\(directive)"), "profiles/README.md does not document \(directive)")
        }
    }
}
