import Foundation
import XCTest
import _TestSupport

/// Two coder agents (offline `script` provider) change the same file of one repository, each in
/// its own worktree: the real binary, real tmux, real git.
final class WorktreeEndToEndTests: EndToEndTestCase {
    var repo: String { sv.root + "/repo" }

    @discardableResult
    func git(_ args: String..., file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try sv.run(["-C", repo, "-c", "user.name=person", "-c", "user.email=person@example.com"] + args, executable: "/usr/bin/git")
        XCTAssertEqual(r.status, 0, "git \(args.joined(separator: " ")): \(r)", file: file, line: line)
        return r.stdout
    }

    func read(_ path: String) -> String? { FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } }

    /// A coder whose recorded model writes `greeting` into greeting.txt, then answers.
    func coder(_ name: String, greeting: String) -> String {
        let script = sv.home.write("\(name).script", """
        --- turn 1: write
        @tool Write {"file_path": "greeting.txt", "content": "\(greeting)\\n"}

        --- turn 2: answer
        Done: the greeting is now "\(greeting)".
        """)
        return """
        [[agents]]
        name = "\(name)"
        kind = "coder"
        prompt = "Make the greeting say \(greeting)"
        permission = "yolo"
        restart = "never"
        isolation = "worktree"
        autocommit = true
        [agents.llm]
        script = "\(script)"

        """
    }

    func upHeadless(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try ok(["up", path], timeout: 120, file: file, line: line)
        if result.status != 0 { throw CommandFailed(result: result) }
    }

    func cleanup(_ arguments: [String]) throws -> RunResult {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("cleanup.sh").path
        return try sv.run([script] + arguments, executable: "/bin/bash", timeout: 60)
    }

    func testTwoCodersChangeOneFileOnTheirOwnBranches() throws {
        continueAfterFailure = false
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        try git("init", "-q", "-b", "main")
        _ = sv.home.write("repo/greeting.txt", "hello\n")
        try git("add", "greeting.txt")
        try git("commit", "-q", "-m", "first")
        let first = try git("rev-parse", "main")
        sv.track(profile: "pair")
        let path = sv.home.write("pair.toml", "name = \"pair\"\nworkdir = \"\(repo)\"\n\n[logs]\ndir = \"\(sv.logsDir)\"\n\n"
            + "[llm]\nprovider = \"script\"\n\n" + coder("one", greeting: "hello from one") + coder("two", greeting: "hello from two"))

        // Both run to the end; each edit is on its own branch, the person's checkout is as it was.
        try upHeadless(path)
        XCTAssertEqual(read(repo + "/greeting.txt"), "hello\n")
        XCTAssertEqual(try git("status", "--porcelain"), "")
        XCTAssertEqual(try git("rev-parse", "main"), first)
        XCTAssertEqual(try git("show", "sv/pair/one:greeting.txt"), "hello from one\n")
        XCTAssertEqual(try git("show", "sv/pair/two:greeting.txt"), "hello from two\n")
        XCTAssertEqual(try git("log", "-1", "--format=%B", "sv/pair/one"),
                       "Make the greeting say hello from one\n\nSupervisor-Agent: one\n\n", "autocommit: the turn's intent and the agent")
        let oneDir = sv.profileDir("pair") + "/worktrees/one", twoDir = sv.profileDir("pair") + "/worktrees/two"
        XCTAssertEqual(read(oneDir + "/greeting.txt"), "hello from one\n")

        // Review: each diff shows its own change.
        let diffOne = try ok(["diff", "pair", "one"]).stdout
        XCTAssertTrue(diffOne.contains("-hello\n+hello from one"), diffOne)
        XCTAssertTrue(try ok(["diff", "pair", "two", "--stat"]).stdout.contains("greeting.txt | 2 +-"))

        // Merge the first: main and the checkout (fast-forwarded) have it.
        let merged = try ok(["merge", "pair", "one"])
        XCTAssertTrue(merged.stdout.contains("merged sv/pair/one into main"), merged.stdout)
        XCTAssertEqual(read(repo + "/greeting.txt"), "hello from one\n")
        let afterFirst = try git("rev-parse", "main")

        // The second conflicts: listed, exit 1, nothing changed.
        let conflict = try sv.run(["merge", "pair", "two"])
        XCTAssertEqual(conflict.status, 1, "\(conflict)")
        XCTAssertTrue(conflict.stderr.contains("conflicts; nothing was changed") && conflict.stderr.contains("  greeting.txt"), conflict.stderr)
        XCTAssertEqual(try git("rev-parse", "main"), afterFirst)
        XCTAssertEqual(try git("status", "--porcelain"), "")
        XCTAssertEqual(read(repo + "/greeting.txt"), "hello from one\n")
        XCTAssertEqual(try git("show", "sv/pair/two:greeting.txt"), "hello from two\n")

        let list = try ok(["worktrees", "list", "pair"]).stdout
        let rows = list.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(rows.first { $0.first == "one" }?[8], "yes", list)
        XCTAssertEqual(rows.first { $0.first == "two" }?[8], "no", list)
        XCTAssertTrue(list.contains("total disk use:"), list)

        // down/up keeps both worktrees, on the same branches and commits.
        let tips = try git("rev-parse", "sv/pair/one", "sv/pair/two")
        try ok(["down", "pair"])
        XCTAssertEqual(read(twoDir + "/greeting.txt"), "hello from two\n")
        try upHeadless(path)
        XCTAssertEqual(try git("rev-parse", "sv/pair/one", "sv/pair/two"), tips, "the same work, no new commits")
        XCTAssertEqual(try git("worktree", "list").split(separator: "\n").count, 3)
        try ok(["down", "pair"])

        // Removing the unmerged one by hand needs --force too.
        assertOneLineError(try sv.run(["worktrees", "remove", "pair", "two"]),
                           ["worktree of agent \"two\" (branch sv/pair/two) has 1 commit not merged into main", "--force"])

        // cleanup.sh removes the merged, clean one and refuses the unmerged one without --force.
        let plain = try cleanup([])
        XCTAssertEqual(plain.status, 0, "\(plain)")
        XCTAssertTrue(plain.stdout.contains("kept: unmerged commits on sv/pair/two"), plain.stdout)
        XCTAssertFalse(fileExists(oneDir))
        XCTAssertEqual(read(twoDir + "/greeting.txt"), "hello from two\n")
        XCTAssertEqual(try git("branch", "--list", "sv/*"), "+ sv/pair/two\n", "the merged branch went with its worktree")
        let forced = try cleanup(["--force"])
        XCTAssertEqual(forced.status, 0, "\(forced)")
        XCTAssertFalse(fileExists(twoDir))
        XCTAssertEqual(try git("worktree", "list").split(separator: "\n").count, 1, "pruned")
        XCTAssertEqual(try git("branch", "--list", "sv/*"), "  sv/pair/two\n", "an unmerged branch keeps its commits")
        XCTAssertFalse(fileExists(sv.profileDir("pair")))
    }

    /// `validate` (and `up`) refuse, in one line naming the profile line, a workdir outside any
    /// git repository and a branch that exists and is not the agent's; nothing is made.
    func testBadRepositoryAndForeignBranchAreOneLineErrors() throws {
        let plain = sv.root + "/plain"
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        func profile(_ workdir: String, extra: String = "") -> String {
            sv.track(profile: "bad")
            return sv.home.write("bad.toml", "name = \"bad\"\nworkdir = \"\(workdir)\"\n\n[[agents]]\nname = \"c\"\nkind = \"command\"\n"
                + "command = [\"true\"]\nisolation = \"worktree\"\n" + extra)
        }
        let outside = profile(plain)
        assertOneLineError(try sv.run(["validate", outside]), ["bad.toml:4:1: agent \"c\": isolation = \"worktree\" needs a git repository", plain])
        assertOneLineError(try sv.run(["up", outside, "--detach"]), ["needs a git repository"])

        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        try git("init", "-q", "-b", "main")
        try git("commit", "-q", "--allow-empty", "-m", "first")
        try git("branch", "feature")
        let foreign = profile(repo, extra: "branch = \"feature\"\n")
        assertOneLineError(try sv.run(["up", foreign, "--detach"]), ["branch \"feature\" already exists", "is not this agent's worktree branch"])
        XCTAssertFalse(fileExists(sv.profileDir("bad") + "/worktrees"), "nothing made")
        XCTAssertEqual(try git("worktree", "list").split(separator: "\n").count, 1)
    }
}
