import Glibc
import Hosting
import SupervisorCLI

// The shim is started once per agent and lives as long as the agent: it goes straight to its
// loop without the argument parser (its spec file is its only argument).
let arguments = CommandLine.arguments
if arguments.count == 3 && arguments[1] == "shim" {
    exit(Shim.main(specPath: arguments[2]))
}
SupervisorCommand.runMain()
