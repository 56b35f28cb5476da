import AgentProtocol
import Glibc
import Loop

/// One agent's container, fully resolved by `up` (from the agent's `[backend]`) and stored in the
/// agent's shim spec, so the shim can recreate the container on a restart without the profile.
///
/// Hardening is not optional: every container drops all capabilities except the five a
/// package manager needs when the container's user is root, sets `no-new-privileges` (so setuid
/// binaries such as sudo cannot raise privileges) and has a pids and a memory limit.
public struct ContainerSpec: Codable, Equatable, Sendable {
    public var name: String
    public var image: String
    public var profile: String
    public var agent: String
    /// The supervisor state root (`SUPERVISOR_HOME`) that made it: profiles of the same name under
    /// different roots never touch each other's containers.
    public var home: String
    public var network: String
    public var memory: String
    public var cpus: Double?
    public var pidsLimit: Int
    public var readOnly: Bool
    /// The workspace bind mount first, then the profile's `mounts`.
    public var mounts: [BindMount]
    /// Names of host variables passed in (`-e NAME`: the value travels in the docker CLI's
    /// environment, never on a command line).
    public var environmentNames: [String]
    public var user: String
    /// The workspace as commands inside the container see it.
    public var workspace: String
    public var preserve: Bool
    /// The docker CLI that manages it (resolved from PATH by `up`).
    public var dockerExecutable: String
    /// The engine it runs on (nil: the default engine). Not part of the configuration digest:
    /// the same container moved to another engine is made there afresh anyway.
    public var engine: EngineEndpoint?

    /// A bind mount: a host directory seen at `container` inside; with `volume` true, `host` is
    /// the name of a volume on the engine instead.
    public struct BindMount: Codable, Equatable, Sendable {
        public var host: String
        public var container: String
        public var readOnly: Bool
        public var volume: Bool?
        public init(host: String, container: String, readOnly: Bool, volume: Bool? = nil) {
            self.host = host; self.container = container; self.readOnly = readOnly; self.volume = volume
        }
    }

    public init(name: String, image: String, profile: String, agent: String, home: String, network: String,
                memory: String, cpus: Double?, pidsLimit: Int, readOnly: Bool, mounts: [BindMount],
                environmentNames: [String], user: String, workspace: String, preserve: Bool, dockerExecutable: String,
                engine: EngineEndpoint? = nil) {
        self.name = name; self.image = image; self.profile = profile; self.agent = agent; self.home = home
        self.network = network; self.memory = memory; self.cpus = cpus; self.pidsLimit = pidsLimit
        self.readOnly = readOnly; self.mounts = mounts; self.environmentNames = environmentNames; self.user = user
        self.workspace = workspace; self.preserve = preserve; self.dockerExecutable = dockerExecutable
        self.engine = engine
    }

    public static let labelProfile = "supervisor.profile"
    public static let labelAgent = "supervisor.agent"
    public static let labelHome = "supervisor.home"
    public static let labelPreserve = "supervisor.preserve"
    /// A digest of the run arguments: a container made from another configuration is recreated.
    public static let labelConfig = "supervisor.config"

    /// Enough for apt-get/dpkg run as root inside the container, nothing more:
    /// SETUID/SETGID (apt drops to the `_apt` user to download), DAC_OVERRIDE (root reaches
    /// `_apt`-owned directories), CHOWN/FOWNER (dpkg sets owners and modes of the files it
    /// unpacks, and of the users' files packages create). Docker's default set also has
    /// FSETID, MKNOD, NET_RAW, SETFCAP, SETPCAP, NET_BIND_SERVICE, KILL, SYS_CHROOT, AUDIT_WRITE.
    public static let capabilities = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]
    public static let defaultMemory = "2g"
    public static let defaultPidsLimit = 1024
    /// Where a command agent's wrapper records its pid inside the container (see `commandArgv`).
    public static let commandPidFile = "/tmp/.supervisor-agent.pid"

    /// `sv-<profile>-<agent>`.
    public static func containerName(profile: String, agent: String) -> String { "sv-\(profile)-\(agent)" }

    /// The default user when the profile names none: the person running supervisor (so files
    /// in the bind-mounted workspace belong to them on both sides). When supervisor runs as
    /// root (a server, CI, a container) the user must still be able to write the workspace:
    /// its owner when that is not root, else uid 1000 (the `agent` user of docker/Dockerfile)
    /// if anyone may write it. Nil when only root can write it: root in the container is
    /// never a default (the profile says `user = "root"`), so `up` refuses instead of the
    /// agent failing at its first write.
    public static func defaultUser(uid: uid_t = getuid(), gid: gid_t = getgid(), workspace: FileOwner? = nil) -> String? {
        if uid != 0 { return "\(uid):\(gid)" }
        guard let workspace else { return unprivilegedUser }
        if workspace.uid != 0 { return "\(workspace.uid):\(workspace.gid)" }
        return workspace.mode & 0o003 == 0o003 ? unprivilegedUser : nil
    }

    /// The `agent` user of docker/Dockerfile.
    public static let unprivilegedUser = "1000:1000"

    /// Who owns a file and its permission bits (`stat`).
    public struct FileOwner: Equatable, Sendable {
        public var uid: uid_t
        public var gid: gid_t
        public var mode: mode_t
        public init(uid: uid_t, gid: gid_t, mode: mode_t) { self.uid = uid; self.gid = gid; self.mode = mode }

        /// Nil when `path` cannot be examined.
        public static func of(_ path: String) -> FileOwner? {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            return FileOwner(uid: info.st_uid, gid: info.st_gid, mode: info.st_mode & 0o7777)
        }
    }

    public var labels: [(String, String)] {
        [(Self.labelProfile, profile), (Self.labelAgent, agent), (Self.labelHome, home),
         (Self.labelPreserve, preserve ? "true" : "false")]
    }

    /// Everything after `docker run` but the config label.
    private var configuration: [String] {
        var args = ["--detach", "--init", "--name", name, "--hostname", String(name.prefix(63)),
                    "--network", network, "--user", user, "--workdir", workspace,
                    "--cap-drop", "ALL"]
        for cap in Self.capabilities { args += ["--cap-add", cap] }
        args += ["--security-opt", "no-new-privileges", "--pids-limit", "\(pidsLimit)",
                 "--memory", memory, "--memory-swap", memory]
        if let cpus { args += ["--cpus", "\(cpus)"] }
        if readOnly { args += ["--read-only", "--tmpfs", "/tmp", "--tmpfs", "/run"] }
        for mount in mounts {
            args += ["--mount", (mount.volume == true ? "type=volume," : "type=bind,") + Self.csvField("source=" + mount.host) + "," + Self.csvField("target=" + mount.container)
                     + (mount.readOnly ? ",readonly" : "")]
        }
        for name in environmentNames { args += ["--env", name] }
        for (key, value) in labels { args += ["--label", "\(key)=\(value)"] }
        // The keeper: docker-init (tini, pid 1) reaps orphans; `sleep infinity` keeps it up.
        args += ["--entrypoint", "sleep", image, "infinity"]
        return args
    }

    /// `--mount` takes CSV: a field with a comma or quote is quoted, quotes doubled.
    static func csvField(_ field: String) -> String {
        guard field.contains(",") || field.contains("\"") else { return field }
        return "\"" + field.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    /// FNV-1a of the configuration: stable across runs, changes with any setting.
    public var configDigest: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in configuration.joined(separator: "\u{0}").utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    /// `docker run ...` (without the executable).
    public var runArguments: [String] {
        var args = configuration
        let imageIndex = args.firstIndex(of: "--entrypoint")!
        args.insert(contentsOf: ["--label", "\(Self.labelConfig)=\(configDigest)"], at: imageIndex)
        return ["run"] + args
    }

    /// The argv of a `kind = "command"` agent on the Docker backend: its command runs inside the
    /// container with a terminal, so attaching to the pane reaches the program. A tiny wrapper
    /// records the program's pid first: `docker exec` does not forward signals and a program
    /// whose client died keeps running, so the shim signals it inside the container.
    public func commandArgv(_ command: [String], environmentNames: [String]) -> [String] {
        var argv = dockerCommand + ["exec", "--interactive", "--tty", "--workdir", workspace, "--env", "TERM"]
        for name in environmentNames.sorted() { argv += ["--env", name] }
        argv += [name, "/bin/sh", "-c", "echo $$ > \(Self.commandPidFile) 2>/dev/null; exec \"$@\"", "supervisor-agent"]
        return argv + command
    }

    /// A shell command (run inside the container) that signals the command agent's process
    /// group recorded by the wrapper.
    public static func signalCommandScript(_ signal: String) -> String {
        // The pid file stays until SIGKILL: a TERM that is ignored is followed by a KILL that needs it.
        "p=$(cat \(commandPidFile) 2>/dev/null) && [ -n \"$p\" ] && { kill -\(signal) -\"$p\" 2>/dev/null || kill -\(signal) \"$p\" 2>/dev/null; "
            + (signal == "KILL" ? "rm -f \(commandPidFile); " : "") + "}; true"
    }
}

/// What `docker inspect` says about a container.
public struct ContainerInfo: Equatable, Sendable {
    public var id: String
    public var name: String
    /// created | running | paused | restarting | removing | exited | dead
    public var status: String
    public var exitCode: Int
    public var labels: [String: String]
    public var running: Bool { status == "running" }

    /// "running", "exited (137)", "missing".
    public var summary: String { running ? "running" : status == "exited" || status == "dead" ? "\(status) (\(exitCode))" : status }

    public static let inspectFormat = "{{.Id}}\t{{.Name}}\t{{.State.Status}}\t{{.State.ExitCode}}\t{{json .Config.Labels}}"

    public static func parse(line: String) -> ContainerInfo? {
        let fields = line.split(separator: "\t", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 5 else { return nil }
        let labels = (try? JSONCoding.decode([String: String]?.self, from: Array(fields[4].utf8))) ?? nil
        var name = fields[1]
        if name.hasPrefix("/") { name.removeFirst() }
        return ContainerInfo(id: fields[0], name: name, status: fields[2], exitCode: Int(fields[3]) ?? 0, labels: labels ?? [:])
    }
}

/// What making sure a container runs did.
public enum ContainerAction: Equatable, Sendable {
    case reused
    case created
    /// A stopped container kept by `preserve_container` was started again.
    case restarted(previous: String)
    /// The old one was removed and a fresh one made (it had died, or its configuration changed).
    case recreated(reason: String)

    /// A line for the agent's pane, or nil when nothing noteworthy happened.
    public func note(_ name: String) -> String? {
        switch self {
        case .reused: return nil
        case .created: return "container \(name) created"
        case .restarted(let previous): return "container \(name) was \(previous); started it again (preserve_container)"
        case .recreated(let reason): return "container \(name) \(reason); recreated it"
        }
    }
}

/// Names of environment variables that hold credentials: never handed to the docker CLI, a
/// container or the exec agent's Python runtime, and refused in a Docker `env` allow-list. The
/// rule is documented for users in profiles/README.md ("Secret names"); keep the two in step.
public enum Secrets {
    /// Variables never handed to the docker CLI.
    public static func removed(from environment: [String: String], extra: Set<String> = []) -> [String: String] {
        environment.filter { !isSecretName($0.key) && !extra.contains($0.key) }
    }

    /// The rule, case-insensitive: an API key name (see `isAPIKeyName`), a name with the word
    /// `TOKEN` or `SECRET` in it (GITHUB_TOKEN, slack_bot_token, AWS_SECRET_ACCESS_KEY), or one
    /// containing `PASSWORD`/`PASSWD` (PGPASSWORD). Words, not letters: MAX_TOKENS and
    /// TOKENIZERS_PARALLELISM are settings, and refusing them would break real profiles.
    public static func isSecretName(_ name: String) -> Bool {
        let upper = name.uppercased()
        let words = upper.split { !$0.isLetter && !$0.isNumber }
        return isAPIKeyName(upper) || words.contains("TOKEN") || words.contains("SECRET")
            || upper.contains("PASSWORD") || upper.contains("PASSWD")
    }

    /// `*_API_KEY` and `API_KEY`: named like a model provider's key.
    public static func isAPIKeyName(_ name: String) -> Bool {
        let upper = name.uppercased()
        return upper.hasSuffix("_API_KEY") || upper == "API_KEY"
    }
}

public func firstLine(_ text: String, or fallback: String) -> String {
    let line = text.split(whereSeparator: \.isNewline).first.map { String($0) } ?? ""
    let trimmed = line.trimmed
    return trimmed.isEmpty ? fallback : trimmed
}

/// Makes sure an agent's container runs, recreating one that died. Written once over a runner
/// so the CLI (`up`, synchronous) and the shim (on its event loop) share the decisions.
public struct ContainerLifecycle {
    public typealias Runner = (_ arguments: [String], _ done: @escaping (SubprocessResult) -> Void) -> Void
    let run: Runner

    public init(run: @escaping Runner) { self.run = run }

    /// Runs the docker CLI as a child of `loop` (the shim: its loop keeps serving meanwhile),
    /// each call killed after `timeout` seconds: an engine whose host vanished (no refusal,
    /// just silence) must not hold an agent's start forever; it fails as an engine that does
    /// not answer, and an `auto` agent moves.
    public static func onLoop(_ loop: EventLoop, executable: String, environment: [String: String],
                              timeout: Double = ContainerLifecycle.callTimeout) -> ContainerLifecycle {
        let environment = Secrets.removed(from: environment)
        return ContainerLifecycle { arguments, done in
            runSubprocessAsync(loop: loop, arguments: [executable] + arguments, environment: environment, timeout: timeout, completion: done)
        }
    }

    /// Generous for `docker run` of a container (seconds here, with the image present: `up`
    /// never pulls), short enough that a start on a vanished engine gives up.
    public static let callTimeout: Double = 4 * EngineEndpoint.questionTimeout

    /// Runs the CLI against the spec's engine.
    private func run(_ spec: ContainerSpec, _ arguments: [String], _ done: @escaping (SubprocessResult) -> Void) {
        run(spec.engineOptions + arguments, done)
    }

    public func ensure(_ spec: ContainerSpec, completion: @escaping (Result<ContainerAction, HostingError>) -> Void) {
        run(spec, ["container", "inspect", "--format", ContainerInfo.inspectFormat, spec.name]) { inspected in
            guard inspected.succeeded, let info = ContainerInfo.parse(line: inspected.output.trimmed) else {
                if inspected.errorOutput.lowercased().contains("no such") {
                    self.create(spec, action: .created, completion: completion)
                } else {
                    completion(.failure(HostingError("container \(spec.name): " + (spec.engine ?? .default).notAnswering(firstLine(inspected.errorOutput, or: "docker inspect failed")))))
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
                self.run(spec, ["start", info.id]) { started in
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
        run(spec, ["rm", "--force", "--volumes", info.id]) { removed in
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
        run(spec, arguments) { created in
            if created.succeeded { completion(.success(action)); return }
            let message = firstLine(created.errorOutput, or: "docker run failed")
            // A half-made container (the name is taken even when start failed) must not linger.
            self.run(spec, ["rm", "--force", spec.name]) { _ in
                completion(.failure(HostingError("cannot start container \(spec.name) from image \(spec.image): \(message)")))
            }
        }
    }

    /// Signals a command agent's program inside its container (docker exec forwards no signal).
    public func signalCommand(_ spec: ContainerSpec, signal: String, completion: @escaping () -> Void = {}) {
        run(spec, ["exec", spec.name, "/bin/sh", "-c", ContainerSpec.signalCommandScript(signal)]) { _ in completion() }
    }
}

/// `runSubprocess` on a loop the caller runs: the completion gets the exit and all output. With a
/// `timeout` (seconds) a command still running then is killed and reported as exit 124.
public func runSubprocessAsync(loop: EventLoop, arguments: [String], environment: [String: String]?, timeout: Double? = nil,
                               completion: @escaping (SubprocessResult) -> Void) {
    let out = PipeStream(loop: loop), err = PipeStream(loop: loop)
    var exit: ProcessExit?
    var stdout: [UInt8] = [], stderr: [UInt8] = []
    var openStreams = 2
    var process: ChildProcess?
    var timer: LoopTimer?
    var timedOut = false
    var finished = false
    func finishIfDone() {
        guard !finished, let exit, openStreams == 0 || timedOut else { return }
        finished = true
        timer?.close()
        timer = nil
        process?.close()
        process = nil
        if timedOut {
            out.close(); err.close() // a grandchild (ssh for an ssh:// engine) may hold them open
            completion(SubprocessResult(exit: .exited(124), output: String(decoding: stdout, as: UTF8.self),
                                        errorOutput: "timed out after \(Int(timeout ?? 0)) s"))
            return
        }
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
    if let timeout {
        let t = LoopTimer(loop: loop)
        timer = t
        t.start(seconds: timeout) {
            timedOut = true
            process?.kill(SIGKILL)
        }
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
