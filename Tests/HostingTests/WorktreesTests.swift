import Foundation
import XCTest
import _TestSupport
@testable import Hosting
import Profile

/// Worktrees against real git repositories in temporary directories: made at `up`, reused,
/// committed to, diffed, merged (cleanly, with a conflict, into a dirty checkout) and removed.
final class WorktreesTests: XCTestCase {
    var dir: TemporaryDirectory!
    var repo: String!
    var worktrees: Worktrees!
    /// No global or system git configuration: the person's settings must not matter, and the
    /// commits supervisor makes must work without an identity configured.
    var env: [String: String] = [:]

    override func setUpWithError() throws {
        dir = TemporaryDirectory(prefix: "wt")
        repo = dir.path + "/repo"
        env = ProcessInfo.processInfo.environment
        env["GIT_CONFIG_GLOBAL"] = "/dev/null"
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        env["HOME"] = dir.path
        try FileManager.default.createDirectory(atPath: repo + "/src", withIntermediateDirectories: true)
        try git(repo, "init", "-q", "-b", "main")
        write("greeting.txt", "hello\n")
        write("src/keep.txt", "keep\n")
        try git(repo, "add", "-A")
        try git(repo, "commit", "-q", "-m", "first")
        worktrees = Worktrees(paths: SupervisorPaths(root: dir.path + "/home"), environment: env)
    }

    override func tearDown() { dir = nil }

    @discardableResult
    func git(_ at: String, _ args: String...) throws -> String {
        let r = try runSubprocess(["git", "-C", at, "-c", "user.name=t", "-c", "user.email=t@t"] + args, environment: env)
        guard r.succeeded else { throw GitError(arguments: args, message: r.errorOutput) }
        return r.output
    }

    func write(_ name: String, _ text: String, in root: String? = nil) {
        FileManager.default.createFile(atPath: (root ?? repo) + "/" + name, contents: Data(text.utf8))
    }

    func read(_ path: String) -> String? { FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } }

    func profile(_ agents: [AgentSpec]) -> Profile {
        Profile(name: "team", sourcePath: dir.path + "/team.toml", directory: dir.path, workdir: repo,
                llm: LLMSettings(), backend: BackendSettings(), logs: LogSettings(dir: dir.path + "/logs"), agents: agents)
    }

    func isolated(_ name: String, cwd: String? = nil, branch: String? = nil) -> AgentSpec {
        var a = AgentSpec(name: name, kind: .coder, cwd: cwd ?? repo)
        a.isolation = .worktree
        a.branch = branch
        a.line = 7
        return a
    }

    /// Places and makes one agent's worktree; returns its record.
    func make(_ agent: AgentSpec) throws -> WorktreeRecord {
        let placement = try worktrees.place(profile([agent]), agent)
        XCTAssertTrue(try worktrees.ensure(placement))
        return placement.record
    }

    /// Records are read and written by JSONCoding; one written by Foundation's JSONEncoder (as
    /// before: pretty, sorted, "/" escaped, a fractional time) still reads, and what JSONCoding
    /// writes reads back in Foundation.
    func testRecordsWrittenByFoundationStillLoad() throws {
        let record = WorktreeRecord(profile: "p", agent: "a/b", repository: "/r/x", path: "/s/w", branch: "supervisor/a",
                                    baseBranch: nil, baseCommit: "abc", createdAt: 1764898000.123456, mergedTip: "def")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let old = dir.file("old.json")
        FileManager.default.createFile(atPath: old, contents: try encoder.encode(record))
        XCTAssertEqual(try WorktreeRecord.read(path: old), record)
        let new = dir.file("new.json")
        try record.write(to: new)
        XCTAssertEqual(try JSONDecoder().decode(WorktreeRecord.self, from: Data(contentsOf: URL(fileURLWithPath: new))), record)
    }

    func testWorktreeIsMadeOnItsBranchOutsideTheRepositoryAndReused() throws {
        let agent = isolated("one", cwd: repo + "/src")
        let placement = try worktrees.place(profile([agent]), agent)
        XCTAssertFalse(placement.exists)
        XCTAssertEqual(placement.record.branch, "sv/team/one")
        XCTAssertEqual(placement.record.baseBranch, "main")
        XCTAssertEqual(placement.record.path, dir.path + "/home/profiles/team/worktrees/one")
        XCTAssertEqual(placement.cwd, placement.record.path + "/src", "the agent's cwd keeps its place in the tree")
        XCTAssertTrue(try worktrees.ensure(placement))
        XCTAssertEqual(read(placement.cwd + "/keep.txt"), "keep\n")
        XCTAssertEqual(try git(placement.record.path, "symbolic-ref", "--short", "HEAD"), "sv/team/one\n")
        XCTAssertEqual(try git(repo, "symbolic-ref", "--short", "HEAD"), "main\n", "the person's checkout stays on its branch")

        // Again (a restart, down/up): the same worktree, nothing new.
        let again = try worktrees.place(profile([agent]), agent)
        XCTAssertTrue(again.exists)
        XCTAssertEqual(again.record, placement.record)
        XCTAssertFalse(try worktrees.ensure(again))

        // Its directory removed by hand: made again on the same branch, with its commits.
        write("greeting.txt", "changed\n", in: placement.record.path)
        XCTAssertNotNil(try commitTurn(worktree: placement.record.path, agent: "one", message: "change", environment: env))
        try FileManager.default.removeItem(atPath: placement.record.path)
        let back = try worktrees.place(profile([agent]), agent)
        XCTAssertFalse(back.exists)
        XCTAssertFalse(try worktrees.ensure(back))
        XCTAssertEqual(read(placement.record.path + "/greeting.txt"), "changed\n")
    }

    func testErrorsNameWhatToFix() throws {
        let outside = dir.path + "/plain"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        let a = isolated("one", cwd: outside)
        XCTAssertThrowsError(try worktrees.place(profile([a]), a)) { error in
            XCTAssertTrue("\(error)".hasPrefix(self.dir.path + "/team.toml:7:1: agent \"one\": isolation = \"worktree\" needs a git repository"), "\(error)")
        }
        try git(repo, "branch", "theirs")
        let taken = isolated("one", branch: "theirs")
        XCTAssertThrowsError(try worktrees.place(profile([taken]), taken)) { error in
            XCTAssertTrue("\(error)".contains("branch \"theirs\" already exists"), "\(error)")
        }
        var badBase = isolated("one")
        badBase.base = "nope"
        XCTAssertThrowsError(try worktrees.place(profile([badBase]), badBase)) { error in
            XCTAssertTrue("\(error)".contains("base \"nope\" does not name a commit"), "\(error)")
        }
        // Once made, the record says the branch is ours; another name in the profile is an error.
        _ = try make(isolated("one"))
        let renamed = isolated("one", branch: "other")
        XCTAssertThrowsError(try worktrees.place(profile([renamed]), renamed)) { error in
            XCTAssertTrue("\(error)".contains("is on branch \"sv/team/one\", but the profile now says \"other\""), "\(error)")
        }
        let elsewhere = dir.path + "/other"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        _ = try runSubprocess(["git", "-C", elsewhere, "init", "-q"], environment: env)
        let moved = isolated("one", cwd: elsewhere)
        XCTAssertThrowsError(try worktrees.place(profile([moved]), moved)) { error in
            XCTAssertTrue("\(error)".contains("belongs to the repository \(self.repo!), but its cwd is now in \(elsewhere)"), "\(error)")
        }
    }

    func testCommitTurnCommitsEverythingWithTheAgentTrailer() throws {
        let r = try make(isolated("one"))
        XCTAssertNil(try commitTurn(worktree: r.path, agent: "one", message: "nothing", environment: env), "no change, no commit")
        write("greeting.txt", "hi\n", in: r.path)
        write("new.txt", "new\n", in: r.path)
        let sha = try XCTUnwrap(try commitTurn(worktree: r.path, agent: "one", message: "Say hi\nand more", environment: env))
        XCTAssertEqual(try git(r.path, "log", "-1", "--format=%H%n%B", sha), "\(sha)\nSay hi\n\nSupervisor-Agent: one\n\n")
        XCTAssertEqual(try git(r.path, "status", "--porcelain"), "")
        XCTAssertEqual(try git(repo, "log", "--format=%s", "main"), "first\n", "main is untouched")
    }

    func testDiffShowsCommittedUncommittedAndNewFiles() throws {
        let r = try make(isolated("one"))
        write("greeting.txt", "committed\n", in: r.path)
        try commitTurn(worktree: r.path, agent: "one", message: "c", environment: env)
        write("src/keep.txt", "uncommitted\n", in: r.path)
        write("brand-new.txt", "new\n", in: r.path)
        let diff = try worktrees.diff(r, stat: false, againstBaseTip: false, color: false)
        for fragment in ["+committed", "+uncommitted", "+++ b/brand-new.txt", "+new"] {
            XCTAssertTrue(diff.contains(fragment), "lacks \(fragment): \(diff)")
        }
        let stat = try worktrees.diff(r, stat: true, againstBaseTip: false, color: false)
        XCTAssertTrue(stat.contains("greeting.txt") && stat.contains("src/keep.txt") && !stat.contains("+committed"), stat)
        // The base moving on shows only with --base.
        write("later.txt", "on main\n")
        try git(repo, "add", "later.txt")
        try git(repo, "commit", "-q", "-m", "later")
        XCTAssertFalse(try worktrees.diff(r, stat: true, againstBaseTip: false, color: false).contains("later.txt"))
        XCTAssertTrue(try worktrees.diff(r, stat: true, againstBaseTip: true, color: false).contains("later.txt"))
    }

    func testMergeThenConflictChangesNothing() throws {
        let one = try make(isolated("one")), two = try make(isolated("two"))
        write("greeting.txt", "hello from one\n", in: one.path)
        try commitTurn(worktree: one.path, agent: "one", message: "one", environment: env)
        write("greeting.txt", "hello from two\n", in: two.path)
        try commitTurn(worktree: two.path, agent: "two", message: "two", environment: env)
        write("notes.txt", "the person's own work\n") // untracked, unrelated: must survive

        let outcome = try worktrees.merge(one, mode: .merge, into: nil)
        guard case .merged(let target, let commit, let checkout) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(target, "main")
        XCTAssertEqual(checkout, repo, "main is checked out in the repository: fast-forwarded there")
        XCTAssertEqual(try git(repo, "rev-parse", "main"), commit + "\n")
        XCTAssertEqual(read(repo + "/greeting.txt"), "hello from one\n")
        XCTAssertEqual(read(repo + "/notes.txt"), "the person's own work\n")
        XCTAssertTrue(worktrees.status(try worktrees.requireRecord(profile: "team", agent: "one")).merged)
        XCTAssertEqual(try worktrees.merge(one, mode: .merge, into: nil), .upToDate(target: "main"))

        let before = try git(repo, "rev-parse", "main", "sv/team/two")
        let worktreeList = try git(repo, "worktree", "list")
        XCTAssertThrowsError(try worktrees.merge(two, mode: .merge, into: nil)) { error in
            XCTAssertEqual((error as? MergeConflict)?.files, ["greeting.txt"], "\(error)")
        }
        XCTAssertEqual(try git(repo, "rev-parse", "main", "sv/team/two"), before)
        XCTAssertEqual(try git(repo, "worktree", "list"), worktreeList, "no scratch worktree left")
        XCTAssertEqual(try git(repo, "status", "--porcelain"), "?? notes.txt\n")
        XCTAssertEqual(read(repo + "/greeting.txt"), "hello from one\n")
        XCTAssertFalse(worktrees.status(two).merged)
    }

    func testMergeRefusedWhenItWouldOverwriteUncommittedChanges() throws {
        let one = try make(isolated("one"))
        write("greeting.txt", "agent\n", in: one.path)
        try commitTurn(worktree: one.path, agent: "one", message: "one", environment: env)
        write("greeting.txt", "person, uncommitted\n")
        let before = try git(repo, "rev-parse", "main")
        XCTAssertThrowsError(try worktrees.merge(one, mode: .merge, into: nil)) { error in
            XCTAssertTrue("\(error)".contains("uncommitted changes the merge would overwrite: greeting.txt"), "\(error)")
        }
        XCTAssertEqual(try git(repo, "rev-parse", "main"), before)
        XCTAssertEqual(read(repo + "/greeting.txt"), "person, uncommitted\n")
    }

    func testSquashAndRebaseIntoABranchNobodyHasCheckedOut() throws {
        try git(repo, "branch", "integration")
        let one = try make(isolated("one")), two = try make(isolated("two"))
        for (i, text) in ["a\n", "b\n"].enumerated() {
            write("one-\(i).txt", text, in: one.path)
            try commitTurn(worktree: one.path, agent: "one", message: "step \(i)", environment: env)
        }
        write("two.txt", "two\n", in: two.path)
        try commitTurn(worktree: two.path, agent: "two", message: "two's work", environment: env)
        guard case .merged(_, _, let checkout) = try worktrees.merge(one, mode: .squash, into: "integration") else { return XCTFail() }
        XCTAssertNil(checkout)
        XCTAssertEqual(try git(repo, "log", "--format=%s", "integration"), "sv/team/one: squashed 2 commits of agent one\nfirst\n")
        XCTAssertTrue(worktrees.status(try worktrees.requireRecord(profile: "team", agent: "one")).merged, "a squash counts as merged")
        _ = try worktrees.merge(two, mode: .rebase, into: "integration")
        XCTAssertEqual(try git(repo, "log", "--format=%s", "integration"),
                       "two's work\nsv/team/one: squashed 2 commits of agent one\nfirst\n", "linear history")
        XCTAssertEqual(try git(repo, "log", "--format=%s", "main"), "first\n")
        XCTAssertEqual(read(repo + "/greeting.txt"), "hello\n")
    }

    func testRemoveNeedsForceForUnmergedOrUncommittedWork() throws {
        let one = try make(isolated("one")), two = try make(isolated("two"))
        write("x.txt", "x\n", in: one.path)
        try commitTurn(worktree: one.path, agent: "one", message: "x", environment: env)
        XCTAssertThrowsError(try worktrees.remove(one, force: false)) { error in
            XCTAssertTrue("\(error)".contains("has 1 commit not merged into main"), "\(error)")
        }
        write("y.txt", "y\n", in: two.path) // uncommitted only
        XCTAssertThrowsError(try worktrees.remove(two, force: false)) { error in
            XCTAssertTrue("\(error)".contains("has 1 uncommitted file"), "\(error)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: one.path + "/x.txt"))
        XCTAssertEqual(try worktrees.remove(one, force: true).last, "kept branch sv/team/one (1 unmerged commit; delete it with git branch -D sv/team/one)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: one.path))
        XCTAssertNotNil(worktrees.git.commit(repo, "sv/team/one"), "forced removal keeps the commits reachable")
        try FileManager.default.removeItem(atPath: two.path + "/y.txt")
        XCTAssertEqual(try worktrees.remove(two, force: false), ["removed worktree \(two.path)", "deleted merged branch sv/team/two"])
        XCTAssertTrue(worktrees.records(profile: "team").isEmpty)
        XCTAssertEqual(try git(repo, "worktree", "list").split(separator: "\n").count, 1)
    }

    /// A failed `up` takes back the worktrees it made, but never one an agent already wrote to.
    func testDiscardNewKeepsWork() throws {
        let untouched = try make(isolated("one")), used = try make(isolated("two"))
        write("work.txt", "agent's work\n", in: used.path)
        worktrees.discardNew(untouched)
        worktrees.discardNew(used)
        XCTAssertFalse(FileManager.default.fileExists(atPath: untouched.path))
        XCTAssertNil(worktrees.git.commit(repo, "refs/heads/sv/team/one"))
        XCTAssertEqual(worktrees.records(profile: "team").map(\.agent), ["two"])
        XCTAssertEqual(read(used.path + "/work.txt"), "agent's work\n")
    }

    /// `Launcher.isolate`: only isolated agents move into worktrees (made with `create` only), and
    /// on the Docker backend the worktree is what the container mounts as its workspace.
    func testLauncherMovesIsolatedAgentsIntoTheirWorktrees() throws {
        let launcher = Launcher(paths: worktrees.paths, environment: env, shimCommand: ["shim"], tmuxConfig: nil)
        var docker = isolated("one", cwd: repo + "/src")
        docker.backend.type = .docker
        docker.backend.image = "img"
        let plain = AgentSpec(name: "plain", kind: .command, cwd: repo)
        let p = profile([docker, plain])
        let checked = try launcher.isolate(p, create: false)
        XCTAssertEqual(checked.profile.agents.map(\.cwd), [worktrees.paths.worktreeDir(profile: "team", agent: "one") + "/src", repo])
        XCTAssertTrue(checked.made.isEmpty)
        XCTAssertFalse(FileManager.default.fileExists(atPath: worktrees.paths.worktreesDir(profile: "team")), "validate makes nothing")
        let made = try launcher.isolate(p, create: true)
        XCTAssertEqual(made.made.map(\.agent), ["one"])
        XCTAssertEqual(read(made.profile.agents[0].cwd + "/keep.txt"), "keep\n")
        let container = ContainerSpec.make(profile: made.profile, agent: made.profile.agents[0], home: dir.path, dockerExecutable: "docker")
        XCTAssertEqual(container.mounts.first?.host, made.profile.agents[0].cwd)
        XCTAssertTrue(try launcher.isolate(p, create: true).made.isEmpty, "the second time reuses it")
    }
}
