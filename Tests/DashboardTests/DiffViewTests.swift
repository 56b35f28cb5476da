import Foundation
@testable import Dashboard
@testable import Hosting
import Loop
import Profile
@testable import TerminalUI
import XCTest

/// The dashboard's diff view: parsing `git diff`, its key handling, and loading off the loop
/// thread with a cache keyed by the worktree's state (against a real git repository).
final class DiffViewTests: XCTestCase {
    let sample = """
    diff --git a/greeting.txt b/greeting.txt
    index ce01362..94954ab 100644
    --- a/greeting.txt
    +++ b/greeting.txt
    @@ -1 +1,2 @@
    -hello
    +hello from one
    +second
    diff --git a/new file.txt b/new file.txt
    new file mode 100644
    --- /dev/null
    +++ b/new file.txt
    @@ -0,0 +1 @@
    +new
    \\ No newline at end of file

    """

    func testParseSplitsFilesAndCountsLines() {
        let doc = DiffDocument.parse(sample)
        XCTAssertEqual(doc.files.map(\.path), ["greeting.txt", "new file.txt"])
        XCTAssertEqual(doc.files.map(\.added), [2, 1])
        XCTAssertEqual(doc.files.map(\.removed), [1, 0])
        XCTAssertEqual(doc.files[0].lines.map(\.kind), [.header, .header, .header, .header, .hunk, .removed, .added, .added])
        XCTAssertEqual(doc.files[1].lines.last, .init(kind: .context, text: "\\ No newline at end of file"))
        XCTAssertEqual([doc.added, doc.removed], [3, 1])
        XCTAssertTrue(DiffDocument.parse("").files.isEmpty)
    }

    func testKeysMoveBetweenFilesAndScroll() {
        var s = DiffViewState(agent: "one")
        s.show(DiffDocument.parse(sample))
        XCTAssertEqual(s.handle(.down, page: 3), .redraw)
        XCTAssertEqual(s.scroll, 1)
        XCTAssertEqual(s.handle(.end, page: 3), .redraw)
        XCTAssertEqual(s.scroll, 5, "the last page of the file's 8 lines")
        XCTAssertEqual(s.handle(.pageDown, page: 3), .none, "already at the end")
        XCTAssertEqual(s.handle(.tab, page: 3), .redraw)
        XCTAssertEqual([s.file, s.scroll], [1, 0])
        XCTAssertEqual(s.handle(.tab, page: 3), .redraw)
        XCTAssertEqual(s.file, 0, "wraps")
        _ = s.handle(.backTab, page: 3)
        XCTAssertEqual(s.file, 1)
        // A fresh document keeps the selected file by path.
        s.show(DiffDocument.parse(sample.components(separatedBy: "diff --git a/new").first!.replacingOccurrences(of: "greeting", with: "other")
                                 + "diff --git a/new" + sample.components(separatedBy: "diff --git a/new")[1]))
        XCTAssertEqual(s.document?.files.map(\.path), ["other.txt", "new file.txt"])
        XCTAssertEqual(s.file, 1)
        XCTAssertEqual(s.handle(.char("r"), page: 3), .refresh)
        XCTAssertEqual(s.handle(.escape, page: 3), .close)
        XCTAssertEqual(s.handle(.char("z"), page: 3), .none)
    }

    func testDKeyOpensTheSelectedAgentsDiff() {
        var s = DashboardState(agentCount: 3)
        _ = s.handle(.right)
        XCTAssertEqual(s.handle(.char("d")).command, .openDiff(agent: 1))
        _ = s.handle(.enter)
        XCTAssertEqual(s.handle(.char("d")).command, .openDiff(agent: 1), "also in focus")
    }

    func testLoadsOffTheLoopAndReusesTheCacheWhileNothingChanged() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dv-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let repo = dir + "/repo"
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        var env = ProcessInfo.processInfo.environment
        env["GIT_CONFIG_GLOBAL"] = "/dev/null"
        func git(_ args: String...) throws {
            let r = try runSubprocess(["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@t"] + args, environment: env)
            XCTAssertTrue(r.succeeded, r.errorOutput)
        }
        try git("init", "-q", "-b", "main")
        FileManager.default.createFile(atPath: repo + "/a.txt", contents: Data("a\n".utf8))
        try git("add", "a.txt")
        try git("commit", "-q", "-m", "a")
        let worktrees = Worktrees(paths: SupervisorPaths(root: dir + "/home"), environment: env)
        var agent = AgentSpec(name: "one", kind: .coder, cwd: repo)
        agent.isolation = .worktree
        let profile = Profile(name: "p", sourcePath: dir + "/p.toml", directory: dir, workdir: repo, llm: LLMSettings(),
                              backend: BackendSettings(), logs: LogSettings(dir: dir + "/logs"), agents: [agent])
        let placement = try worktrees.place(profile, agent)
        try worktrees.ensure(placement)
        FileManager.default.createFile(atPath: placement.record.path + "/a.txt", contents: Data("changed\n".utf8))

        let loop = EventLoop()
        defer { loop.close() }
        let cache = DiffCache()
        func open() throws -> DiffViewer {
            var changes = 0
            let viewer = DiffViewer(agent: "one", profile: "p", worktrees: worktrees, cache: cache, loop: loop) { changes += 1 }
            let deadline = LoopTimer(loop: loop)
            var expired = false
            deadline.start(seconds: 20) { expired = true }
            while changes == 0 && !expired { loop.runOnce() }
            deadline.close()
            XCTAssertFalse(expired, "the diff never arrived")
            return viewer
        }
        let first = try open()
        XCTAssertNil(first.state.note)
        XCTAssertEqual(first.state.document?.files.map(\.path), ["a.txt"])
        let cached = try XCTUnwrap(cache.entries["one"])

        // Opened again with nothing changed: shown at once from the cache, confirmed unchanged.
        let second = DiffViewer(agent: "one", profile: "p", worktrees: worktrees, cache: cache, loop: loop) {}
        XCTAssertEqual(second.state.document, cached.document, "drawn from the cache before git answers")
        XCTAssertEqual(second.state.note, "checking for changes…")
        second.close()

        // A change to the worktree changes its fingerprint: the diff is computed again.
        FileManager.default.createFile(atPath: placement.record.path + "/b.txt", contents: Data("b\n".utf8))
        let third = try open()
        XCTAssertEqual(third.state.document?.files.map(\.path), ["a.txt", "b.txt"])
        XCTAssertNotEqual(cache.entries["one"]?.fingerprint, cached.fingerprint)
    }
}
