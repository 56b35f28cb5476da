import XCTest
@testable import Profile

/// `isolation`, `branch`, `base` and `autocommit`: read into the model, and every mistake an
/// error at its key's or value's position.
final class IsolationKeysTests: XCTestCase {
    let coder = """
    name = "team"
    [llm]
    provider = "script"
    script = "s.script"

    [[agents]]
    name = "one"
    kind = "coder"
    """

    func load(_ text: String) throws -> Profile { try ProfileLoader.parse(text: text, path: "/p/team.toml") }

    func error(_ text: String) -> ProfileError? {
        do { _ = try load(text); return nil } catch let e as ProfileError { return e } catch { return nil }
    }

    func testKeysAreRead() throws {
        let p = try load(coder + "\nisolation = \"worktree\"\nbranch = \"feature/one\"\nbase = \"main~1\"\nautocommit = true\n")
        let a = try XCTUnwrap(p.agent(named: "one"))
        XCTAssertEqual(a.isolation, .worktree)
        XCTAssertEqual(a.branch, "feature/one")
        XCTAssertEqual(a.base, "main~1")
        XCTAssertTrue(a.autocommit)
        let plain = try XCTUnwrap(try load(coder).agent(named: "one"))
        XCTAssertEqual(plain.isolation, .none)
        XCTAssertNil(plain.branch)
        XCTAssertFalse(plain.autocommit)
    }

    func testCommandAgentsMayBeIsolatedButNotAutocommit() throws {
        let command = "[[agents]]\nname = \"c\"\nkind = \"command\"\ncommand = [\"true\"]\nisolation = \"worktree\"\n"
        XCTAssertEqual(try load(command).agents[0].isolation, .worktree)
        let e = try XCTUnwrap(error(command + "autocommit = true\n"))
        XCTAssertEqual(e.line, 6)
        XCTAssertTrue(e.message.contains(#"key "autocommit" does not apply to kind "command""#), e.message)
    }

    func testBadValuesPointAtThem() throws {
        let bad = try XCTUnwrap(error(coder + "\nisolation = \"worktree\"\nbranch = \"a..b\"\n"))
        XCTAssertEqual([bad.line, bad.column], [10, 10])
        XCTAssertTrue(bad.message.contains(#"invalid branch name "a..b": must not contain "..""#), bad.message)
        let option = try XCTUnwrap(error(coder + "\nisolation = \"worktree\"\nbase = \"--upload-pack=x\"\n"))
        XCTAssertEqual([option.line, option.column], [10, 8])
        XCTAssertTrue(option.message.contains("must not start with '-'"), option.message)
        let kind = try XCTUnwrap(error(coder + "\nisolation = \"container\"\n"))
        XCTAssertTrue(kind.message.contains(#"unknown isolation "container""#), kind.message)
    }

    func testWorktreeKeysNeedIsolation() throws {
        let e = try XCTUnwrap(error(coder + "\nautocommit = true\n"))
        XCTAssertEqual([e.line, e.column], [9, 1])
        XCTAssertTrue(e.message.contains(#"key "autocommit" needs isolation = "worktree""#), e.message)
        XCTAssertNotNil(error(coder + "\nbranch = \"x\"\n"))
    }

    func testTwoAgentsOnOneBranchIsAnError() throws {
        let two = coder + "\nisolation = \"worktree\"\nbranch = \"shared\"\n\n[[agents]]\nname = \"two\"\nkind = \"coder\"\nisolation = \"worktree\"\nbranch = \"shared\"\n"
        let e = try XCTUnwrap(error(two))
        XCTAssertEqual(e.line, 16)
        XCTAssertTrue(e.message.contains(#"agent "two" would use branch "shared", which agent "one" uses already"#), e.message)
        // The default names differ per agent, and one explicit name may equal another's default.
        let defaults = coder + "\nisolation = \"worktree\"\n\n[[agents]]\nname = \"two\"\nkind = \"coder\"\nisolation = \"worktree\"\n"
        XCTAssertNoThrow(try load(defaults))
        XCTAssertNotNil(error(defaults + "branch = \"sv/team/one\"\n"))
    }

    func testBranchNameRules() {
        for good in ["main", "sv/team/coder", "feature-1.2", "a_b"] { XCTAssertNil(GitNames.branchProblem(good), good) }
        for bad in ["", "-x", "/a", "a/", "a.", "a..b", "a//b", "a@{1}", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[b", "a\\b", ".a", "a/.b", "a.lock", "HEAD", "@"] {
            XCTAssertNotNil(GitNames.branchProblem(bad), bad)
        }
        XCTAssertEqual(GitNames.defaultBranch(profile: "p", agent: "a"), "sv/p/a")
    }
}
