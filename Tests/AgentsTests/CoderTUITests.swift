import LLM
import TerminalUI
import XCTest
@testable import Agents

final class CoderTUIModelTests: XCTestCase {
    func testAltEnterAndCtrlJAreNewlines() {
        var d = KeyDecoder()
        XCTAssertEqual(d.decode([.char("a"), .escape, .enter, .char("b"), .control("j"), .enter]),
                       [.key(.char("a")), .newline, .key(.char("b")), .newline, .key(.enter)])
    }

    /// What the terminal sends: Enter is CR, Ctrl-J is LF. Ctrl-J starts a new line; only
    /// Enter sends (the README's promise).
    func testCtrlJFromTheTerminalIsANewlineAndEnterSends() {
        XCTAssertEqual(Screen.characterKey(13), .enter)
        XCTAssertEqual(Screen.characterKey(10), .control("j"))
        var d = KeyDecoder()
        let typed = [104, 10, 105, 13].map { Screen.characterKey(UInt32($0)) }
        XCTAssertEqual(d.decode(typed), [.key(.char("h")), .newline, .key(.char("i")), .key(.enter)])
    }

    func status(session: String = "20261205-010203-ab12") -> CoderStatus {
        CoderStatus(model: "claude-test", permission: .yolo, usage: Usage(input: 12_345, output: 678), costUSD: 0.0421,
                    state: "idle", session: session)
    }

    /// What stays on the normal screen: the turn's final answer (not the text before its tool
    /// calls), errors after it, tokens, cost, the session and the command that resumes it.
    func testEndingShowsTheFinalAnswerAndHowToResume() {
        let transcript = [TranscriptEntry(kind: .user, text: "old question"), TranscriptEntry(kind: .assistant, text: "old answer"),
                          TranscriptEntry(kind: .user, text: "Write a greeting program"),
                          TranscriptEntry(kind: .assistant, text: "I'll create it."), TranscriptEntry(kind: .tool, text: "⏺ Write(x)"),
                          TranscriptEntry(kind: .result, text: "  ⎿ Created x"),
                          TranscriptEntry(kind: .assistant, text: "Done. I wrote `x`.\nRun it with python3 x.\n")]
        let ending = CoderEnding(status: status(), exitStatus: 0, configPath: nil)
        let text = ending.text(transcript: transcript)
        XCTAssertTrue(text.hasPrefix("Done. I wrote `x`.\nRun it with python3 x.\n\n── coder ended · claude-test · "), text)
        XCTAssertTrue(text.contains("tokens in 12k out 678 · $0.0421 · session 20261205-010203-ab12\n"), text)
        XCTAssertTrue(text.hasSuffix("resume: supervisor agent coder --resume 20261205-010203-ab12\n"), text)
        XCTAssertFalse(text.contains("old answer") || text.contains("I'll create"), text)

        // In a profile: the launch config goes with it (quoted when it needs to be); an error
        // after the last answer is shown too.
        let failed = CoderEnding(status: status(), exitStatus: 1, configPath: "/state/my profile/agent.json")
        let errorText = failed.text(transcript: [TranscriptEntry(kind: .user, text: "q"), TranscriptEntry(kind: .error, text: "✗ model error: 500")])
        XCTAssertTrue(errorText.hasPrefix("✗ model error: 500\n\n── coder ended with an error (exit status 1)"), errorText)
        XCTAssertTrue(errorText.hasSuffix("resume: supervisor agent coder --config '/state/my profile/agent.json' --resume 20261205-010203-ab12\n"), errorText)
        XCTAssertTrue(CoderEnding(status: status(), exitStatus: 143, configPath: nil).summary.contains("stopped (SIGTERM)"))
    }

    func testBracketedPasteIsOneAction() {
        var d = KeyDecoder()
        let start: [Key] = [.escape, .char("["), .char("2"), .char("0"), .char("0"), .char("~")]
        let end: [Key] = [.escape, .char("["), .char("2"), .char("0"), .char("1"), .char("~")]
        let body: [Key] = [.char("x"), .enter, .char("y"), .escape, .char("q")]
        // Split across two reads.
        var actions = d.decode(start + body.prefix(2))
        actions += d.decode(Array(body.dropFirst(2)) + end + [.enter])
        XCTAssertEqual(actions, [.paste("x\nyq"), .key(.enter)])
    }

    func testLoneEscapeAndAltKey() {
        var d = KeyDecoder()
        XCTAssertEqual(d.decode([.escape]), [.escape])
        XCTAssertEqual(d.decode([.escape, .char("x")]), [.escape, .key(.char("x"))])
    }

    func testEditorMultilineAndHistory() {
        var e = InputEditor()
        e.insert("hello")
        e.newline()
        e.insert("world")
        XCTAssertEqual(e.text, "hello\nworld")
        e.up()
        XCTAssertEqual(e.row, 0)
        e.end()
        e.backspace()
        XCTAssertEqual(e.text, "hell\nworld")
        e.down(); e.home(); e.backspace()
        XCTAssertEqual(e.text, "hellworld")
        XCTAssertEqual(e.submit(), "hellworld")
        XCTAssertTrue(e.isEmpty)
        e.insert("second")
        _ = e.submit()
        e.insert("draft")
        e.up()
        XCTAssertEqual(e.text, "second")
        e.up()
        XCTAssertEqual(e.text, "hellworld")
        e.down(); e.down()
        XCTAssertEqual(e.text, "draft")
        e.deleteWordBack()
        XCTAssertTrue(e.isEmpty)
        e.insert("a\r\nb")
        XCTAssertEqual(e.text, "a\nb")
    }

    func testDiffLinesAreIndentedAndTaggedForColour() {
        let lines = TranscriptEntry.diffLines("@@ -1 +1 @@\n-old\n+new text here\n ctx", width: 12)
        XCTAssertEqual(lines.map(\.0), ["    @@ -1", "    +1 @@", "    -old", "    +new", "    text", "    here", "     ctx"])
        XCTAssertEqual(lines.map(\.1), [.hunk, .hunk, .removed, .added, .added, .added, .diff])
    }

    func testWrapKeepsWordsAndWideCharacters() {
        XCTAssertEqual(TextWrap.wrap("the quick brown fox", width: 10), ["the quick", "brown fox"])
        XCTAssertEqual(TextWrap.wrap("abcdefghij12", width: 5), ["abcde", "fghij", "12"])
        XCTAssertEqual(TextWrap.wrap("a\n\nb", width: 5), ["a", "", "b"])
        XCTAssertEqual(TextWrap.columns("日"), 2)
        XCTAssertEqual(TextWrap.wrap("日本語日本語", width: 5), ["日本", "語日", "本語"])
    }
}
