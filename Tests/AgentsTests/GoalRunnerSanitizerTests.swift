import XCTest
@testable import Agents

final class GoalRunnerSanitizerTests: XCTestCase {
    /// An answer cut at max_tokens is still whole when its command came from a closed code block.
    func testClosedFencedBlockMeansTheCommandIsWhole() {
        XCTAssertTrue(CommandSanitizer.hasClosedFencedBlock("```bash\nls\n```\nThis lists the fi"))
        XCTAssertTrue(CommandSanitizer.hasClosedFencedBlock("Run:\n```ls -la```\nand th"))
        XCTAssertTrue(CommandSanitizer.hasClosedFencedBlock("<think>maybe ```x``` or</think>\n```\npwd\n```"))
        XCTAssertFalse(CommandSanitizer.hasClosedFencedBlock("```bash\ncat > a <<'EOF'\nhalf"))
        XCTAssertFalse(CommandSanitizer.hasClosedFencedBlock("cat > a <<'EOF'\nhalf"))
        XCTAssertFalse(CommandSanitizer.hasClosedFencedBlock("<think>```\nx\n```\nand then"), "a code block inside unfinished reasoning")
        XCTAssertFalse(CommandSanitizer.hasClosedFencedBlock("<think>a</think>\n```bash\necho"))
    }

    func testSanitizingTable() {
        // (answer, isRoot, expected command) — one row per rule, plus combinations.
        let table: [(String, Bool, String)] = [
            ("ls -la", false, "ls -la"),
            ("```bash\nls -la\n```", false, "ls -la"),
            ("Here is the command:\n```sh\ncd /tmp && ls\n```\nThis lists files.", false, "cd /tmp && ls"),
            ("```ls```", false, "ls"),
            ("`ls -la`", false, "ls -la"),
            ("ls -la`", false, "ls -la"),
            ("echo `date`", false, "echo `date`"),
            ("$ ls -la", false, "ls -la"),
            ("ubuntu@box:~/src$ make", false, "make"),
            ("root@c0ffee:/# whoami", true, "whoami"),
            ("<think>I should list.</think>\nls", false, "ls"),
            ("I will list the files first.\nls -la\nThat shows everything.", false, "ls -la"),
            ("Next, create the file:\ncat > a.txt <<'EOF'\nhello\nEOF\nDone writing.", false, "cat > a.txt <<'EOF'\nhello\nEOF"),
            ("tar -xvzf a.tgz \\\n  -C /opt", false, "tar -xzf a.tgz \\\n  -C /opt"),
            ("sudo apt-get install curl", true, "DEBIAN_FRONTEND=noninteractive apt-get install -y curl"),
            ("sudo apt-get install curl", false, "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y curl"),
            ("apt install -y curl", true, "DEBIAN_FRONTEND=noninteractive apt install -y curl"),
            ("apt-get update && apt-get upgrade", true, "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y"),
            ("apt update", true, "apt update"),
            ("sudo -n ls /root", false, "sudo -n ls /root"),
            ("sudo -E make install", true, "make install"),
            ("cd /x && sudo make install", false, "cd /x && sudo -n make install"),
            ("wget https://x.org/a.tgz", false, "wget -nv https://x.org/a.tgz"),
            ("wget -q https://x.org/a.tgz", false, "wget -q https://x.org/a.tgz"),
            ("wget -O - https://x.org/a | tar xvz", false, "wget -nv -O - https://x.org/a | tar xz"),
            ("tar -xvf a.tar && ls -v", false, "tar -xf a.tar && ls -v"),
            ("tar --verbose -czf a.tgz dir", false, "tar -czf a.tgz dir"),
            ("tar -v -xf a.tar", false, "tar -xf a.tar"),
            ("yum install gcc", true, "yum install -y gcc"),
            ("add-apt-repository ppa:x/y", true, "add-apt-repository -y ppa:x/y"),
            ("git log | less", false, "git log"),
            ("startx.sh --tar", false, "startx.sh --tar"),
        ]
        for (answer, root, expected) in table {
            guard case .command(let command, _) = CommandSanitizer.sanitize(answer, isRoot: root) else {
                XCTFail("not a command: \(answer)"); continue
            }
            XCTAssertEqual(command, expected, "answer: \(answer.debugDescription)")
        }
    }

    func testRulesAreReported() {
        guard case .command(_, let rules) = CommandSanitizer.sanitize("```\nsudo apt install x\n```", isRoot: true) else { return XCTFail() }
        XCTAssertEqual(rules, ["fence", "sudo", "apt"])
        XCTAssertEqual(CommandSanitizer.rules.map(\.name), ["think", "fence", "protocol", "prose", "backticks", "prompt", "sudo", "apt", "yum", "wget", "tar", "pager"])
    }

    func testProtocolAnswers() {
        XCTAssertEqual(CommandSanitizer.sanitize("DONE: the server answers", isRoot: false), .done(reason: "the server answers"))
        XCTAssertEqual(CommandSanitizer.sanitize("**DONE** - all good", isRoot: false), .done(reason: "all good"))
        XCTAssertEqual(CommandSanitizer.sanitize("done", isRoot: false), .done(reason: ""))
        XCTAssertEqual(CommandSanitizer.sanitize("```\nDONE: yes\n```", isRoot: false), .done(reason: "yes"))
        XCTAssertEqual(CommandSanitizer.sanitize("GIVE UP: no network", isRoot: false), .giveUp(reason: "no network"))
        XCTAssertEqual(CommandSanitizer.sanitize("   \n", isRoot: false), .empty)
        XCTAssertEqual(CommandSanitizer.sanitize("I think we should check the logs first.", isRoot: false), .empty)
        if case .command(let c, _) = CommandSanitizer.sanitize("done_check.sh --fast", isRoot: false) { XCTAssertEqual(c, "done_check.sh --fast") } else { XCTFail() }
    }

    func testCleaningTable() {
        let table: [(String, String)] = [
            ("a\r\nb\r\n", "a\nb"),
            ("10%\r20%\r100%\n", "10%\n20%\n100%"),
            ("\u{1B}[1;32mok\u{1B}[0m\n", "ok"),
            ("\u{1B}]0;title\u{07}text\n", "text"),
            ("same\nsame\nsame\nother\nsame\n", "same\nother\nsame"),
            ("a\n\n   \n\t\nb\n", "a\nb"),
            ("trailing   \nx", "trailing\nx"),
            ("\u{08}x\u{07}y\n", "xy"),
        ]
        for (raw, expected) in table {
            XCTAssertEqual(OutputCleaner.clean(raw), expected, "raw: \(raw.debugDescription)")
        }
        XCTAssertEqual(OutputCleaner.lastLines("1\n2\n3\n4", 2), "[2 earlier lines not shown]\n3\n4")
        XCTAssertEqual(OutputCleaner.lastLines("1\n2\n3\n4\n", 2), "[2 earlier lines not shown]\n3\n4")
        XCTAssertEqual(OutputCleaner.lastLines("1\n2\n", 2), "1\n2\n")
    }

    func testQuotedAssignmentKeepsBytesAndShortLines() {
        let text = "echo 'it''s' \"q\" \\ $HOME `x`\n\tcafé ü\u{01}" + String(repeating: "z", count: 1500)
        let lines = ShellSession.quotedAssignment(variable: "v", text, chunkBytes: 512)
        XCTAssertGreaterThan(lines.count, 3)
        for l in lines {
            XCTAssertLessThan(l.utf8.count, 4000)
            XCTAssertFalse(l.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "control character in \(l)")
        }
        XCTAssertTrue(lines[0].hasPrefix("v=$'"))
        XCTAssertTrue(lines[1].hasPrefix("v+=$'"))
    }

    func testChunksAndPromptFitting() {
        let text = (1...100).map { "line \($0)" }.joined(separator: "\n")
        let chunks = GoalPrompt.chunks(text, size: 100)
        XCTAssertEqual(chunks.joined(separator: "\n"), text)
        XCTAssertTrue(chunks.allSatisfy { $0.count <= 100 })
        XCTAssertEqual(GoalPrompt.chunks(String(repeating: "x", count: 250), size: 100).map(\.count), [100, 100, 50])

        var history = GoalHistory(goal: "g")
        for i in 1...5 {
            history.steps.append(GoalStep(n: i, answer: "", command: "cmd\(i)", rules: [], status: .exited(0),
                                          output: (1...50).map { "out \(i) \($0)" }.joined(separator: "\n"), duration: 0, cwd: nil))
        }
        let partial = GoalPrompt(goal: "g", boxDescription: "b", mode: .partial, limit: 30, contextBudget: 100_000, answerTokens: 200, doneWhen: nil)
        let m = partial.fittedMessage(history: history)
        XCTAssertTrue(m.contains("out 3 50") && !m.contains("out 3 40\n"), m)
        XCTAssertTrue(m.contains("[40 earlier lines not shown]"))
        let full = GoalPrompt(goal: "g", boxDescription: "b", mode: .full, limit: 30, contextBudget: 100_000, answerTokens: 200, doneWhen: nil)
        XCTAssertTrue(full.fittedMessage(history: history).contains("out 3 1\n"))
        let tiny = GoalPrompt(goal: "g", boxDescription: "b", mode: .full, limit: 30, contextBudget: 700, answerTokens: 50, doneWhen: nil)
        XCTAssertFalse(tiny.stepsToSummarize(history: history, summaryTokens: 20).isEmpty)
        XCTAssertTrue(tiny.fits(tiny.fittedMessage(history: history)))
    }
}
