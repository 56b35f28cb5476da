import ArgumentParser
import Foundation
import Glibc
import Hosting
import Loop

/// `supervisor image build`: the default agent image of the Docker backend.
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Build the default agent image of the Docker backend, or copy an image to another engine.",
        subcommands: [Build.self, Copy.self])

    /// The engine `--engine NAME` names in the profile (the default engine without it).
    static func engine(_ name: String?, profile: String?, purpose: String) throws -> DockerEngine {
        let environment = ProcessInfo.processInfo.environment
        let docker = try DockerEngine.locate(environment: environment, purpose: purpose)
        guard let name, name != EngineEndpoint.defaultName else { return docker }
        guard let profile else { throw CommandFailure(message: "--engine \(name) needs --profile PROFILE (the profile whose [engines.\(name)] it is)") }
        let argument = try ProfileArgument.parse([profile])
        let engines = argument.isFile ? EngineEndpoint.all(try argument.loadProfile()) : try argument.record().allEngines
        guard let endpoint = engines.first(where: { $0.name == name }) else {
            throw CommandFailure(message: "profile \(profile) has no engine \(name) (its engines: \(engines.map(\.name).joined(separator: ", ")))")
        }
        return docker.on(endpoint)
    }

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build docker/Dockerfile (Ubuntu 22.04, bash, python3, curl, git, a non-root `agent` user) as the default agent image.",
            discussion: "The Dockerfile is built into supervisor, so this works without the source tree; --print shows it.")

        @Option(help: "Tag of the image.") var tag = DockerImage.defaultTag
        @Option(help: "Base image (the Dockerfile's BASE argument; default ubuntu:22.04).") var base: String?
        @Option(help: "Network for the build's RUN steps (e.g. host when the engine has no bridge).") var network: String?
        @Flag(name: .customLong("print"), help: "Print the Dockerfile instead of building it.") var printDockerfile = false
        @Option(help: "Build on this engine of the profile (a name from its [engines]; default: the default engine).") var engine: String?
        @Option(help: "The profile (.toml file or the name of a profile that is up) whose engine --engine names.") var profile: String?

        func run() throws {
            if printDockerfile { print(DockerImage.dockerfile, terminator: ""); return }
            let environment = ProcessInfo.processInfo.environment
            _ = environment
            let engine = try ImageCommand.engine(self.engine, profile: profile, purpose: "supervisor image build")
            try engine.ping(purpose: "supervisor image build")
            let context = FileManager.default.temporaryDirectory.appendingPathComponent("supervisor-image-\(getpid())").path
            try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: context) }
            try Data(DockerImage.dockerfile.utf8).write(to: URL(fileURLWithPath: context + "/Dockerfile"))
            let loop = EventLoop()
            defer { loop.close() }
            var exit: ProcessExit?
            let process = try ChildProcess(loop: loop, arguments: [engine.executable] + engine.engine.options + DockerImage.buildArguments(tag: tag, base: base, network: network, context: context),
                                           environment: engine.environment, stdio: [.ignore, .inherit(1), .inherit(2)]) { exit = $0 }
            while exit == nil { loop.runOnce() }
            process.close()
            guard exit == .exited(0) else {
                throw CommandFailure(message: "docker build of \(tag) failed (\(exit!)); see its output above", status: 1)
            }
            print("built \(tag)" + (self.engine.map { " on engine \($0)" } ?? ""))
        }
    }

    /// `supervisor image copy`: gives a remote engine an image it lacks, from the default engine,
    /// through the CLI only (`docker save IMAGE | docker --host ... load`, no registry).
    struct Copy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy an image from the default engine to another engine of a profile (docker save | docker load).")

        @Argument(help: "Profile: a .toml file, or the name of a profile that is up.") var profile: String
        @Argument(help: "The image (as the default engine names it).") var image: String
        @Option(help: "The engine to copy it to (a name from the profile's [engines]).") var engine: String

        func run() throws {
            let target = try ImageCommand.engine(engine, profile: profile, purpose: "supervisor image copy")
            let source = target.on(.default)
            guard source.imageExists(image) else {
                throw CommandFailure(message: "image \(image) is not on the default engine; build or pull it there first")
            }
            try target.ping(purpose: "supervisor image copy")
            var fds: [Int32] = [0, 0]
            // Close-on-exec: were `load` to inherit the write end, it would never see end of file.
            guard pipe(&fds) == 0 else { throw CommandFailure(message: "pipe: \(String(cString: strerror(errno)))", status: 1) }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            let loop = EventLoop()
            defer { loop.close() }
            var saved: ProcessExit?, loaded: ProcessExit?
            let save = try ChildProcess(loop: loop, arguments: [source.executable, "save", image], environment: source.environment,
                                        stdio: [.ignore, .inherit(fds[1]), .inherit(2)]) { saved = $0 }
            let load = try ChildProcess(loop: loop, arguments: [target.executable] + target.engine.options + ["load"],
                                        environment: target.environment, stdio: [.inherit(fds[0]), .inherit(1), .inherit(2)]) { loaded = $0 }
            close(fds[0]); close(fds[1]) // the children hold them; load sees EOF when save ends
            while saved == nil || loaded == nil { loop.runOnce() }
            save.close(); load.close()
            guard saved == .exited(0), loaded == .exited(0) else {
                throw CommandFailure(message: "copying \(image) to engine \(engine) failed (docker save: \(saved!), docker load: \(loaded!)); see the output above", status: 1)
            }
            print("copied \(image) to engine \(engine) (\(target.engine.address))")
        }
    }
}
