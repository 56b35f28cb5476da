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

    public init(executable: String, environment: [String: String]) {
        self.executable = executable
        self.environment = DockerEngine.withoutSecrets(environment)
    }

    /// The `docker` CLI from PATH; a clear error when it is not installed.
    public static func locate(environment: [String: String], purpose: String = "the Docker backend") throws -> DockerEngine {
        guard let path = resolveExecutable("docker", path: environment["PATH"]) else {
            throw HostingError("\(purpose) needs Docker, but the docker command is not installed (apt-get install docker.io, or install Docker Engine)")
        }
        return DockerEngine(executable: path, environment: environment)
    }

    /// Variables never handed to the docker CLI.
    public static func withoutSecrets(_ environment: [String: String], extra: Set<String> = []) -> [String: String] {
        environment.filter { !isSecretName($0.key) && !extra.contains($0.key) }
    }

    /// `*_API_KEY` (and `*_API_TOKEN`): names that hold credentials by convention.
    public static func isSecretName(_ name: String) -> Bool {
        let upper = name.uppercased()
        return upper.hasSuffix("_API_KEY") || upper == "API_KEY" || upper.hasSuffix("_API_TOKEN")
    }

    /// Where the engine is, for messages.
    public var endpoint: String {
        if let host = environment["DOCKER_HOST"], !host.isEmpty { return host }
        if let context = environment["DOCKER_CONTEXT"], !context.isEmpty { return "docker context \(context)" }
        return "the local engine"
    }

    public func run(_ arguments: [String]) -> SubprocessResult {
        do { return try runSubprocess([executable] + arguments, environment: environment) } catch {
            return SubprocessResult(exit: .exited(127), output: "", errorOutput: "\(error)")
        }
    }

    /// One clear error when no engine answers.
    public func ping(purpose: String = "the Docker backend") throws {
        let result = run(["version", "--format", "{{.Server.Version}}"])
        guard result.succeeded, !result.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw HostingError("\(purpose) needs Docker, but no Docker engine answers at \(endpoint): \(firstLine(result.errorOutput, or: "docker version failed")) (start it, e.g. `sudo systemctl start docker`, or set DOCKER_HOST)")
        }
    }

    public func imageExists(_ image: String) -> Bool { run(["image", "inspect", "--format", "{{.Id}}", image]).succeeded }

    public func networkExists(_ network: String) -> Bool { run(["network", "inspect", "--format", "{{.Id}}", network]).succeeded }

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
        let ids = run(args)
        guard ids.succeeded else { return nil }
        let list = ids.output.split(whereSeparator: \.isNewline).map(String.init)
        guard !list.isEmpty else { return [] }
        let result = run(["container", "inspect", "--format", ContainerInfo.inspectFormat] + list)
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
            let result = run(["rm", "--force", "--volumes"] + doomed.map(\.id))
            if !result.succeeded { problems.append("docker rm: \(firstLine(result.errorOutput, or: "failed"))") }
        }
        let running = preserved.filter(\.running)
        if !running.isEmpty {
            let result = run(["stop", "--time", "3"] + running.map(\.id))
            if !result.succeeded { problems.append("docker stop: \(firstLine(result.errorOutput, or: "failed"))") }
        }
        return problems
    }
}

func firstLine(_ text: String, or fallback: String) -> String {
    let line = text.split(whereSeparator: \.isNewline).first.map { String($0) } ?? ""
    let trimmed = line.trimmingCharacters(in: .whitespaces)
    return trimmed.isEmpty ? fallback : trimmed
}

/// Makes sure an agent's container runs, recreating one that died. Written once over a runner
/// so the CLI (`up`, synchronous) and the shim (on its event loop) share the decisions.
public struct ContainerLifecycle {
    public typealias Runner = (_ arguments: [String], _ done: @escaping (SubprocessResult) -> Void) -> Void
    let run: Runner

    public init(run: @escaping Runner) { self.run = run }

    /// Runs the docker CLI to completion right away (CLI commands, never a shim's loop).
    public static func synchronous(_ engine: DockerEngine) -> ContainerLifecycle {
        ContainerLifecycle { arguments, done in done(engine.run(arguments)) }
    }

    /// Runs the docker CLI as a child of `loop` (the shim: its loop keeps serving meanwhile).
    public static func onLoop(_ loop: EventLoop, executable: String, environment: [String: String]) -> ContainerLifecycle {
        let environment = DockerEngine.withoutSecrets(environment)
        return ContainerLifecycle { arguments, done in
            runSubprocessAsync(loop: loop, arguments: [executable] + arguments, environment: environment, completion: done)
        }
    }

    public func ensure(_ spec: ContainerSpec, completion: @escaping (Result<ContainerAction, HostingError>) -> Void) {
        run(["container", "inspect", "--format", ContainerInfo.inspectFormat, spec.name]) { inspected in
            guard inspected.succeeded, let info = ContainerInfo.parse(line: inspected.output.trimmingCharacters(in: .newlines)) else {
                if inspected.errorOutput.lowercased().contains("no such") {
                    self.create(spec, action: .created, completion: completion)
                } else {
                    completion(.failure(HostingError("container \(spec.name): docker inspect failed: \(firstLine(inspected.errorOutput, or: "no engine answers"))")))
                }
                return
            }
            guard info.labels[ContainerSpec.labelProfile] == spec.profile, info.labels[ContainerSpec.labelAgent] == spec.agent,
                  info.labels[ContainerSpec.labelHome] == spec.home else {
                completion(.failure(HostingError("a container named \(spec.name) exists that supervisor did not make for agent \(spec.agent) of profile \(spec.profile) here (\(info.labels[ContainerSpec.labelHome].map { "it belongs to \($0)" } ?? "no supervisor labels")); remove it with `docker rm -f \(spec.name)` or rename the profile")))
                return
            }
            let sameConfig = info.labels[ContainerSpec.labelConfig] == spec.configDigest
            if info.running && sameConfig { completion(.success(.reused)); return }
            if !info.running && sameConfig && spec.preserve && info.status != "dead" {
                self.run(["start", info.id]) { started in
                    if started.succeeded { completion(.success(.restarted(previous: info.summary))) }
                    else { self.replace(spec, info: info, reason: "was \(info.summary) and did not start", completion: completion) }
                }
                return
            }
            let reason = !sameConfig ? "was made with another configuration" : "was \(info.summary)"
            self.replace(spec, info: info, reason: reason, completion: completion)
        }
    }

    private func replace(_ spec: ContainerSpec, info: ContainerInfo, reason: String,
                         completion: @escaping (Result<ContainerAction, HostingError>) -> Void) {
        run(["rm", "--force", "--volumes", info.id]) { removed in
            guard removed.succeeded else {
                completion(.failure(HostingError("container \(spec.name) \(reason) and cannot be removed: \(firstLine(removed.errorOutput, or: "docker rm failed"))")))
                return
            }
            self.create(spec, action: .recreated(reason: reason), completion: completion)
        }
    }

    private func create(_ spec: ContainerSpec, action: ContainerAction, completion: @escaping (Result<ContainerAction, HostingError>) -> Void) {
        var arguments = spec.runArguments
        arguments.insert(contentsOf: ["--pull", "never"], at: 1)
        run(arguments) { created in
            if created.succeeded { completion(.success(action)); return }
            let message = firstLine(created.errorOutput, or: "docker run failed")
            // A half-made container (the name is taken even when start failed) must not linger.
            self.run(["rm", "--force", spec.name]) { _ in
                completion(.failure(HostingError("cannot start container \(spec.name) from image \(spec.image): \(message)")))
            }
        }
    }

    /// Signals a command agent's program inside its container (docker exec forwards no signal).
    public func signalCommand(_ spec: ContainerSpec, signal: String, completion: @escaping () -> Void = {}) {
        run(["exec", spec.name, "/bin/sh", "-c", ContainerSpec.signalCommandScript(signal)]) { _ in completion() }
    }
}

/// `runSubprocess` on a loop the caller runs: the completion gets the exit and all output.
public func runSubprocessAsync(loop: EventLoop, arguments: [String], environment: [String: String]?,
                               completion: @escaping (SubprocessResult) -> Void) {
    let out = PipeStream(loop: loop), err = PipeStream(loop: loop)
    var exit: ProcessExit?
    var stdout: [UInt8] = [], stderr: [UInt8] = []
    var openStreams = 2
    var process: ChildProcess?
    func finishIfDone() {
        guard let exit, openStreams == 0 else { return }
        process?.close()
        process = nil
        completion(SubprocessResult(exit: exit, output: String(decoding: stdout, as: UTF8.self),
                                    errorOutput: String(decoding: stderr, as: UTF8.self)))
    }
    do {
        process = try ChildProcess(loop: loop, arguments: arguments, environment: environment,
                                   stdio: [.ignore, .pipe(out, childReads: false), .pipe(err, childReads: false)]) { status in
            exit = status
            finishIfDone()
        }
    } catch {
        out.close(); err.close()
        completion(SubprocessResult(exit: .exited(127), output: "", errorOutput: "\(error)"))
        return
    }
    for (stream, isOut) in [(out, true), (err, false)] {
        do {
            try stream.startReading { result in
                switch result {
                case .data(let bytes): if isOut { stdout.append(contentsOf: bytes) } else { stderr.append(contentsOf: bytes) }
                case .eof, .error:
                    stream.close()
                    openStreams -= 1
                    finishIfDone()
                }
            }
        } catch {
            stream.close()
            openStreams -= 1
        }
    }
}
