import Glibc

/// What the system prompt tells the model about where it works (gathered once at start, with
/// git run through the box so a container's repository is described, not the host's).
public struct EnvironmentContext: Equatable {
    public var workingDirectory: String
    public var isGitRepository: Bool
    public var platform: String
    public var osVersion: String
    /// YYYY-MM-DD.
    public var date: String
    public var gitBranch: String?
    public var gitClean: Bool?
    /// `git status --porcelain`, a few lines.
    public var gitChanges: [String]
    /// `git log --oneline -5`.
    public var recentCommits: [String]
    public var box: String

    static let script = """
        echo "@@uname"; uname -sr 2>/dev/null
        if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
          echo "@@git"
          echo "@@branch"; git branch --show-current 2>/dev/null || git rev-parse --abbrev-ref HEAD 2>/dev/null
          echo "@@status"; git status --porcelain 2>/dev/null | head -n 20
          echo "@@log"; git log --oneline -5 2>/dev/null
        fi
        echo "@@end"
        """

    /// Runs one small script in the box and parses it.
    static func gather(context: ToolContext, completion: @escaping (EnvironmentContext) -> Void) {
        context.runCommand(script, timeout: 10) { result in
            completion(parse(result.output, workingDirectory: context.box.boxWorkspace, box: context.box.description))
        }
    }

    static func parse(_ output: String, workingDirectory: String, box: String) -> EnvironmentContext {
        var sections: [String: [String]] = [:]
        var current = ""
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("@@") { current = String(line.dropFirst(2)); sections[current] = []; continue }
            if !line.isEmpty { sections[current, default: []].append(String(line)) }
        }
        let git = sections["git"] != nil
        var uts = utsname()
        uname(&uts)
        let sysname = withUnsafeBytes(of: uts.sysname) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        return EnvironmentContext(
            workingDirectory: workingDirectory, isGitRepository: git, platform: sysname.lowercased(),
            osVersion: sections["uname"]?.first ?? "unknown", date: today(),
            gitBranch: git ? (sections["branch"]?.first ?? "(detached)") : nil,
            gitClean: git ? (sections["status"] ?? []).isEmpty : nil,
            gitChanges: sections["status"] ?? [], recentCommits: sections["log"] ?? [], box: box)
    }

    static func today() -> String {
        var t = time(nil)
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buffer = [CChar](repeating: 0, count: 16)
        strftime(&buffer, buffer.count, "%Y-%m-%d", &tmv)
        return String(cString: buffer)
    }

    public var envBlock: String {
        var s = "<env>\nWorking directory: \(workingDirectory)\nIs directory a git repo: \(isGitRepository ? "Yes" : "No")\n"
        s += "Platform: \(platform)\nOS Version: \(osVersion)\nToday's date: \(date)\n</env>"
        if isGitRepository {
            s += "\n\ngitStatus: a snapshot at the start of the conversation.\nCurrent branch: \(gitBranch ?? "?")\n"
            s += "Status: \(gitClean == true ? "clean" : "modified")\n"
            if !gitChanges.isEmpty { s += gitChanges.map { "  " + $0 }.joined(separator: "\n") + "\n" }
            if !recentCommits.isEmpty { s += "Recent commits:\n" + recentCommits.joined(separator: "\n") + "\n" }
        }
        return s
    }
}

public enum CoderPrompt {
    public static func system(environment: EnvironmentContext, tools: [String], extra: String? = nil) -> String {
        var s = """
            You are a coding agent working in a software project with the person you talk to. You read and change \
            files and run commands with your tools (\(tools.joined(separator: ", "))) to do what the person asks.

            - Look before you change: read the relevant files, search with Grep and Glob.
            - Change files with Edit (exact replacements) or Write (whole files); keep the project's style.
            - Run commands with Bash to build, test and check your work.
            - File paths are relative to the working directory; you cannot reach files outside it.
            - Tools that only read may be requested together in one answer; they run in parallel.
            - Some tool calls need the person's permission; when one is refused, do not retry it, ask or adapt.
            - Be concise. When the task is done, answer with a short summary of what you did, without a tool call.

            Commands run in: \(environment.box).

            """
        s += environment.envBlock
        if let extra, !extra.isEmpty { s += "\n\n" + extra }
        return s
    }
}
