import ArgumentParser
import Foundation
import Hosting

// `diff`, `merge` and `worktrees`: reviewing, merging and removing the git worktrees of agents
// with isolation = "worktree". They work from the profile's name alone, up or down: the
// worktrees and their records are kept in the profile's state directory until removed.

/// The profile and agent an isolated-agent command names, and the agent's worktree record.
struct WorktreeTarget: ParsableArguments {
    @OptionGroup var profile: ProfileArgument
    @OptionGroup var agent: AgentArgument

    func worktrees() -> Worktrees { Worktrees(paths: profile.paths, environment: profile.environment) }

    func record() throws -> WorktreeRecord {
        try worktrees().requireRecord(profile: try profile.profileName(), agent: agent.agent)
    }
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show an isolated agent's changes (committed and not) against its base.",
        discussion: """
        Without --base: what the agent changed since its branch left the base (like `git diff BASE...`, \
        plus uncommitted and new files). With --base: against the base branch's tip now, so changes \
        made on the base since show too.
        """)

    @OptionGroup var target: WorktreeTarget
    @Flag(help: "Files and line counts only.") var stat = false
    @Flag(help: "Compare with the base branch's current tip instead of the fork point.") var base = false

    func run() throws {
        let record = try target.record()
        let color = isatty(1) == 1 && (target.profile.environment["NO_COLOR"] ?? "").isEmpty
        let text = try target.worktrees().diff(record, stat: stat, againstBaseTip: base, color: color)
        if text.isEmpty {
            print("no changes on \(record.branch) against \(record.baseBranch ?? String(record.baseCommit.prefix(12)))")
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge an isolated agent's branch into its base branch (or --into BRANCH).",
        discussion: """
        The merge is made in a temporary worktree; your checkout is only fast-forwarded when it has the \
        target branch checked out, and refused when it has uncommitted changes the merge would \
        overwrite. A conflict changes nothing, lists the conflicting files and exits with status 1. \
        Only committed work is merged.
        """)

    @OptionGroup var target: WorktreeTarget
    @Flag(help: "One commit with all of the agent's changes.") var squash = false
    @Flag(help: "Replay the agent's commits on the target (linear history).") var rebase = false
    @Option(help: "The branch to merge into (default: the branch the agent's worktree started from).") var into: String?

    func validate() throws {
        if squash && rebase { throw ValidationError("--squash and --rebase exclude each other") }
    }

    func run() throws {
        let record = try target.record()
        let worktrees = target.worktrees()
        let mode: MergeMode = squash ? .squash : rebase ? .rebase : .merge
        let pending = worktrees.status(record).uncommitted.count
        do {
            switch try worktrees.merge(record, mode: mode, into: into) {
            case .upToDate(let branch):
                print("\(record.branch) has nothing that \(branch) lacks; nothing to merge")
            case .merged(let branch, let commit, let checkout):
                print("merged \(record.branch) into \(branch) (\(mode.rawValue)): now at \(commit.prefix(12))"
                    + (checkout.map { "; fast-forwarded the checkout at \($0)" } ?? ""))
            }
        } catch let conflict as MergeConflict {
            var message = "merging \(record.branch) into \(conflict.target) conflicts; nothing was changed. Conflicting files:"
            for file in conflict.files { message += "\n  \(file)" }
            throw CommandFailure(message: message, status: 1)
        }
        if pending > 0 {
            print("note: \(pending) uncommitted file\(pending == 1 ? "" : "s") in \(record.path) \(pending == 1 ? "was" : "were") not merged (commit them there, or set autocommit = true)")
        }
    }
}

struct WorktreesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worktrees", abstract: "List or remove the git worktrees of a profile's isolated agents.",
        subcommands: [List.self, Remove.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Each worktree's branch, commits ahead/behind its base, uncommitted files, size and whether it is merged.")
        @OptionGroup var profile: ProfileArgument
        @Argument(help: "Only this agent.") var agent: String?

        func run() throws {
            let name = try profile.profileName()
            let worktrees = Worktrees(paths: profile.paths, environment: profile.environment)
            var records = worktrees.records(profile: name)
            if let agent { records = [try worktrees.requireRecord(profile: name, agent: agent)] }
            if records.isEmpty { print("profile \(name) has no worktrees"); return }
            var rows = [["AGENT", "BRANCH", "BASE", "AHEAD", "BEHIND", "UNCOMMITTED", "SIZE", "MERGED", "PATH"]]
            var total: Int64 = 0
            for record in records {
                let s = worktrees.status(record)
                total += s.bytes
                rows.append([record.agent, record.branch, record.baseBranch ?? String(record.baseCommit.prefix(12)),
                             "\(s.ahead)", "\(s.behind)", "\(s.uncommitted.count)", s.exists ? formatBytes(s.bytes) : "missing",
                             s.merged ? "yes" : "no", record.path])
            }
            print(formatTable(rows))
            print("\ntotal disk use: \(formatBytes(total))")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove worktrees (all of the profile's, or one agent's); unmerged or uncommitted work needs --force.",
            discussion: "A merged worktree's branch is deleted with it; an unmerged one's branch is kept, so its commits stay reachable.")
        @OptionGroup var profile: ProfileArgument
        @Argument(help: "Only this agent's worktree.") var agent: String?
        @Flag(help: "Remove even with unmerged commits or uncommitted changes (uncommitted work is lost).") var force = false

        func run() throws {
            let name = try profile.profileName()
            // Held so that no `up` starts agents in these worktrees while they go.
            let lock = isDirectory(profile.paths.profileDir(name)) ? try ProfileLock(path: profile.paths.lockFile(profile: name), profile: name) : nil
            defer { lock?.release() }
            if FileManager.default.fileExists(atPath: profile.paths.profileRecord(profile: name)) {
                throw HostingError("profile \(name) is up and its agents work in these worktrees; bring it down first (supervisor down \(name))")
            }
            let worktrees = Worktrees(paths: profile.paths, environment: profile.environment)
            let records = try agent.map { [try worktrees.requireRecord(profile: name, agent: $0)] } ?? worktrees.records(profile: name)
            if records.isEmpty { print("profile \(name) has no worktrees"); return }
            var refused: [String] = []
            for record in records {
                do {
                    for line in try worktrees.remove(record, force: force) { print("\(record.agent): \(line)") }
                } catch let error as HostingError {
                    refused.append(error.description)
                }
            }
            if !refused.isEmpty {
                if refused.count == 1 { throw HostingError(refused[0]) }
                throw CommandFailure(message: refused.joined(separator: "\n"), status: 1)
            }
        }
    }
}

/// 1536 -> "1.5 KiB".
func formatBytes(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
}
