import AgentHost
import Loop
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A failed git command: what ran (argv, no secrets: git's arguments are refs and paths) and
/// what git said.
public struct GitError: Error, CustomStringConvertible {
    public var arguments: [String]
    public var message: String
    public var description: String {
        "git \(arguments.joined(separator: " ")) failed: \(message)"
    }
}

/// git through its command-line interface, always from argv arrays (never a shell string), in
/// a given directory, with a stable environment: C locale (parseable messages), no terminal
/// prompts, none of the caller's GIT_DIR-style overrides and no secrets.
public struct Git: Sendable {
    public let executable: String
    public let environment: [String: String]

    public init(environment: [String: String]) {
        executable = resolveExecutable("git", path: environment["PATH"]) ?? "git"
        var env = environment.filter { key, _ in
            !Secrets.isSecretName(key) && !["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                                             "GIT_COMMON_DIR", "GIT_PREFIX"].contains(key)
        }
        env["LC_ALL"] = "C"
        env["GIT_TERMINAL_PROMPT"] = "0"
        env["GIT_EDITOR"] = "true"
        env["GIT_MERGE_AUTOEDIT"] = "no"
        self.environment = env
    }

    /// Runs `git -C DIR ARGS` to completion; any exit status.
    public func run(_ directory: String, _ arguments: [String], extraEnvironment: [String: String] = [:]) throws -> SubprocessResult {
        let env = extraEnvironment.isEmpty ? environment : environment.merging(extraEnvironment) { _, new in new }
        do {
            return try runSubprocess([executable, "-C", directory] + arguments, environment: env)
        } catch {
            throw GitError(arguments: arguments, message: "cannot run git (\(executable)): \(error)")
        }
    }

    /// Standard output of a command that must succeed.
    @discardableResult
    public func output(_ directory: String, _ arguments: [String], extraEnvironment: [String: String] = [:]) throws -> String {
        let result = try run(directory, arguments, extraEnvironment: extraEnvironment)
        guard result.succeeded else { throw GitError(arguments: arguments, message: Self.reason(result)) }
        return result.output
    }

    /// Whether a command exits 0 (`merge-base --is-ancestor`, `rev-parse --verify`).
    public func succeeds(_ directory: String, _ arguments: [String]) -> Bool {
        (try? run(directory, arguments).succeeded) ?? false
    }

    /// The single line of output of a command that must succeed.
    public func line(_ directory: String, _ arguments: [String]) throws -> String {
        String(try output(directory, arguments).split(separator: "\n").first ?? "")
    }

    /// The commit a revision names, or nil.
    public func commit(_ directory: String, _ revision: String) -> String? {
        guard let r = try? run(directory, ["rev-parse", "--verify", "--quiet", "--end-of-options", revision + "^{commit}"]),
              r.succeeded else { return nil }
        let sha = String(r.output.split(separator: "\n").first ?? "")
        return sha.isEmpty ? nil : sha
    }

    public func branchExists(_ directory: String, _ branch: String) -> Bool {
        succeeds(directory, ["show-ref", "--verify", "--quiet", "refs/heads/" + branch])
    }

    /// `git status` of a work tree, untracked files listed one by one.
    public func status(_ directory: String) throws -> [GitStatusEntry] {
        GitParsing.status(try output(directory, ["status", "--porcelain=v1", "-z", "--untracked-files=all"]))
    }

    /// The commit author and committer when the repository has no identity configured (a
    /// fresh machine, a test): commits must not fail for want of `user.email`.
    public func identityFallback(_ directory: String) -> [String: String] {
        if succeeds(directory, ["config", "--get", "user.email"]) { return [:] }
        return ["GIT_AUTHOR_NAME": "supervisor", "GIT_AUTHOR_EMAIL": "supervisor@localhost",
                "GIT_COMMITTER_NAME": "supervisor", "GIT_COMMITTER_EMAIL": "supervisor@localhost"]
    }

    static func reason(_ result: SubprocessResult) -> String {
        let text = (result.errorOutput.isEmpty ? result.output : result.errorOutput)
        let lines = text.split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("hint:") }
        return lines.isEmpty ? "\(result.exit)" : lines.joined(separator: "; ")
    }
}
