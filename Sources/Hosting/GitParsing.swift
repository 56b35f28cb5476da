// The pure half of driving git: reading its machine-readable outputs and the decisions a merge
// makes from them. No I/O here; `Git` and `Worktrees` run the commands.

/// One entry of `git status --porcelain=v1 -z`.
public struct GitStatusEntry: Equatable, Sendable {
    /// The two status letters: index, then work tree (`??` untracked, `UU` both modified, ...).
    public var code: String
    public var path: String
    /// A rename's or copy's source.
    public var from: String?

    public init(code: String, path: String, from: String? = nil) {
        self.code = code; self.path = path; self.from = from
    }

    public var isUntracked: Bool { code == "??" }
    public var isIgnored: Bool { code == "!!" }
    /// An unmerged path: both sides changed it (`DD AU UD UA DU AA UU`).
    public var isConflicted: Bool { ["DD", "AU", "UD", "UA", "DU", "AA", "UU"].contains(code) }
}

public enum GitParsing {
    /// `git status --porcelain=v1 -z`: `XY PATH\0`, renames and copies `XY NEW\0OLD\0`.
    public static func status(_ output: String) -> [GitStatusEntry] {
        var entries: [GitStatusEntry] = []
        var fields = output.split(separator: "\0", omittingEmptySubsequences: true).map(String.init)[...]
        while let field = fields.popFirst() {
            guard field.count >= 4 else { continue }
            let code = String(field.prefix(2))
            let path = String(field.dropFirst(3))
            var entry = GitStatusEntry(code: code, path: path)
            if code.contains("R") || code.contains("C") { entry.from = fields.popFirst() }
            entries.append(entry)
        }
        return entries
    }

    /// One worktree of `git worktree list --porcelain`.
    public struct WorktreeEntry: Equatable, Sendable {
        public var path: String
        public var head: String?
        /// `refs/heads/NAME`, nil when detached.
        public var branchRef: String?
        public var bare = false
        public var prunable = false

        public init(path: String, head: String? = nil, branchRef: String? = nil) {
            self.path = path; self.head = head; self.branchRef = branchRef
        }

        public var branch: String? { branchRef.map { $0.hasPrefix("refs/heads/") ? String($0.dropFirst(11)) : $0 } }
    }

    /// `git worktree list --porcelain`: blocks of `worktree PATH`, `HEAD SHA`, `branch REF` or
    /// `detached`, `bare`, `prunable REASON`, separated by blank lines.
    public static func worktrees(_ output: String) -> [WorktreeEntry] {
        var out: [WorktreeEntry] = []
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("worktree ") {
                out.append(WorktreeEntry(path: String(line.dropFirst(9))))
            } else if !out.isEmpty {
                if line.hasPrefix("HEAD ") { out[out.count - 1].head = String(line.dropFirst(5)) }
                else if line.hasPrefix("branch ") { out[out.count - 1].branchRef = String(line.dropFirst(7)) }
                else if line == "bare" { out[out.count - 1].bare = true }
                else if line.hasPrefix("prunable") { out[out.count - 1].prunable = true }
            }
        }
        return out
    }

    /// `git rev-list --left-right --count BASE...BRANCH`: "BEHIND\tAHEAD" (left is the base).
    public static func aheadBehind(_ output: String) -> (ahead: Int, behind: Int)? {
        let parts = output.split(whereSeparator: { $0 == "\t" || $0 == " " || $0 == "\n" })
        guard parts.count == 2, let behind = Int(parts[0]), let ahead = Int(parts[1]) else { return nil }
        return (ahead, behind)
    }

    /// Lines of output, without the empty ones (`git diff --name-only`, `git log --format=%s`).
    public static func lines(_ output: String) -> [String] {
        output.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// The commit message of an agent's turn: the first non-empty line of what it set out to
    /// do, cut to `limit` characters, then a blank line and a trailer naming the agent.
    public static func turnCommitMessage(intent: String, agent: String, limit: Int = 72) -> String {
        let first = intent.split(separator: "\n").map { trimmed($0) }.first { !$0.isEmpty } ?? ""
        var subject = first.isEmpty ? "Changes by agent \(agent)" : first
        if subject.count > limit { subject = String(subject.prefix(limit - 3)) + "..." }
        return subject + "\n\n" + "\(WorktreeRecord.agentTrailer): \(agent)\n"
    }
}

/// How `supervisor merge` moves the target once the merge result exists (the "nothing to merge"
/// case is decided before, by ancestry).
public enum MergePlan: Equatable, Sendable {
    /// Update the target ref directly: no work tree has it checked out.
    case updateRef
    /// The target is checked out in this work tree: fast-forward it there, which also
    /// brings its files up to date (and keeps unrelated uncommitted changes).
    case fastForwardCheckout(path: String)
    /// The checkout of the target has uncommitted changes to files the merge changes.
    case refuse(path: String, files: [String])

    /// `checkout`: the work tree that has the target branch checked out (nil: none);
    /// `changedByMerge`: files that differ between the target's tip and the merge result;
    /// `dirtyInCheckout`: that work tree's `git status` entries.
    public static func decide(checkout: String?, changedByMerge: [String], dirtyInCheckout: [GitStatusEntry]) -> MergePlan {
        guard let checkout else { return .updateRef }
        let changed = Set(changedByMerge)
        var overwritten: [String] = []
        for entry in dirtyInCheckout where !entry.isIgnored {
            for path in [entry.path] + (entry.from.map { [$0] } ?? []) where changed.contains(path) || changed.contains(where: { $0.hasPrefix(path.hasSuffix("/") ? path : path + "/") }) {
                overwritten.append(path)
            }
        }
        if !overwritten.isEmpty { return .refuse(path: checkout, files: Array(Set(overwritten)).sorted()) }
        return .fastForwardCheckout(path: checkout)
    }
}

/// `s` without leading and trailing spaces, tabs and carriage returns.
private func trimmed(_ s: Substring) -> String {
    var t = s
    while let c = t.first, c == " " || c == "\t" || c == "\r" { t = t.dropFirst() }
    while let c = t.last, c == " " || c == "\t" || c == "\r" { t = t.dropLast() }
    return String(t)
}
