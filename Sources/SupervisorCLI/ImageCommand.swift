import ArgumentParser
import Foundation
import Glibc
import Hosting
import Loop

/// `supervisor image build`: the default agent image of the Docker backend.
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Build the default agent image of the Docker backend.", subcommands: [Build.self])

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build docker/Dockerfile (Ubuntu 22.04, bash, python3, curl, git, a non-root `agent` user) as the default agent image.",
            discussion: "The Dockerfile is built into supervisor, so this works without the source tree; --print shows it.")

        @Option(help: "Tag of the image.") var tag = DockerImage.defaultTag
        @Option(help: "Base image (the Dockerfile's BASE argument; default ubuntu:22.04).") var base: String?
        @Option(help: "Network for the build's RUN steps (e.g. host when the engine has no bridge).") var network: String?
        @Flag(name: .customLong("print"), help: "Print the Dockerfile instead of building it.") var printDockerfile = false

        func run() throws {
            if printDockerfile { print(DockerImage.dockerfile, terminator: ""); return }
            let environment = ProcessInfo.processInfo.environment
            let engine = try DockerEngine.locate(environment: environment, purpose: "supervisor image build")
            try engine.ping(purpose: "supervisor image build")
            let context = FileManager.default.temporaryDirectory.appendingPathComponent("supervisor-image-\(getpid())").path
            try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: context) }
            try Data(DockerImage.dockerfile.utf8).write(to: URL(fileURLWithPath: context + "/Dockerfile"))
            let loop = EventLoop()
            defer { loop.close() }
            var exit: ProcessExit?
            let process = try ChildProcess(loop: loop, arguments: [engine.executable] + DockerImage.buildArguments(tag: tag, base: base, network: network, context: context),
                                           environment: engine.environment, stdio: [.ignore, .inherit(1), .inherit(2)]) { exit = $0 }
            while exit == nil { loop.runOnce() }
            process.close()
            guard exit == .exited(0) else {
                throw CommandFailure(message: "docker build of \(tag) failed (\(exit!)); see its output above", status: 1)
            }
            print("built \(tag)")
        }
    }
}
