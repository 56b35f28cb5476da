import ArgumentParser
import Foundation
import Glibc
import Hosting

/// `supervisor pull PROFILE AGENT [DEST]`: copies an agent's workspace out of its container, on
/// whichever engine it runs (`docker cp`, through the CLI and the engine's options), so work
/// done on another machine comes back here. `--diff` shows what would change and copies nothing.
struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy an agent's workspace out of its container (any engine) into DEST (default: the agent's cwd).",
        discussion: "Files are added or overwritten, never deleted from DEST. --diff prints `diff -ruN DEST <container's copy>` and changes nothing.")

    @OptionGroup var profile: ProfileArgument
    @OptionGroup var agent: AgentArgument
    @Argument(help: "Where to copy the workspace to (a directory; made if missing).") var destination: String?
    @Flag(help: "Show what differs between DEST and the container's workspace; copy nothing.") var diff = false

    func run() throws {
        let record = try profile.record()
        let entry = try record.agent(agent.agent)
        guard entry.container != nil, let container = try ShimSpec.read(path: entry.specPath).container else {
            throw CommandFailure(message: "agent \(entry.name) of profile \(record.name) has no container (backend type \"docker\"); its workspace is already here")
        }
        let spec = try ShimSpec.read(path: entry.specPath)
        let dest = URL(fileURLWithPath: destination ?? spec.directory).standardizedFileURL.path
        let docker = try DockerEngine.locate(environment: profile.environment, purpose: "supervisor pull")
            .on(container.engine ?? .default)
        let staging = FileManager.default.temporaryDirectory.appendingPathComponent("supervisor-pull-\(getpid())").path
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let copied = docker.run(["cp", "\(container.name):\(container.workspace)/.", staging + "/"])
        guard copied.succeeded else {
            throw CommandFailure(message: "cannot copy the workspace of \(entry.name) out of \(container.name) on engine \(container.engineName): \(firstLine(copied.errorOutput, or: "docker cp failed"))", status: 1)
        }
        if diff {
            let result = try runSubprocess(["diff", "-ruN", dest, staging])
            print(result.output.replacingOccurrences(of: staging, with: "\(container.name):\(container.workspace)"), terminator: "")
            if result.output.isEmpty { print("no differences between \(dest) and \(container.name):\(container.workspace)") }
            return
        }
        try FileManager.default.createDirectory(atPath: dest, withIntermediateDirectories: true)
        let result = try runSubprocess(["cp", "-a", "--", staging + "/.", dest + "/"])
        guard result.succeeded else {
            throw CommandFailure(message: "cannot copy into \(dest): \(firstLine(result.errorOutput, or: "cp failed"))", status: 1)
        }
        print("copied the workspace of \(entry.name) (\(container.name) on engine \(container.engineName)) into \(dest)")
    }
}
