#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hosting

/// What the coder leaves on the terminal's normal screen when it ends (a final answer, Ctrl-D,
/// an error, a signal). The full-screen interface lives on the alternate screen, which the
/// terminal throws away when the program leaves it; printed after that, the final answer and
/// the session's summary stay in the pane, the log and the dashboard's tile. Pure.
public struct CoderEnding: Equatable {
    public var status: CoderStatus
    public var exitStatus: Int32
    /// The launch config the agent was started with (`up` wrote it), for the resume command.
    public var configPath: String?

    public init(status: CoderStatus, exitStatus: Int32, configPath: String?) {
        self.status = status; self.exitStatus = exitStatus; self.configPath = configPath
    }

    /// The command that continues this session.
    public var resumeCommand: String {
        "supervisor agent coder " + (configPath.map { "--config \(Self.shellWord($0)) " } ?? "") + "--resume \(status.session)"
    }

    var how: String {
        switch exitStatus {
        case 0: return "ended"
        case 129: return "ended by SIGHUP"
        case 130: return "interrupted"
        case 143: return "stopped (SIGTERM)"
        default: return "ended with an error (exit status \(exitStatus))"
        }
    }

    /// Two lines: what the session used, and how to continue it.
    public var summary: String {
        let u = status.usage
        var line = "── coder \(how) · \(status.model.isEmpty ? "" : status.model + " · ")"
        line += "tokens in \(CoderTUI.count(u.totalInput)) out \(CoderTUI.count(u.output))"
        line += " · $" + String(format: "%.4f", status.costUSD) + " · session \(status.session)"
        return line + "\nresume: " + resumeCommand + "\n"
    }

    /// The last answer of the transcript and any error shown after it (what the person last
    /// saw), then the summary.
    public func text(transcript entries: [TranscriptEntry]) -> String {
        var out = ""
        let turn = entries.lastIndex { $0.kind == .user }.map { entries.index(after: $0) } ?? entries.startIndex
        let answer = entries[turn...].lastIndex { $0.kind == .assistant }
        if let answer {
            let text = entries[answer].text.trimmed
            if !text.isEmpty { out += text + "\n\n" }
        }
        let errors = entries[(answer.map { entries.index(after: $0) } ?? turn)...].filter { $0.kind == .error }
        for e in errors { out += e.text + "\n" }
        if !errors.isEmpty { out += "\n" }
        return out + summary
    }

    /// A path as one shell word (quoted when it has anything but safe characters).
    static func shellWord(_ s: String) -> String {
        let safe = s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "/._-+=:@,".unicodeScalars.contains($0) }
        return safe && !s.isEmpty ? s : shellQuote(s)
    }
}
