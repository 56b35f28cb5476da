import Glibc
import Hosting
import SupervisorCLI

// The shim is started once per agent and lives as long as the agent: it goes straight to its
// loop, skipping the argument parser's reflection (which faults in megabytes of the binary).
let arguments = CommandLine.arguments
if arguments.count == 3 && arguments[1] == "shim" {
    exit(Shim.main(specPath: arguments[2]))
}
SupervisorCommand.runMain()
