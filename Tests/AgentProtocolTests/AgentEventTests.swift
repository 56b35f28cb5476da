import Foundation
import AgentProtocol
import XCTest

/// One event of every case, with every optional field set where it has one.
let everyCase: [AgentEvent] = [
    .user(text: "fix the \"tests\"\nplease", source: .send, truncated: false),
    .user(text: "a goal", source: nil, truncated: true),
    .reply(step: 3, text: "Done: `ls`\n", truncated: false),
    .reply(step: nil, text: "", truncated: true),
    .message(text: "héllo ✓", truncated: false),
    .toolCall(id: "toolu_1", name: "Bash", input: .object([("command", .string("ls -la")), ("timeout", .int(5))]), truncated: false),
    .toolCall(id: nil, name: "Write", input: .string("{\"path\":\"a\",\"content\":\"…"), truncated: true),
    .toolResult(id: "toolu_1", name: "Bash", output: "a\nb\n", isError: false, truncated: false),
    .toolResult(id: nil, name: "Read", output: "no such file", isError: true, truncated: true),
    .tool(name: "Bash", phase: .start), .tool(name: "Bash", phase: .end), .tool(name: "x", phase: .error),
    .tool(name: "Edit", phase: .denied), .tool(name: "x", phase: .other("paused")),
    .command(text: "make test", truncated: false),
    .commandOutput(output: "ok\n", exitCode: 0, truncated: false),
    .commandOutput(output: "partial", exitCode: nil, truncated: true),
    .code(n: 2, language: "python", code: "print(1)", truncated: false),
    .block(n: 2, status: "ok", duration: 0.125), .block(n: 1, status: "error", duration: nil),
    .blockOutput(n: 2, status: "ok", output: "1\n", truncated: true),
    .error(message: "model request failed: HTTP 429"),
    .final(reason: "limit: 20 steps"),
    .permission(id: "toolu_7", tool: "Bash", summary: "rm -rf build", diff: nil, choices: [.yes, .no, .always], truncated: false),
    .permission(id: "ask-2", tool: "Write", summary: "hello.py", diff: "+print(1)\n", choices: [.yes, .no, .other("later")], truncated: true),
    .permissionAnswer(id: "toolu_7", tool: "Bash", answer: .always), .permissionAnswer(id: "x", tool: "Edit", answer: .other("maybe")),
    .state(.thinking), .state(.runningTool), .state(.waiting), .state(.idle), .state(.staying), .state(.starting),
    .state(.running), .state(.exited), .state(.restarting), .state(.stopping), .state(.stopped), .state(.failed),
    .state(.other("compiling")),
    .step(n: 4, limit: 20), .step(n: 1, limit: nil),
    .tokens(.init(input: 1200, output: 300, cacheRead: 10, cacheWrite: 5, costUSD: 0.0125)),
    .tokens(.init(input: 1, output: 2)),
    .budget(.init(budget: .cost, spent: 0.25, limit: 1)), .budget(.init(budget: .time, spent: 61.5, limit: 600)),
    .budget(.init(budget: .tokens, spent: 1000, limit: 5000)), .budget(.init(budget: .steps, spent: 3, limit: 20)),
    .budget(.init(budget: .other("calls"), spent: 1, limit: 2)),
    .context(.init(elided: 2, dropped: 1, tokens: 9000, budget: 8000, contextTokens: 10000, conversation: "c1")),
    .context(.init(elided: 0, dropped: 0, tokens: 10)),
    .contextOverflow(sentTokens: 9000, budget: 6300, conversation: "c1"),
    .incomplete(cut: true, maxTokens: 4096, blockNotRun: true, blocksRun: 2),
    .incomplete(cut: false, maxTokens: 100, blockNotRun: nil, blocksRun: nil),
    .perf(.init(step: 2, model: "m", durationS: 1.5, ttftS: 0.25, tokensPerS: 40.5, costUSD: 0.001, conversation: "c1")),
    .perf(.init(durationS: 0)),
    .conversation(id: "20260101-abc", resumed: true, path: "/x/c.json", finished: nil),
    .conversation(id: "c2", resumed: false, path: nil, finished: "limit"),
    .commit(sha: "0123456789abcdef", subject: "Add hello.py", branch: "sv/p/coder"),
    .commit(sha: "fedcba9876543210", subject: "x", branch: nil),
    .start(pid: 42),
    .placement(engine: "big", note: "auto: fewest agents, then most free memory"),
    .gap(bytes: 1_960_000, offset: 123_456, reason: "No space left on device"),
    .log(note: "log file removed or moved from outside; reopened", offset: 0),
    .attention(reason: .input, message: "waits for input", profile: "p", kind: "command"),
    .attention(reason: .other("bored"), message: "x", profile: nil, kind: nil),
    .exit(status: .code(3), restarts: 1), .exit(status: .signal(9), restarts: nil),
    .container(name: "sv-p-a", note: "created", error: nil), .container(name: "sv-p-a", note: nil, error: "no image"),
    .strays(pids: [7, 8]),
    .invalid(raw: "not json {", truncated: true),
    .unknown(type: "custom_thing", fields: [("z", .int(1)), ("a", .array([.null, .bool(false)]))]),
]

final class AgentEventTests: XCTestCase {
    func testEveryCaseRoundTripsThroughALine() {
        for event in everyCase {
            let record = EventRecord(ts: "2026-01-01T00:00:00.000Z", agent: "a", event: event)
            let line = record.line
            XCTAssertFalse(line.contains("\n"), line)
            let back = EventRecord(line: line)
            XCTAssertEqual(back, record, line)
            XCTAssertEqual(back?.line, line)
            XCTAssertEqual(back?.event.type, event.type)
        }
    }

    func testEveryTypeHasACaseAndASample() {
        let sampled = Set(everyCase.compactMap(\.eventType))
        for t in EventType.allCases { XCTAssertTrue(sampled.contains(t), "no sample of \(t.rawValue)") }
        XCTAssertEqual(Set(ActivityState.allNamed.map(\.name)).count, ActivityState.allNamed.count)
        for s in ActivityState.allNamed { XCTAssertEqual(ActivityState(s.name), s) }
    }

    func testAnAgentLineCarriesTheVersionAndTheShimAddsTheEnvelope() {
        let line = EventCodec.agentLine(.step(n: 1, limit: 5))
        XCTAssertEqual(line, #"{"type":"step","n":1,"limit":5,"v":1}"# + "\n")
        let stamped = EventCodec.normalize(Array(line.utf8), agent: "g", now: 0)!
        XCTAssertEqual(stamped, #"{"ts":"1970-01-01T00:00:00.000Z","agent":"g","type":"step","n":1,"limit":5,"v":1}"#)
        let r = EventRecord(line: stamped)!
        XCTAssertEqual(r.version, AgentProtocol.version)
        XCTAssertEqual(r.agent, "g")
        XCTAssertEqual(r.event, .step(n: 1, limit: 5))
    }

    /// What the agents and the shim wrote before the protocol was typed: every line still reads
    /// as its typed case, and writes back as it was.
    func testLinesWrittenBeforeTheProtocolStillRead() {
        let ts = #""ts":"2026-11-22T00:53:08.123Z","agent":"a","#
        let old: [(String, AgentEvent)] = [
            (#"{\#(ts)"type":"state","state":"thinking"}"#, .state(.thinking)),
            (#"{\#(ts)"type":"state","state":"running_tool"}"#, .state(.runningTool)),
            (#"{\#(ts)"type":"step","n":3,"limit":30}"#, .step(n: 3, limit: 30)),
            (#"{\#(ts)"type":"command","text":"ls -la"}"#, .command(text: "ls -la", truncated: false)),
            (#"{\#(ts)"type":"tool","name":"python","phase":"start"}"#, .tool(name: "python", phase: .start)),
            (#"{\#(ts)"type":"tokens","input":1200,"output":300,"cache_read":0,"cache_write":0,"cost_usd":0.012}"#,
             .tokens(.init(input: 1200, output: 300, cacheRead: 0, cacheWrite: 0, costUSD: 0.012))),
            (#"{\#(ts)"type":"tokens","input":1,"output":2,"cache_read":3,"cache_write":4}"#,
             .tokens(.init(input: 1, output: 2, cacheRead: 3, cacheWrite: 4))),
            (#"{\#(ts)"type":"message","text":"hi","truncated":true}"#, .message(text: "hi", truncated: true)),
            (#"{\#(ts)"type":"reply","step":2,"text":"ok"}"#, .reply(step: 2, text: "ok", truncated: false)),
            (#"{\#(ts)"type":"block","n":1,"status":"ok","duration":0.012}"#, .block(n: 1, status: "ok", duration: 0.012)),
            (#"{\#(ts)"type":"block_output","n":1,"status":"ok","output":"1\n"}"#,
             .blockOutput(n: 1, status: "ok", output: "1\n", truncated: false)),
            (#"{\#(ts)"type":"final","reason":"limit"}"#, .final(reason: "limit")),
            (#"{\#(ts)"type":"context","elided":1,"dropped":0,"tokens":500,"context_tokens":8000}"#,
             .context(.init(elided: 1, dropped: 0, tokens: 500, contextTokens: 8000))),
            (#"{\#(ts)"type":"context_overflow","sent_tokens":9000,"budget":6300,"conversation":"c"}"#,
             .contextOverflow(sentTokens: 9000, budget: 6300, conversation: "c")),
            (#"{\#(ts)"type":"incomplete","cut":true,"max_tokens":10,"block_not_run":false,"blocks_run":0}"#,
             .incomplete(cut: true, maxTokens: 10, blockNotRun: false, blocksRun: 0)),
            (#"{\#(ts)"type":"perf","step":1,"model":"m","duration_s":0.25,"ttft_s":0.125,"tokens_per_s":12.5,"conversation":"c"}"#,
             .perf(.init(step: 1, model: "m", durationS: 0.25, ttftS: 0.125, tokensPerS: 12.5, conversation: "c"))),
            (#"{\#(ts)"type":"conversation","id":"c","resumed":false,"path":"/p","finished":"limit"}"#,
             .conversation(id: "c", resumed: false, path: "/p", finished: "limit")),
            (#"{\#(ts)"type":"start","pid":42}"#, .start(pid: 42)),
            (#"{\#(ts)"type":"exit","status":{"signal":9},"restarts":2}"#, .exit(status: .signal(9), restarts: 2)),
            (#"{\#(ts)"type":"container","container":"sv","note":"created"}"#, .container(name: "sv", note: "created", error: nil)),
            (#"{\#(ts)"type":"strays","pids":[5,6]}"#, .strays(pids: [5, 6])),
            (#"{\#(ts)"type":"invalid","raw":"oops"}"#, .invalid(raw: "oops", truncated: false)),
        ]
        for (line, expected) in old {
            let r = EventRecord(line: line)
            XCTAssertEqual(r?.event, expected, line)
            XCTAssertNil(r?.version, line)
            XCTAssertEqual(r?.extra.count, 0, line)
            XCTAssertEqual(r?.line, line)
        }
        // Numbers written with fixed decimals read as the same values.
        let perf = EventRecord(line: #"{"type":"perf","step":1,"model":"m","duration_s":1.500,"tokens_per_s":40.0}"#)
        XCTAssertEqual(perf?.event, .perf(.init(step: 1, model: "m", durationS: 1.5, tokensPerS: 40)))
    }

    func testWhatIsNotOursPassesThrough() {
        // An unknown type keeps its fields in order.
        let custom = #"{"ts":"t","agent":"x","type":"progress","pct":42.50,"label":"x"}"#
        let r = EventRecord(line: custom)!
        XCTAssertEqual(r.event, .unknown(type: "progress", fields: [("pct", .number("42.50")), ("label", .string("x"))]))
        XCTAssertEqual(r.line, custom)
        // A known type with fields of the wrong kind is not forced into its case.
        let odd = #"{"type":"step","n":"three"}"#
        XCTAssertEqual(EventRecord(line: odd)?.event.eventType, nil)
        XCTAssertEqual(EventRecord(line: odd)?.line, odd)
        // Extra fields of a known type ride along.
        let extra = #"{"type":"state","state":"thinking","mood":"good"}"#
        XCTAssertEqual(EventRecord(line: extra)?.event, .state(.thinking))
        XCTAssertEqual(EventRecord(line: extra)?.line, extra)
        // A program's own state name is kept as it is.
        XCTAssertEqual(EventRecord(line: #"{"type":"state","state":"tool_use"}"#)?.event, .state(.other("tool_use")))
        // Not JSON, or no type: read as the shim would have wrapped it.
        XCTAssertEqual(EventRecord(line: "hello")?.event, .invalid(raw: "hello", truncated: false))
        XCTAssertNil(EventRecord(line: "  \n"))
    }

    func testCapsCutLongTextsAndSaySo() {
        let long = String(repeating: "\"x\n", count: EventCaps.text)
        guard case let .reply(_, text, truncated) = AgentEvent.reply(step: 1, text: long, truncated: false).capped() else {
            return XCTFail()
        }
        XCTAssertTrue(truncated)
        XCTAssertTrue(long.hasPrefix(text))
        let line = EventCodec.agentLine(.reply(step: 1, text: long, truncated: false))
        XCTAssertLessThan(line.utf8.count, EventCaps.line - 200)
        // A tool input too long as JSON becomes its cut text.
        let input = OrderedJSON.object([("content", .string(String(repeating: "a", count: 40_000)))])
        guard case let .toolCall(_, _, cut, t) = AgentEvent.toolCall(id: "1", name: "Write", input: input, truncated: false).capped(),
              case .string(let s) = cut else { return XCTFail() }
        XCTAssertTrue(t)
        XCTAssertTrue(s.hasPrefix(#"{"content":"aaa"#))
        XCTAssertLessThanOrEqual(OrderedJSON.string(s).serialized().utf8.count, EventCaps.toolInput + 2)
        // Short texts are left alone.
        XCTAssertEqual(AgentEvent.message(text: "hi", truncated: false).capped(), .message(text: "hi", truncated: false))
    }

    /// The README's event table is the protocol's: every type documented, nothing else.
    func testReadmeTableIsGeneratedFromTheProtocol() throws {
        let root = URLPath.packageRoot(#filePath)
        let readme = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
        let begin = "<!-- event table: generated from EventType.markdownTable; AgentProtocolTests checks it -->\n"
        guard let start = readme.range(of: begin) else { return XCTFail("README.md has no generated event table marker") }
        let rest = readme[start.upperBound...]
        guard let end = rest.range(of: "\n\n") else { return XCTFail("table not ended by a blank line") }
        let table = String(rest[..<end.lowerBound]) + "\n"
        XCTAssertEqual(table, EventType.markdownTable, "replace the table in README.md with:\n" + EventType.markdownTable)
    }
}

enum URLPath {
    /// The package root, from a test file's path (`<root>/Tests/<target>/<file>`).
    static func packageRoot(_ file: String) -> String {
        var parts = file.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }
}

final class PermissionReplyTests: XCTestCase {
    func testAnAnswerNamesItsQuestion() {
        let text = PermissionReply.text(id: "toolu_01A-b.c", answer: .always)
        XCTAssertEqual(text, "/permission toolu_01A-b.c always")
        XCTAssertEqual(PermissionReply.parse(text)?.id, "toolu_01A-b.c")
        XCTAssertEqual(PermissionReply.parse(text)?.answer, .always)
        XCTAssertEqual(PermissionReply.parse(" /permission q1 YES\n")?.answer, .yes)
        for bad in ["yes", "/permission q1", "/permission q1 maybe", "/permission q/1 yes", "/permission q1 yes now", "/permissions q1 no"] {
            XCTAssertNil(PermissionReply.parse(bad), bad)
        }
    }

    func testWhatAPersonTypesAsAnAnswer() {
        XCTAssertEqual(["y", " Yes\n", "ok", "n", "NO", "a", "always", "!"].map { PermissionChoice(typed: $0) },
                       [.yes, .yes, .yes, .no, .no, .always, .always, .always])
        XCTAssertNil(PermissionChoice(typed: "yes please"))
        XCTAssertNil(PermissionChoice(typed: ""))
    }

    func testAQuestionsTextsAreCapped() {
        let long = String(repeating: "x", count: 100_000)
        guard case let .permission(_, _, summary, diff, _, truncated) = AgentEvent.permission(
            id: "q", tool: "Write", summary: long, diff: long, choices: PermissionChoice.all, truncated: false).capped() else { return XCTFail() }
        XCTAssertEqual(summary.utf8.count, EventCaps.command)
        XCTAssertEqual(diff?.utf8.count, EventCaps.output)
        XCTAssertTrue(truncated)
    }
}
