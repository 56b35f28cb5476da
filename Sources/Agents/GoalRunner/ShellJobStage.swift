import Foundation

/// Where one command is on its way through the goal runner's shell: typed but not begun,
/// running, being moved to the background after its timeout, backgrounded, or interrupted.
/// One value instead of five flags checked in order; pure: the session feeds it what the
/// terminal said and performs what it returns.
enum ShellJobStage: Equatable {
    /// Its lines were typed; its begin marker has not come (`prompts` prompts so far).
    case sent(prompts: Int)
    /// Its begin marker came: it runs.
    case running
    /// Past its timeout: Ctrl-Z was sent; `stoppedLine` is bash's "[1]+ Stopped ..." once seen.
    case suspending(stoppedLine: String?)
    /// Suspended and `bg` sent; `jobLine` is bash's "[1]+ cmd &" once seen.
    case backgrounding(jobLine: String?)
    /// Ctrl-C was sent, for this outcome (its group is killed, then the shell, if it stays).
    case interrupting(ShellStatus)

    /// What the session does at a prompt of the shell.
    enum PromptAction: Equatable {
        case wait
        /// Type `bg`: the suspended command goes on in the background.
        case sendBackground
        case finish(ShellStatus)
    }

    /// A prompt came. `linesSent`: how many lines the command took to type (each may prompt
    /// before it begins); `exitCode` from its end marker; `elapsed` since it was typed.
    mutating func prompt(linesSent: Int, exitCode: Int?, elapsed: Double) -> PromptAction {
        switch self {
        case .sent(let prompts):
            if prompts + 1 >= linesSent { return .finish(.shellExited("the shell did not run the command")) }
            self = .sent(prompts: prompts + 1)
            return .wait
        case .running:
            return .finish(.exited(exitCode ?? -1))
        case .suspending(.some):
            self = .backgrounding(jobLine: nil)
            return .sendBackground
        case .suspending(nil):
            return .finish(.exited(exitCode ?? -1)) // it ended before Ctrl-Z stopped it
        case .backgrounding(let jobLine):
            return .finish(.stillRunning(seconds: elapsed, job: jobLine, interrupted: false))
        case .interrupting(let status):
            return .finish(status)
        }
    }

    /// An output line while the command is under way: true when it is bash's job-control
    /// notice this stage waits for (kept out of the command's output).
    mutating func takeJobControlLine(_ line: String) -> Bool {
        switch self {
        case .suspending(nil) where line.range(of: #"^\[[0-9]+\][+-]? +Stopped"#, options: .regularExpression) != nil:
            self = .suspending(stoppedLine: line)
            return true
        case .backgrounding(nil) where line.range(of: #"^\[[0-9]+\][+-]? "#, options: .regularExpression) != nil:
            self = .backgrounding(jobLine: line)
            return true
        default:
            return false
        }
    }

    var isSent: Bool { if case .sent = self { return true }; return false }
    var isBackgrounding: Bool { if case .backgrounding = self { return true }; return false }
    var isInterrupting: Bool { if case .interrupting = self { return true }; return false }
}
