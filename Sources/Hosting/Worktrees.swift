import AgentHost
import AgentProtocol
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Profile

/// What supervisor knows about one isolated agent's worktree, kept next to it in the profile's
/// state directory (`worktrees/<agent>.json`): which repository and branch it belongs to and
/// where it started, so `diff`, `merge`, `worktrees` and `cleanup.sh` work after `down` too,
/// and so a branch is only ever called "ours" when this record says so.
public struct WorktreeRecord: Codable, Equatable, Sendable {
    /// The trailer of autocommits: `Supervisor-Agent: NAME`.
    public static let agentTrailer = "Supervisor-Agent"

    public var profile: String
    public var agent: String
    /// Top level of the checkout the profile's workdir is in (the person's checkout).
    public var repository: String
    /// The worktree (under the profile's state directory).
    public var path: String
    public var branch: String
    /// The branch it started from, when it started from one (merges go there by default).
    public var baseBranch: String?
    /// The commit it started from.
    public var baseCommit: String
    public var createdAt: Double
    /// The agent branch's tip when `supervisor merge` last brought it in (a squash or rebase
    /// leaves no ancestry to see that by).
    public var mergedTip: String?

    public static func read(path: String) throws -> WorktreeRecord {
        guard let data = FileManager.default.contents(atPath: path) else { throw HostingError("no worktree record at \(path)") }
        do { return try JSONCoding.decode(WorktreeRecord.self, from: Array(data)) } catch {
            throw HostingError("worktree record \(path) is damaged (\(error))")
        }
    }

    public func write(to path: String) throws {
        try writeFileAtomically(path: path, data: try JSONCoding.encodeBytes(self, pretty: true, sortedKeys: true), mode: 0o600)
    }
}

/// One worktree's state for `supervisor worktrees list` and the merge/remove checks.
public struct WorktreeStatus: Sendable {
    public var record: WorktreeRecord
    public var exists: Bool
    /// The agent branch's tip (nil: the branch is gone).
    public var head: String?
    /// Commits on the agent branch that the base lacks, and the other way round.
    public var ahead: Int
    public var behind: Int
    public var uncommitted: [GitStatusEntry]
    public var bytes: Int64
    /// Everything committed on the branch is in the base (or was merged by `supervisor merge`).
    public var merged: Bool
    public var clean: Bool { uncommitted.isEmpty }
}

public enum MergeMode: String, Sendable { case merge, squash, rebase }

public enum MergeOutcome: Equatable, Sendable {
    case upToDate(target: String)
    /// `checkout`: the work tree whose files were fast-forwarded with the target (nil: none has it checked out).
    case merged(target: String, commit: String, checkout: String?)
}

/// The merge stopped on conflicting files; nothing was changed.
public struct MergeConflict: Error, CustomStringConvertible {
    public var target: String
    public var files: [String]
    public var description: String {
        "merging into \(target) conflicts in \(files.count) file\(files.count == 1 ? "" : "s"): \(files.joined(separator: ", ")); nothing was changed"
    }
}

/// Isolated agents' git worktrees: made at `up`, kept by `down`, reviewed, merged and removed
/// by the CLI. All git work goes through `Git` (argv arrays); the decisions are `GitParsing`'s
/// and `MergePlan`'s pure functions.
public struct Worktrees {
    public let paths: SupervisorPaths
    public let git: Git

    public init(paths: SupervisorPaths, environment: [String: String]) {
        self.paths = paths
        self.git = Git(environment: environment)
    }

    // MARK: Records

    public func record(profile: String, agent: String) -> WorktreeRecord? {
        try? WorktreeRecord.read(path: paths.worktreeRecordFile(profile: profile, agent: agent))
    }

    /// Every worktree record of a profile, by agent name.
    public func records(profile: String) -> [WorktreeRecord] {
        let dir = paths.worktreesDir(profile: profile)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return names.compactMap { try? WorktreeRecord.read(path: dir + "/" + $0) }
    }

    /// The record of one agent, or an error naming the agents that have one.
    public func requireRecord(profile: String, agent: String) throws -> WorktreeRecord {
        if let r = record(profile: profile, agent: agent) { return r }
        let known = records(profile: profile).map(\.agent)
        throw HostingError("agent \"\(agent)\" of profile \(profile) has no worktree"
            + (known.isEmpty ? " (no agent of this profile has isolation = \"worktree\", or it was never up)" : " (worktrees: \(known.joined(separator: ", ")))"))
    }

    // MARK: Up

    /// Where an isolated agent works, what its worktree is, and whether it exists yet. Read-only:
    /// `validate` and `up`'s checks use it; `ensure` makes the worktree.
    public struct Placement {
        public var record: WorktreeRecord
        /// The agent's working directory inside the worktree (its `cwd`, mapped).
        public var cwd: String
        public var exists: Bool
    }

    public func place(_ profile: Profile, _ agent: AgentSpec) throws -> Placement {
        func fail(_ message: String) -> HostingError {
            HostingError("\(profile.sourcePath):\(agent.line):1: agent \"\(agent.name)\": \(message)")
        }
        let path = paths.worktreeDir(profile: profile.name, agent: agent.name)
        let wanted = agent.branch ?? GitNames.defaultBranch(profile: profile.name, agent: agent.name)
        guard isDirectory(agent.cwd) else { throw fail("working directory \(agent.cwd) does not exist") }
        guard let top = try? git.line(agent.cwd, ["rev-parse", "--show-toplevel"]), !top.isEmpty else {
            throw fail("isolation = \"worktree\" needs a git repository, and \(agent.cwd) is not inside one (run `git init` there, or set workdir)")
        }
        let prefix = (try? git.line(agent.cwd, ["rev-parse", "--show-prefix"])) ?? ""
        let cwd = prefix.isEmpty ? path : path + "/" + String(prefix.hasSuffix("/") ? prefix.dropLast() : prefix[...])
        if let existing = record(profile: profile.name, agent: agent.name) {
            guard existing.repository == top else {
                throw fail("its worktree \(existing.path) belongs to the repository \(existing.repository), but its cwd is now in \(top); "
                    + "merge or remove it first (supervisor worktrees remove \(profile.name) \(agent.name))")
            }
            guard existing.branch == wanted else {
                throw fail("its worktree \(existing.path) is on branch \"\(existing.branch)\", but the profile now says \"\(wanted)\"; "
                    + "merge or remove it first (supervisor worktrees remove \(profile.name) \(agent.name))")
            }
            return Placement(record: existing, cwd: cwd, exists: isDirectory(path) && access(path + "/.git", F_OK) == 0)
        }
        if git.branchExists(top, wanted) {
            throw fail("branch \"\(wanted)\" already exists in \(top) and is not this agent's worktree branch; "
                + "set branch = \"...\" to a new name, or delete that branch")
        }
        var baseBranch: String?
        let baseCommit: String
        if let base = agent.base {
            guard let c = git.commit(top, base) else { throw fail("base \"\(base)\" does not name a commit in \(top)") }
            baseCommit = c
            baseBranch = git.branchExists(top, base) ? base : nil
        } else {
            guard let c = git.commit(top, "HEAD") else {
                throw fail("the repository \(top) has no commits yet; commit something first (a worktree starts from a commit)")
            }
            baseCommit = c
            if let r = try? git.run(top, ["symbolic-ref", "--quiet", "--short", "HEAD"]), r.succeeded {
                baseBranch = String(r.output.split(separator: "\n").first ?? "")
            }
        }
        let record = WorktreeRecord(profile: profile.name, agent: agent.name, repository: top, path: path, branch: wanted,
                                    baseBranch: baseBranch, baseCommit: baseCommit, createdAt: Date().timeIntervalSince1970)
        return Placement(record: record, cwd: cwd, exists: false)
    }

    /// Makes the worktree of a placement unless it exists; re-adds it when its directory went
    /// missing but its branch is still there. Returns true when it made a new branch.
    @discardableResult
    public func ensure(_ placement: Placement) throws -> Bool {
        let r = placement.record
        if placement.exists { return false }
        try makeDirectories(paths.worktreesDir(profile: r.profile))
        if git.branchExists(r.repository, r.branch), access(paths.worktreeRecordFile(profile: r.profile, agent: r.agent), F_OK) == 0 {
            // Ours, but its directory is gone (removed by hand): bring it back on the same branch.
            try git.output(r.repository, ["worktree", "prune"])
            try git.output(r.repository, ["worktree", "add", r.path, r.branch])
            return false
        }
        try git.output(r.repository, ["worktree", "add", "-b", r.branch, r.path, r.baseCommit])
        do { try r.write(to: paths.worktreeRecordFile(profile: r.profile, agent: r.agent)) } catch {
            _ = try? git.run(r.repository, ["worktree", "remove", "--force", r.path])
            _ = try? git.run(r.repository, ["branch", "-D", r.branch])
            throw error
        }
        return true
    }

    /// Undoes `ensure` of a worktree made by a failed `up`, unless an agent that started
    /// meanwhile already put work in it (then it stays, as any worktree does).
    public func discardNew(_ record: WorktreeRecord) {
        let s = status(record)
        guard s.clean, s.head == nil || s.head == record.baseCommit else { return }
        _ = try? git.run(record.repository, ["worktree", "remove", "--force", record.path])
        _ = try? git.run(record.repository, ["branch", "-D", record.branch])
        unlink(paths.worktreeRecordFile(profile: record.profile, agent: record.agent))
    }

    // MARK: Review

    /// The base's tip now: its branch if it still exists, else the commit it started from.
    func baseTip(_ r: WorktreeRecord) -> String {
        r.baseBranch.flatMap { git.commit(r.repository, "refs/heads/" + $0) } ?? r.baseCommit
    }

    public func status(_ r: WorktreeRecord) -> WorktreeStatus {
        let exists = isDirectory(r.path)
        let head = git.commit(r.repository, "refs/heads/" + r.branch)
        let base = baseTip(r)
        var ahead = 0, behind = 0
        if let head, let counts = (try? git.output(r.repository, ["rev-list", "--left-right", "--count", "\(base)...\(head)"]))
            .flatMap(GitParsing.aheadBehind) {
            ahead = counts.ahead; behind = counts.behind
        }
        let uncommitted = exists ? ((try? git.status(r.path)) ?? []).filter { !$0.isIgnored } : []
        let merged = head.map { $0 == r.mergedTip || git.succeeds(r.repository, ["merge-base", "--is-ancestor", $0, base]) } ?? true
        return WorktreeStatus(record: r, exists: exists, head: head, ahead: ahead, behind: behind, uncommitted: uncommitted,
                              bytes: exists ? Self.diskUsage(r.path) : 0, merged: merged)
    }

    /// The agent's changes, committed and not: against where its branch left the base (the
    /// merge base), or with `againstBaseTip` against the base's tip now. Untracked files are
    /// shown as new files.
    public func diff(_ r: WorktreeRecord, stat: Bool, againstBaseTip: Bool, color: Bool) throws -> String {
        let base = baseTip(r)
        let head = git.commit(r.repository, "refs/heads/" + r.branch) ?? r.baseCommit
        let from = againstBaseTip ? base : ((try? git.line(r.repository, ["merge-base", base, head])) ?? r.baseCommit)
        let options = [color ? "--color=always" : "--no-color"] + (stat ? ["--stat"] : [])
        guard isDirectory(r.path) else {
            return try git.output(r.repository, ["diff"] + options + [from, head])
        }
        var out = try git.output(r.path, ["diff"] + options + [from])
        for entry in try git.status(r.path) where entry.isUntracked {
            // `--no-index` exits 1 when the files differ, which a new file always does.
            let result = try git.run(r.path, ["diff", "--no-index"] + options + ["--", "/dev/null", entry.path])
            out += result.output
        }
        return out
    }

    /// Changes whenever the diff could: the branch tip, and each changed file's status, size
    /// and modification time. Cheap (one `git status`, a stat per changed file), so a view can
    /// keep a diff and recompute it only when this differs.
    public func fingerprint(_ r: WorktreeRecord) -> String {
        var parts = [git.commit(r.repository, "refs/heads/" + r.branch) ?? "-", baseTip(r)]
        for entry in (try? git.status(r.path)) ?? [] {
            var st = stat()
            let known = lstat(r.path + "/" + entry.path, &st) == 0
            parts.append("\(entry.code)\u{0}\(entry.path)\u{0}" + (known ? "\(st.st_size).\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)" : "gone"))
        }
        return parts.joined(separator: "\n")
    }

    // MARK: Merge

    /// Brings the agent's branch into `into` (default: its base branch) in a temporary
    /// worktree, then moves the target: by `update-ref` when no work tree has it checked out,
    /// else by a fast-forward of that checkout (its unrelated uncommitted changes stay).
    /// A conflict, or uncommitted changes the merge would overwrite, change nothing.
    public func merge(_ r: WorktreeRecord, mode: MergeMode, into: String?) throws -> MergeOutcome {
        guard let target = into ?? r.baseBranch else {
            throw HostingError("agent \"\(r.agent)\" started from commit \(r.baseCommit.prefix(12)), not a branch; name the branch to merge into with --into BRANCH")
        }
        if let problem = GitNames.branchProblem(target) { throw HostingError("--into \(target): \(problem)") }
        guard let oldTip = git.commit(r.repository, "refs/heads/" + target) else {
            throw HostingError("branch \"\(target)\" does not exist in \(r.repository)")
        }
        guard let agentTip = git.commit(r.repository, "refs/heads/" + r.branch) else {
            throw HostingError("the agent's branch \"\(r.branch)\" no longer exists in \(r.repository)")
        }
        if git.succeeds(r.repository, ["merge-base", "--is-ancestor", agentTip, oldTip]) { return .upToDate(target: target) }

        let scratch = paths.worktreesDir(profile: r.profile) + "/.merge-" + r.agent
        removeScratch(r.repository, scratch)
        try git.output(r.repository, ["worktree", "add", "--detach", scratch, mode == .rebase ? agentTip : oldTip])
        defer { removeScratch(r.repository, scratch) }
        let identity = git.identityFallback(r.repository)

        let attempt: SubprocessResult
        switch mode {
        case .merge:
            attempt = try git.run(scratch, ["merge", "--no-ff", "--no-edit", "-m",
                                            "Merge \(r.branch) (agent \(r.agent))\n\n\(WorktreeRecord.agentTrailer): \(r.agent)", agentTip],
                                  extraEnvironment: identity)
        case .squash:
            let squash = try git.run(scratch, ["merge", "--squash", agentTip], extraEnvironment: identity)
            if squash.succeeded {
                let subjects = GitParsing.lines(try git.output(r.repository, ["log", "--reverse", "--format=%s", "\(oldTip)..\(agentTip)"]))
                let message = "\(r.branch): squashed \(subjects.count) commit\(subjects.count == 1 ? "" : "s") of agent \(r.agent)\n\n"
                    + subjects.map { "- " + $0 }.joined(separator: "\n") + "\n\n\(WorktreeRecord.agentTrailer): \(r.agent)\n"
                if try git.status(scratch).isEmpty { return .upToDate(target: target) }
                attempt = try git.run(scratch, ["commit", "--no-verify", "-m", message], extraEnvironment: identity)
            } else {
                attempt = squash
            }
        case .rebase:
            attempt = try git.run(scratch, ["rebase", oldTip], extraEnvironment: identity)
        }
        if !attempt.succeeded {
            let conflicted = ((try? git.status(scratch)) ?? []).filter(\.isConflicted).map(\.path)
            _ = try? git.run(scratch, [mode == .rebase ? "rebase" : "merge", "--abort"])
            if !conflicted.isEmpty { throw MergeConflict(target: target, files: conflicted.sorted()) }
            throw GitError(arguments: [mode.rawValue], message: Git.reason(attempt))
        }
        let newTip = try git.line(scratch, ["rev-parse", "HEAD"])

        // Who has the target checked out (not our scratch worktree).
        let checkouts = GitParsing.worktrees(try git.output(r.repository, ["worktree", "list", "--porcelain"]))
        let checkout = checkouts.first { $0.branch == target && $0.path != scratch && !$0.prunable }?.path
        let changed = GitParsing.lines(try git.output(r.repository, ["diff", "--name-only", oldTip, newTip]))
        let dirty = try checkout.map { try git.status($0) } ?? []
        switch MergePlan.decide(checkout: checkout, changedByMerge: changed, dirtyInCheckout: dirty) {
        case .refuse(let path, let files):
            throw HostingError("not merged: \(target) is checked out in \(path) with uncommitted changes the merge would overwrite: "
                + files.joined(separator: ", ") + "; commit or stash them first (nothing was changed)")
        case .updateRef:
            try git.output(r.repository, ["update-ref", "-m", "supervisor merge \(r.agent)", "refs/heads/" + target, newTip, oldTip])
        case .fastForwardCheckout(let path):
            let ff = try git.run(path, ["merge", "--ff-only", "--quiet", newTip])
            guard ff.succeeded else {
                throw HostingError("not merged: \(target) is checked out in \(path) and could not be fast-forwarded there: \(Git.reason(ff)) (nothing was changed)")
            }
        }
        var updated = r
        updated.mergedTip = agentTip
        try updated.write(to: paths.worktreeRecordFile(profile: r.profile, agent: r.agent))
        return .merged(target: target, commit: newTip, checkout: checkout)
    }

    private func removeScratch(_ repository: String, _ scratch: String) {
        guard access(scratch, F_OK) == 0 else { return }
        _ = try? git.run(repository, ["worktree", "remove", "--force", scratch])
        if access(scratch, F_OK) == 0 { _ = try? runSubprocess(["/bin/rm", "-rf", "--", scratch]) }
        _ = try? git.run(repository, ["worktree", "prune"])
    }

    // MARK: Remove

    /// Removes an agent's worktree. Unmerged commits or uncommitted changes need `force`; the
    /// branch goes too when merged, and stays (so its commits stay reachable) when not.
    /// Returns what it did, one line each.
    public func remove(_ r: WorktreeRecord, force: Bool) throws -> [String] {
        let s = status(r)
        if !force && (!s.merged || !s.clean) {
            var why: [String] = []
            if !s.merged { why.append("\(s.ahead) commit\(s.ahead == 1 ? "" : "s") not merged into \(r.baseBranch ?? r.baseCommit.prefix(12).description)") }
            if !s.clean { why.append("\(s.uncommitted.count) uncommitted file\(s.uncommitted.count == 1 ? "" : "s")") }
            throw HostingError("worktree of agent \"\(r.agent)\" (branch \(r.branch)) has \(why.joined(separator: " and ")); "
                + "merge it first (supervisor merge \(r.profile) \(r.agent)) or remove it anyway with --force")
        }
        var done: [String] = []
        if s.exists {
            let result = try git.run(r.repository, ["worktree", "remove", "--force", r.path])
            if !result.succeeded { _ = try? runSubprocess(["/bin/rm", "-rf", "--", r.path]) }
            done.append("removed worktree \(r.path)")
        }
        _ = try? git.run(r.repository, ["worktree", "prune"])
        if s.head != nil {
            if s.merged {
                _ = try? git.run(r.repository, ["branch", "-D", r.branch])
                done.append("deleted merged branch \(r.branch)")
            } else {
                done.append("kept branch \(r.branch) (\(s.ahead) unmerged commit\(s.ahead == 1 ? "" : "s"); delete it with git branch -D \(r.branch))")
            }
        }
        unlink(paths.worktreeRecordFile(profile: r.profile, agent: r.agent))
        return done
    }

    /// Bytes a directory tree takes on disk (`du`; 0 when it cannot tell).
    static func diskUsage(_ path: String) -> Int64 {
        guard let r = try? runSubprocess(["du", "-sk", "--", path]), r.succeeded,
              let kib = r.output.split(whereSeparator: { $0 == "\t" || $0 == " " }).first.flatMap({ Int64($0) }) else { return 0 }
        return kib * 1024
    }
}

/// Commits everything in an isolated agent's worktree at the end of a turn (`autocommit`):
/// `git add -A`, then one commit whose subject is the turn's first line of intent and whose
/// trailer names the agent. Does nothing when nothing changed. Returns the new commit, or nil.
/// Hooks are skipped (`--no-verify`): they belong to the person's workflow, not the agent's turn.
@discardableResult
public func commitTurn(worktree: String, agent: String, message intent: String,
                       environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
    let git = Git(environment: environment)
    try git.output(worktree, ["add", "--all"])
    if git.succeeds(worktree, ["diff", "--cached", "--quiet"]) { return nil }
    try git.output(worktree, ["commit", "--no-verify", "--quiet", "-m", GitParsing.turnCommitMessage(intent: intent, agent: agent)],
                   extraEnvironment: git.identityFallback(worktree))
    return try git.line(worktree, ["rev-parse", "HEAD"])
}
