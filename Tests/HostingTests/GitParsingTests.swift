import XCTest
@testable import Hosting

/// The pure half of the worktree feature: git's porcelain outputs and the merge decisions.
final class GitParsingTests: XCTestCase {
    func testStatusPorcelainZ() {
        let out = " M a.txt\0?? new dir/b.txt\0R  new.txt\0old.txt\0UU both.txt\0!! ignored.o\0"
        let entries = GitParsing.status(out)
        XCTAssertEqual(entries, [
            GitStatusEntry(code: " M", path: "a.txt"),
            GitStatusEntry(code: "??", path: "new dir/b.txt"),
            GitStatusEntry(code: "R ", path: "new.txt", from: "old.txt"),
            GitStatusEntry(code: "UU", path: "both.txt"),
            GitStatusEntry(code: "!!", path: "ignored.o"),
        ])
        XCTAssertEqual(entries.map(\.isUntracked), [false, true, false, false, false])
        XCTAssertEqual(entries.map(\.isConflicted), [false, false, false, true, false])
        XCTAssertTrue(GitParsing.status("").isEmpty)
    }

    func testWorktreeListPorcelain() {
        let out = """
        worktree /repo
        HEAD 1111111111111111111111111111111111111111
        branch refs/heads/main

        worktree /state/wt/a
        HEAD 2222222222222222222222222222222222222222
        branch refs/heads/sv/p/a

        worktree /tmp/scratch
        HEAD 3333333333333333333333333333333333333333
        detached
        prunable gitdir file points to non-existent location

        """
        let w = GitParsing.worktrees(out)
        XCTAssertEqual(w.map(\.path), ["/repo", "/state/wt/a", "/tmp/scratch"])
        XCTAssertEqual(w.map(\.branch), ["main", "sv/p/a", nil])
        XCTAssertEqual(w.map(\.prunable), [false, false, true])
        XCTAssertEqual(w[1].head, "2222222222222222222222222222222222222222")
    }

    func testAheadBehind() {
        let r = GitParsing.aheadBehind("2\t5\n")
        XCTAssertEqual(r?.behind, 2)
        XCTAssertEqual(r?.ahead, 5)
        XCTAssertNil(GitParsing.aheadBehind("fatal"))
    }

    func testTurnCommitMessage() {
        XCTAssertEqual(GitParsing.turnCommitMessage(intent: "\n  Write a greeting program  \nmore details", agent: "coder"),
                       "Write a greeting program\n\nSupervisor-Agent: coder\n")
        XCTAssertEqual(GitParsing.turnCommitMessage(intent: " \n", agent: "c"), "Changes by agent c\n\nSupervisor-Agent: c\n")
        let long = GitParsing.turnCommitMessage(intent: String(repeating: "x", count: 100), agent: "c")
        XCTAssertEqual(long.split(separator: "\n")[0].count, 72)
        XCTAssertTrue(long.hasPrefix(String(repeating: "x", count: 69) + "..."))
    }

    func testMergePlan() {
        XCTAssertEqual(MergePlan.decide(checkout: nil, changedByMerge: ["a"], dirtyInCheckout: []), .updateRef)
        // Uncommitted changes elsewhere do not stop a fast-forward of the checkout.
        let unrelated = [GitStatusEntry(code: " M", path: "notes.txt"), GitStatusEntry(code: "??", path: "scratch/")]
        XCTAssertEqual(MergePlan.decide(checkout: "/repo", changedByMerge: ["src/a.swift"], dirtyInCheckout: unrelated),
                       .fastForwardCheckout(path: "/repo"))
        // A modified file, an untracked file the merge would create, a file in an untracked directory.
        let dirty = [GitStatusEntry(code: " M", path: "a.txt"), GitStatusEntry(code: "??", path: "new.txt"),
                     GitStatusEntry(code: "??", path: "gen/"), GitStatusEntry(code: "!!", path: "b.txt")]
        XCTAssertEqual(MergePlan.decide(checkout: "/repo", changedByMerge: ["a.txt", "new.txt", "gen/x.c", "b.txt"],
                                        dirtyInCheckout: dirty),
                       .refuse(path: "/repo", files: ["a.txt", "gen/", "new.txt"]))
    }
}
