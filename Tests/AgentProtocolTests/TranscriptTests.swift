import AgentTranscript
import AgentProtocol
import XCTest

final class TranscriptTests: XCTestCase {
    func render(_ events: [AgentEvent], _ options: TranscriptRenderer.Options = .init()) -> String {
        TranscriptRenderer.render(events.map { EventRecord(event: $0) }, options: options)
    }

    func testAConversationReadsAsWhoSaidWhat() {
        let text = render([
            .start(pid: 7),
            .user(text: "Write a greeting", source: .task, truncated: false),
            .state(.thinking),
            .reply(step: 1, text: "I'll run it.", truncated: false),
            .toolCall(id: "t1", name: "Bash", input: .object([("command", .string("python3 hello.py"))]), truncated: false),
            .tool(name: "Bash", phase: .start),
            .command(text: "python3 hello.py", truncated: false),
            .toolResult(id: "t1", name: "Bash", output: "Hello\n", isError: false, truncated: false),
            .tokens(.init(input: 1000, output: 20, costUSD: 0.5)),
            .message(text: "I'll run it.", truncated: false),
            .reply(step: 2, text: "Done.", truncated: false),
            .error(message: "model request failed: HTTP 429"),
            .final(reason: "limit: 2 steps"),
            .exit(status: .code(0), restarts: 0),
        ])
        XCTAssertEqual(text, """

            ── started pid 7 ──

            user (task):
              Write a greeting

            model (step 1):
              I'll run it.
            → Bash(python3 hello.py)
                Hello

            model (step 2):
              Done.
            error: model request failed: HTTP 429
            final: limit: 2 steps
            · 1 model request: in 1.0k out 20, $0.5000
            ── exited with code 0 ──

            """)
    }

    /// Files written before the conversation was in the events: tool phases, commands and the
    /// agent's messages still read.
    func testEventsOfBeforeTheProtocolStillRender() {
        let old = """
            {"ts":"2026-01-01T00:00:00.000Z","agent":"c","type":"start","pid":3}
            {"type":"state","state":"thinking"}
            {"type":"tool","name":"Bash","phase":"start"}
            {"type":"command","text":"ls"}
            {"type":"tool","name":"Bash","phase":"error"}
            {"type":"tool","name":"python","phase":"start"}
            {"type":"command","text":"print(1)"}
            {"type":"block_output","n":1,"status":"ok","output":"[block 1: ok]\\n1\\n"}
            {"type":"message","text":"The answer is 1."}
            not json
            """
        let text = TranscriptRenderer.render(EventCodec.records(old))
        XCTAssertEqual(text, """

            ── started pid 3 ──
            → Bash
            $ ls
              ← Bash failed
            → python
            $ print(1)
              ← block 1: ok
                [block 1: ok]
                1

            agent:
              The answer is 1.
            · not an event: not json

            """)
    }

    /// `supervisor send` is recorded by the shim and the line by the agent that read it: shown once.
    func testASentMessageIsShownOnce() {
        XCTAssertEqual(render([.user(text: "go on", source: .send, truncated: false), .state(.thinking),
                               .user(text: "go on\n", source: .pane, truncated: false), .reply(step: nil, text: "ok", truncated: false),
                               .user(text: "go on", source: .pane, truncated: false)]),
                       "\nuser (send):\n  go on\n\nmodel:\n  ok\n\nuser (pane):\n  go on\n")
    }

    /// A code block the reply just showed is not shown again.
    func testCodeShownInTheReplyIsNotRepeated() {
        let reply = "Let me count.\n```python\nprint(1)\n```"
        XCTAssertEqual(render([.reply(step: 1, text: reply, truncated: false), .code(n: 1, language: "python", code: "print(1)\n", truncated: false),
                               .blockOutput(n: 1, status: "ok", output: "1", truncated: false)]),
                       "\nmodel (step 1):\n  Let me count.\n  ```python\n  print(1)\n  ```\n→ block 1 (python)\n  ← block 1: ok\n    1\n")
        XCTAssertEqual(render([.reply(step: 1, text: reply, truncated: false), .tool(name: "python", phase: .start),
                               .command(text: "print(1)", truncated: false)]),
                       "\nmodel (step 1):\n  Let me count.\n  ```python\n  print(1)\n  ```\n→ python\n")
    }

    func testLongOutputsAreCutWithANoteAndEscapesNeverReachTheText() {
        let output = (1...100).map { "line \($0) \u{1B}[31mred\u{1B}[0m" }.joined(separator: "\n")
        let text = render([.commandOutput(output: output, exitCode: 2, truncated: true)], .init(outputLines: 10))
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.first, "    line 1 red")
        XCTAssertEqual(lines[8], "    line 9 red")
        XCTAssertEqual(lines[9], "    … (91 more lines)")
        XCTAssertTrue(text.contains("cut in the event log"))
        XCTAssertTrue(text.contains("(exit 2)"))
        XCTAssertFalse(text.contains("\u{1B}"))
        // With colour, escapes are ours only.
        let coloured = render([.error(message: "x\u{1B}]0;title\u{07}y")], .init(colour: true))
        XCTAssertEqual(coloured, "\u{1B}[31merror: xy\u{1B}[0m\n")
    }

    func testPlainTextOfATerminal() {
        XCTAssertEqual(TranscriptRenderer.plain("a\r\nb"), "a\nb")
        XCTAssertEqual(TranscriptRenderer.plain("10%\r50%\r100%\ndone"), "100%\ndone")
        XCTAssertEqual(TranscriptRenderer.plain("ab\u{8}c\t\u{7}"), "ac\t")
        XCTAssertEqual(TranscriptRenderer.plain("\u{1B}[?2004h\u{1B}(Bx\u{1B}]8;;http://a\u{1B}\\link\u{1B}]8;;\u{1B}\\"), "Bxlink")
        XCTAssertEqual(TranscriptRenderer.plain("héllo ✓"), "héllo ✓")
    }

    /// Fed one record at a time (`logs --follow`), the text is the same as all at once.
    func testIncrementalRenderingIsTheSame() {
        var r = TranscriptRenderer()
        var text = ""
        for event in everyCase { text += r.render(EventRecord(event: event)) }
        text += r.finish()
        XCTAssertEqual(text, TranscriptRenderer.render(everyCase.map { EventRecord(event: $0) }))
        XCTAssertFalse(text.contains("\u{1B}"))
    }
}
