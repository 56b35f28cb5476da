import AgentHost
import Glibc

// `supervisor-shim shim SPEC`: the same arguments as `supervisor shim SPEC` (so `down`,
// cleanup.sh and the benches recognise a shim by argv[1] either way), in a binary that
// links no Foundation: one of these runs per agent.
let arguments = CommandLine.arguments
guard arguments.count == 3, arguments[1] == "shim" else {
    fputs("usage: supervisor-shim shim SPEC (started by `supervisor up`)\n", stderr)
    exit(2)
}
exit(Shim.main(specPath: arguments[2]))
