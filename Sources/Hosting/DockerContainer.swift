#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Profile

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
    public var mounts: [Mount]
    /// Names of host variables passed in (`-e NAME`: the value travels in the docker CLI's
    /// environment, never on a command line).
    public var environmentNames: [String]
    public var user: String
    /// The workspace as commands inside the container see it.
    public var workspace: String
    public var preserve: Bool
    /// The docker CLI that manages it (resolved from PATH by `up`).
    public var dockerExecutable: String

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
    /// in the bind-mounted workspace belong to them on both sides), or uid 1000 (the `agent`
    /// user of docker/Dockerfile) when supervisor runs as root: never root by default.
    public static func defaultUser(uid: uid_t = getuid(), gid: gid_t = getgid()) -> String {
        uid == 0 ? "1000:1000" : "\(uid):\(gid)"
    }

    /// Resolves an agent's `[backend]` into a container. Throws on an env allow-list that names an
    /// API key (see `DockerPreflight.checkEnvironmentAllowList`).
    public static func make(profile: Profile, agent: AgentSpec, home: String, dockerExecutable: String) -> ContainerSpec {
        let backend = agent.backend
        var mounts = [Mount(host: agent.cwd, container: backend.workspace, readOnly: false)]
        mounts += backend.mounts.filter { $0.container != backend.workspace }
        return ContainerSpec(
            name: containerName(profile: profile.name, agent: agent.name), image: backend.image ?? "",
            profile: profile.name, agent: agent.name, home: home, network: backend.network,
            memory: backend.memory ?? defaultMemory, cpus: backend.cpus, pidsLimit: backend.pidsLimit ?? defaultPidsLimit,
            readOnly: backend.readOnly, mounts: mounts, environmentNames: backend.env,
            user: backend.user ?? defaultUser(), workspace: backend.workspace, preserve: backend.preserveContainer,
            dockerExecutable: dockerExecutable)
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
            args += ["--mount", "type=bind," + Self.csvField("source=" + mount.host) + "," + Self.csvField("target=" + mount.container)
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
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
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
        var argv = [dockerExecutable, "exec", "--interactive", "--tty", "--workdir", workspace, "--env", "TERM"]
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

    static let inspectFormat = "{{.Id}}\t{{.Name}}\t{{.State.Status}}\t{{.State.ExitCode}}\t{{json .Config.Labels}}"

    static func parse(line: String) -> ContainerInfo? {
        let fields = line.split(separator: "\t", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 5 else { return nil }
        let labels = (try? JSONDecoder().decode([String: String]?.self, from: Data(fields[4].utf8))) ?? nil
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
