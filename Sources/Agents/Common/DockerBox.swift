import Glibc
import Hosting
import Loop
import Profile

/// The Docker backend: every command runs inside the agent's own container through
/// `docker exec -i [-t] -w DIR -e K=V... CONTAINER argv...`. The agent process (and its API
/// key) stays on the host; the workspace is bind-mounted, so file tools work on `hostWorkspace`
/// while commands see the same files at `boxWorkspace` (`/workspace` by default).
///
/// The container is made and kept running by the shim (recreated before each start of the
/// agent when it died); a command run while it is down fails with docker's own message
/// ("container ... is not running"), which the agent shows like any failed command, except
/// that an engine the CLI cannot reach is named with its address (`unreachable`).
public final class DockerBox: Box {
    public let container: String
    public let dockerExecutable: String
    /// The docker CLI's options that reach the container's engine (none on the default engine).
    public let engineOptions: [String]
    public let hostWorkspace: String
    public let boxWorkspace: String
    /// Other bind mounts (host path -> container path), for path translation.
    public let mounts: [ContainerSpec.BindMount]
    /// False when the workspace is a volume on the engine (a remote engine): its files are not
    /// on this machine, so no box path maps to a host path there.
    public let workspaceOnHost: Bool
    public var description: String {
        "container \(container) (workspace \(boxWorkspace), " + (workspaceOnHost ? "bind-mounted from \(hostWorkspace))" : "a volume on its engine)")
    }
    public var hostProcessDirectory: String { hostWorkspace }
    /// The engine the container runs on, named in the error when it does not answer.
    public let engine: EngineEndpoint
    private let baseEnvironment: [String: String]
    private let withheld: Set<String>

    public init(container: String, dockerExecutable: String, hostWorkspace: String, boxWorkspace: String = "/workspace",
                mounts: [ContainerSpec.BindMount] = [], environment: [String: String], withheld: Set<String>,
                engineOptions: [String] = [], workspaceOnHost: Bool = true, engine: EngineEndpoint? = nil) {
        self.container = container
        self.engine = engine ?? EngineEndpoint(name: EngineEndpoint.defaultName, options: engineOptions)
        self.workspaceOnHost = workspaceOnHost
        self.dockerExecutable = dockerExecutable
        self.engineOptions = engineOptions
        self.hostWorkspace = hostWorkspace
        self.boxWorkspace = boxWorkspace
        self.mounts = mounts
        baseEnvironment = environment
        self.withheld = withheld.union(["SUPERVISOR_EVENTS_FD"])
    }

    /// The box of an agent whose launch config names a container (`up` wrote it).
    public convenience init(spec: ContainerSpec, hostWorkspace: String, environment: [String: String], withheld: Set<String>) {
        self.init(container: spec.name, dockerExecutable: spec.dockerExecutable, hostWorkspace: hostWorkspace,
                  boxWorkspace: spec.workspace, mounts: spec.mounts.filter { $0.container != spec.workspace },
                  environment: environment, withheld: withheld, engineOptions: spec.engineOptions,
                  workspaceOnHost: spec.workspaceVolume == nil, engine: spec.engine)
    }

    public func unreachable(_ message: String) -> String? { engine.explain(message) }

    public func argv(_ arguments: [String], directory: String?, environment: [String: String], interactive: Bool, tty: Bool) -> [String] {
        var argv = [dockerExecutable] + engineOptions + ["exec"]
        if interactive { argv.append("--interactive") }
        if tty { argv.append("--tty") }
        argv += ["--workdir", directory ?? boxWorkspace]
        // Values the caller chose for the command (TERM, PS1, ...). Never a secret: withheld
        // names and anything named like an API key are dropped even if a caller passes them.
        for key in environment.keys.sorted() where !withheld.contains(key) && !Secrets.isSecretName(key) {
            argv += ["--env", "\(key)=\(environment[key]!)"]
        }
        return argv + [container] + arguments
    }

    /// The docker CLI's environment: the agent's (DOCKER_HOST, DOCKER_CONTEXT, PATH, HOME for
    /// its config) less the withheld variables. The CLI forwards none of it into the container
    /// except the `--env` pairs in argv.
    public func hostProcessEnvironment(_ extra: [String: String]) -> [String: String] {
        var environment = Secrets.removed(from: baseEnvironment, extra: withheld)
        for (key, value) in extra where !withheld.contains(key) { environment[key] = value }
        return environment
    }

    /// A path as commands in the container see it -> the same file on the host (nil: not
    /// visible from the host, e.g. `/etc/hosts` of the container).
    public func hostPath(forBoxPath path: String) -> String? {
        if let rest = Self.relative(path, under: boxWorkspace) { return workspaceOnHost ? hostWorkspace + rest : nil }
        for mount in mounts { if let rest = Self.relative(path, under: mount.container) { return mount.host + rest } }
        return nil
    }

    /// A host path -> where commands in the container see it (nil: not mounted).
    public func boxPath(forHostPath path: String) -> String? {
        if workspaceOnHost, let rest = Self.relative(path, under: hostWorkspace) { return boxWorkspace + rest }
        for mount in mounts { if let rest = Self.relative(path, under: mount.host) { return mount.container + rest } }
        return nil
    }

    /// "" when `path == base`, "/x/y" when `path == base + "/x/y"`, else nil.
    static func relative(_ path: String, under base: String) -> String? {
        let base = base.count > 1 && base.hasSuffix("/") ? String(base.dropLast()) : base
        if path == base { return "" }
        if base == "/" { return path.hasPrefix("/") ? path : nil }
        return path.hasPrefix(base + "/") ? String(path.dropFirst(base.count)) : nil
    }
}

/// The box an agent's actions go through: its container on the Docker backend, else its working
/// directory. `withheld` (API key variables, added here from the agent's LLM settings) never
/// reach a command.
public func makeBox(config: AgentLaunchConfig, environment: [String: String], withheld: Set<String> = []) -> Box {
    let agent = config.agent
    var hidden = withheld.union(["ANTHROPIC_API_KEY", "OPENAI_API_KEY"])
    if let key = agent.llm.apiKeyEnv ?? agent.llm.provider.defaultAPIKeyEnv { hidden.insert(key) }
    if agent.backend.type == .docker {
        let spec = config.container ?? ContainerSpec.make(
            profile: Profile(name: config.profile, sourcePath: "", directory: agent.cwd, workdir: agent.cwd, llm: agent.llm,
                             backend: agent.backend, logs: LogSettings(dir: config.logsDir), agents: [agent]),
            agent: agent, home: SupervisorPaths.root(environment: environment),
            dockerExecutable: resolveExecutable("docker", path: environment["PATH"]) ?? "docker")
        return DockerBox(spec: spec, hostWorkspace: agent.cwd, environment: environment, withheld: hidden)
    }
    return LocalBox(workspace: agent.cwd, environment: environment, withheld: hidden)
}
