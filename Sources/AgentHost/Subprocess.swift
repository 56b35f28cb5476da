import Glibc
import Loop

/// What a finished helper command (tmux, docker) printed and how it ended.
public struct SubprocessResult {
    public var exit: ProcessExit
    public var output: String
    public var errorOutput: String
    public var succeeded: Bool { exit == .exited(0) }
    public init(exit: ProcessExit, output: String, errorOutput: String) {
        self.exit = exit; self.output = output; self.errorOutput = errorOutput
    }
}
