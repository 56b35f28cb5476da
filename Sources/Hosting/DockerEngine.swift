import AgentHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Loop
import Profile

/// The Docker engine, reached through the `docker` CLI (not the Engine API over its socket):
/// the CLI already honours `DOCKER_HOST`, `DOCKER_CONTEXT`, contexts, TLS and ssh:// remotes,
/// and `docker exec -it` gives a command agent a real terminal that the CLI wires to the pane,
/// which over the raw API means re-implementing the hijacked-stream protocol. A tool call pays
/// one CLI start (see bench/docker.sh); nothing here is on a per-byte path.
public struct DockerEngine {
    public let executable: String
    /// The CLI's environment: the caller's, less anything that looks like an API key (the CLI
    /// only forwards variables named with `-e NAME`, and those are checked; this is a second fence).
    public let environment: [String: String]
    /// Which engine: the profile's name for it and the CLI options that reach it.
    public let engine: EngineEndpoint

    public init(executable: String, environment: [String: String], engine: EngineEndpoint = .default) {
        self.executable = executable
        self.environment = Secrets.removed(from: environment)
        self.engine = engine
    }

    /// The same CLI, aimed at another engine.
    public func on(_ engine: EngineEndpoint) -> DockerEngine {
        DockerEngine(executable: executable, environment: environment, engine: engine)
    }

    /// See `EngineEndpoint.questionTimeout`.
    public static let questionTimeout = EngineEndpoint.questionTimeout

    /// The `docker` CLI from PATH; a clear error when it is not installed.
    public static func locate(environment: [String: String], purpose: String = "the Docker backend") throws -> DockerEngine {
        guard let path = resolveExecutable("docker", path: environment["PATH"]) else {
            throw HostingError("\(purpose) needs Docker, but the docker command is not installed (apt-get install docker.io, or install Docker Engine)")
        }
        return DockerEngine(executable: path, environment: environment)
    }

    /// Where the engine is, for messages.
    public var endpoint: String {
        if !engine.options.isEmpty { return "engine \(engine.name) (\(engine.address))" }
        if let host = environment["DOCKER_HOST"], !host.isEmpty { return host }
        if let context = environment["DOCKER_CONTEXT"], !context.isEmpty { return "docker context \(context)" }
        return "the local engine"
    }

    /// Runs `docker [engine options] ARGUMENTS` to completion (killed after `timeout` seconds).
    public func run(_ arguments: [String], timeout: Double? = nil, input: Int32? = nil) -> SubprocessResult {
        do { return try runSubprocess([executable] + engine.options + arguments, environment: environment, timeout: timeout, input: input) } catch {
            return SubprocessResult(exit: .exited(127), output: "", errorOutput: "\(error)")
        }
    }

    /// One clear error when no engine answers.
    public func ping(purpose: String = "the Docker backend") throws {
        let result = run(["version", "--format", "{{.Server.Version}}"], timeout: Self.questionTimeout)
        guard result.succeeded, !result.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw HostingError("\(purpose) needs Docker, but no Docker engine answers at \(endpoint): \(firstLine(result.errorOutput, or: "docker version failed")) \(engine.options.isEmpty ? " (start it, e.g. `sudo systemctl start docker`, or set DOCKER_HOST)" : "")")
        }
    }

    public func imageExists(_ image: String) -> Bool { run(["image", "inspect", "--format", "{{.Id}}", image], timeout: Self.questionTimeout).succeeded }

    public func networkExists(_ network: String) -> Bool { run(["network", "inspect", "--format", "{{.Id}}", network], timeout: Self.questionTimeout).succeeded }

    public func inspect(_ name: String) -> ContainerInfo? {
        let result = run(["container", "inspect", "--format", ContainerInfo.inspectFormat, name])
        guard result.succeeded else { return nil }
        return ContainerInfo.parse(line: result.output.trimmingCharacters(in: .newlines))
    }

    /// Containers carrying `supervisor.profile` (= `profile` when given) and, when given,
    /// `supervisor.home`. Nil when the engine cannot be asked.
    public func containers(profile: String?, home: String?) -> [ContainerInfo]? {
        var args = ["ps", "--all", "--no-trunc", "--quiet",
                    "--filter", "label=\(ContainerSpec.labelProfile)" + (profile.map { "=\($0)" } ?? "")]
        if let home { args += ["--filter", "label=\(ContainerSpec.labelHome)=\(home)"] }
        let ids = run(args, timeout: Self.questionTimeout)
        guard ids.succeeded else { return nil }
        let list = ids.output.split(whereSeparator: \.isNewline).map(String.init)
        guard !list.isEmpty else { return [] }
        let result = run(["container", "inspect", "--format", ContainerInfo.inspectFormat] + list, timeout: Self.questionTimeout)
        // A container removed between the two calls makes inspect fail for it only.
        return result.output.split(whereSeparator: \.isNewline).compactMap { ContainerInfo.parse(line: String($0)) }
    }

    /// Removes the profile's containers (by label), except preserved ones, which are stopped.
    /// Returns problems worth a warning.
    @discardableResult
    public func removeContainers(profile: String, home: String?, includePreserved: Bool = false) -> [String] {
        guard let found = containers(profile: profile, home: home) else {
            return ["cannot list the containers of profile \(profile): no Docker engine answers at \(endpoint)"]
        }
        var problems: [String] = []
        let preserved = found.filter { !includePreserved && $0.labels[ContainerSpec.labelPreserve] == "true" }
        let doomed = found.filter { c in !preserved.contains { $0.id == c.id } }
        if !doomed.isEmpty {
            let result = run(["rm", "--force", "--volumes"] + doomed.map(\.id), timeout: 60)
            if !result.succeeded { problems.append("docker rm: \(firstLine(result.errorOutput, or: "failed"))") }
        }
        let running = preserved.filter(\.running)
        if !running.isEmpty {
            let result = run(["stop", "--time", "3"] + running.map(\.id), timeout: 60)
            if !result.succeeded { problems.append("docker stop: \(firstLine(result.errorOutput, or: "failed"))") }
        }
        return problems
    }
}

extension ContainerLifecycle {
    /// Runs the docker CLI to completion right away (CLI commands, never a shim's loop).
    /// The lifecycle adds each spec's engine options itself.
    public static func synchronous(_ engine: DockerEngine) -> ContainerLifecycle {
        let bare = engine.on(.default)
        return ContainerLifecycle { arguments, done in done(bare.run(arguments)) }
    }
}
