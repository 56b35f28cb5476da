import AgentHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Loop
import Profile

/// What `up` leaves in the profile's state directory so that later commands (`status`, `logs`,
/// `down`, `cleanup.sh`) work from the profile's name alone.
public struct ProfileRecord: Codable {
    public struct Agent: Codable {
        public var name: String
        public var kind: AgentKind
        public var specPath: String
        public var statePath: String
        public var socketPath: String
        public var logPath: String
        public var eventsPath: String
        public var pane: String?
        /// The agent's container name (Docker backend).
        public var container: String?
        /// The engine its container runs on (nil: the default engine).
        public var engine: String?
    }
    public var name: String
    public var sourcePath: String
    public var logsDir: String
    public var tmuxSocket: String
    public var tmuxConfig: String?
    public var shimCommand: [String]
    public var agents: [Agent]
    public var upAt: Double
    /// The profile's Docker engines (how to reach each), so `down`, `status` and `cleanup.sh`
    /// find its containers on every engine without the profile file. Nil: the default only.
    public var engines: [EngineEndpoint]?

    /// Every engine the profile's containers may be on.
    public var allEngines: [EngineEndpoint] { engines ?? [.default] }

    public func agent(_ name: String) throws -> Agent {
        guard let agent = agents.first(where: { $0.name == name }) else {
            let names = agents.map(\.name).joined(separator: ", ")
            throw HostingError("profile \(self.name) has no agent \"\(name)\" (agents: \(names))")
        }
        return agent
    }

    public static func read(path: String) throws -> ProfileRecord {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HostingError("no record at \(path)")
        }
        return try JSONCoding.decode(ProfileRecord.self, from: Array(data))
    }

    public func write(to path: String) throws {
        try writeFileAtomically(path: path, data: try JSONCoding.encodeBytes(self, pretty: true, sortedKeys: true))
    }
}

/// Starts and stops a whole profile: preflight, the tmux session with one shim per agent, and
/// rollback when any part fails.
public struct Launcher {
    public let paths: SupervisorPaths
    public let environment: [String: String]
    /// argv prefix that runs a shim (see `Launcher.shimCommand(supervisor:)`); the spec path follows.
    public let shimCommand: [String]
    /// argv prefix that runs a built-in agent (`supervisor`, the running binary); only `plan`
    /// needs it.
    public let agentCommand: [String]
    public let tmuxConfig: String?

    public init(paths: SupervisorPaths, environment: [String: String], shimCommand: [String], agentCommand: [String] = [],
                tmuxConfig: String?) {
        self.paths = paths
        self.environment = environment
        self.shimCommand = shimCommand
        self.agentCommand = agentCommand
        self.tmuxConfig = tmuxConfig
    }

    /// How `supervisor` at this path starts shims: `supervisor-shim shim` when that small binary
    /// sits next to it (a shim runs per agent for hours: it links no Foundation and no libcurl,
    /// a fraction of the memory), else `supervisor shim`. Both take the same arguments.
    public static func shimCommand(supervisor: String) -> [String] {
        let slash = supervisor.lastIndex(of: "/")
        let helper = (slash.map { String(supervisor[...$0]) } ?? "") + "supervisor-shim"
        return access(helper, X_OK) == 0 ? [helper, "shim"] : [supervisor, "shim"]
    }

    /// Checks that an agent's model credentials are present (the CLI injects the LLM layer's
    /// check: a missing key is reported before anything starts, naming the variable).
    public var credentialCheck: ((AgentSpec) throws -> Void)?

    /// Every check that can fail before anything starts. Returns the specs to launch.
    /// The specs of some agents only (for `start`/`restart` of one agent).
    /// `recordEvents`: write a `placement` event when the agent is placed afresh or moved
    /// (false when its shim asked and records the event itself).
    public func plan(_ profile: Profile, only agent: String, recordEvents: Bool = true) throws -> [ShimSpec] {
        try planOne(profile, agent: agent, recordEvents: recordEvents).specs
    }

    func planOne(_ profile: Profile, agent: String, recordEvents: Bool) throws -> (specs: [ShimSpec], docker: DockerPlan?) {
        guard profile.agents.contains(where: { $0.name == agent }) else {
            throw HostingError("\(profile.sourcePath) no longer has an agent \"\(agent)\"")
        }
        // Only this agent's engine is asked: another engine that is down must not stop a
        // start here. An `auto` agent whose engine is gone is placed again (and told so),
        // counting the other agents where they run.
        var one = profile
        one.agents = profile.agents.filter { $0.name == agent }
        let recorded = PlacementFile.read(path: placementsPath(profile.name))
        let neighbours = DockerPreflight.dockerAgents(profile).compactMap { other -> EnginePlacement.Request? in
            guard other.name != agent else { return nil }
            let choice = other.backend.engine ?? EngineSpec.defaultName
            guard let engine = choice == EngineSpec.automatic ? recorded[other.name] : choice else { return nil }
            return EnginePlacement.Request(agent: other.name, choice: engine,
                                           memoryBytes: EnginePlacement.bytes(other.backend.memory ?? ContainerSpec.defaultMemory))
        }
        let (isolated, placements, _) = try isolate(one, create: false)
        let (_, specs, docker) = try planWithEngines(isolated: isolated, placements: placements, neighbours: neighbours)
        if let docker {
            try recordPlacements(docker, specs: specs, profile: profile.name, events: recordEvents)
            let recordPath = paths.profileRecord(profile: profile.name)
            if var record = try? ProfileRecord.read(path: recordPath), let index = record.agents.firstIndex(where: { $0.name == agent }) {
                record.agents[index].engine = specs.first?.container?.engineName
                record.engines = docker.engines
                try record.write(to: recordPath)
            }
        }
        return (specs, docker)
    }

    /// Isolated agents' git worktrees (`isolation = "worktree"`).
    public var worktrees: Worktrees { Worktrees(paths: paths, environment: environment) }

    /// The profile with every isolated agent's `cwd` moved into its git worktree, and where
    /// each worktree is. With `create`, worktrees that do not exist yet are made (`made` lists
    /// the new ones, for a rollback); without, nothing changes on disk (`validate`).
    public func isolate(_ profile: Profile, create: Bool, only: String? = nil) throws
        -> (profile: Profile, placements: [Worktrees.Placement], made: [WorktreeRecord]) {
        var isolated = profile
        var placements: [Worktrees.Placement] = []
        var made: [WorktreeRecord] = []
        let worktrees = self.worktrees
        do {
            for i in isolated.agents.indices where isolated.agents[i].isolation == .worktree {
                if let only, isolated.agents[i].name != only { continue }
                var placement = try worktrees.place(profile, isolated.agents[i])
                if create, !placement.exists {
                    if try worktrees.ensure(placement) { made.append(placement.record) }
                    placement.exists = true
                }
                isolated.agents[i].cwd = placement.cwd
                placements.append(placement)
            }
        } catch {
            for record in made { worktrees.discardNew(record) }
            throw error
        }
        return (isolated, placements, made)
    }

    public func plan(_ profile: Profile) throws -> (tmux: Tmux, specs: [ShimSpec]) {
        let (tmux, specs, _) = try planWithEngines(profile)
        return (tmux, specs)
    }

    /// Records where the Docker agents of `specs` run (placements.json, engines.tsv) and tells
    /// each `auto` agent placed afresh or moved in a `placement` event (written before its shim
    /// starts it, so it is the first thing its events say this time).
    func recordPlacements(_ docker: DockerPlan, specs: [ShimSpec], profile: String, events: Bool = true) throws {
        var placements = PlacementFile.read(path: placementsPath(profile))
        for spec in specs { if let engine = docker.placement.engine[spec.agent] { placements[spec.agent] = engine } }
        try PlacementFile.write(placements, path: placementsPath(profile))
        try EnginesFile.write(docker.engines, path: paths.profileDir(profile) + "/" + EnginesFile.name)
        for spec in specs where events {
            guard let note = docker.placement.notes[spec.agent], let engine = docker.placement.engine[spec.agent] else { continue }
            let line = EventLine.make(.placement(engine: engine, note: note), agent: spec.agent, now: Date().timeIntervalSince1970)
            appendLine(line, to: spec.eventsPath)
        }
    }

    /// The profile's recorded engine placements (see `PlacementFile`).
    func placementsPath(_ profile: String) -> String { paths.profileDir(profile) + "/placements.json" }

    /// `plan`, plus where each Docker agent runs.
    func planWithEngines(_ profile: Profile) throws -> (tmux: Tmux, specs: [ShimSpec], docker: DockerPlan?) {
        let (isolated, placements, _) = try isolate(profile, create: false)
        return try planWithEngines(isolated: isolated, placements: placements)
    }

    /// `planWithEngines` of a profile `isolate` has rewritten: a worktree not made yet is no missing directory.
    func planWithEngines(isolated profile: Profile, placements: [Worktrees.Placement],
                         neighbours: [EnginePlacement.Request] = []) throws -> (tmux: Tmux, specs: [ShimSpec], docker: DockerPlan?) {
        let pending = Set(placements.filter { !$0.exists }.map(\.record.agent))
        let profileDir = paths.profileDir(profile.name)
        let tmux = try Tmux.locate(socket: paths.tmuxSocket(profile: profile.name), config: tmuxConfig, environment: environment)
        try SupervisorPaths.checkSocketPath(paths.tmuxSocket(profile: profile.name))
        try paths.checkSocketPaths(profile: profile.name, agents: profile.agents.map(\.name))
        // Checked, not made: a plan that fails (or `validate`) leaves no directory behind.
        try requireCreatableDirectory(profileDir, what: "state directory")
        let logsDir = profile.logs.dir + "/" + profile.name
        try requireCreatableDirectory(logsDir, what: "log directory")
        // Directories another local user prepared (or can write) would let them replace a spec
        // the shim runs as us, or plant a link where a log goes: refuse them, naming the fix.
        let stateDirs = [paths.root, paths.root + "/profiles", profileDir, paths.agentsDir(profile: profile.name)]
            + profile.agents.map { paths.agentDir(profile: profile.name, agent: $0.name) }
        for directory in stateDirs + [profile.logs.dir, logsDir] {
            if let problem = FileIO.untrustedDirectoryProblem(directory) { throw HostingError("unsafe directory: \(problem)") }
        }
        for agent in profile.agents {
            for file in [SupervisorPaths.logFile(logsDir: profile.logs.dir, profile: profile.name, agent: agent.name),
                         SupervisorPaths.eventsFile(logsDir: profile.logs.dir, profile: profile.name, agent: agent.name)] {
                var st = stat()
                if lstat(file, &st) == 0 && (st.st_mode & S_IFMT != S_IFREG || st.st_uid != geteuid()) {
                    throw HostingError("unsafe log file: \(file) is not a regular file of ours (a link?): remove it")
                }
            }
        }
        // Docker absent or stopped, a missing image, an API key in an env allow-list: one clear
        // error here, before anything starts.
        let docker = try DockerPreflight.check(profile, environment: environment, recorded: PlacementFile.read(path: placementsPath(profile.name)),
                                                neighbours: neighbours)

        var specs: [ShimSpec] = []
        let keyVariables = DockerPreflight.apiKeyVariables(profile)
        for agent in profile.agents {
            let kind = agent.kind
            var command: [String]
            let container = docker.map {
                ContainerSpec.make(profile: profile, agent: agent, home: paths.root, dockerExecutable: $0.executable, engine: $0.engine(of: agent.name))
            }
            if agent.kind == .command {
                guard let given = agent.command, !given.isEmpty else {
                    throw HostingError("\(profile.sourcePath): agent \"\(agent.name)\" has no command")
                }
                command = given
                if let container, agent.backend.type == .docker {
                    // The command itself runs in the container, on a terminal there.
                    command = container.commandArgv(given, environmentNames: Array(agent.env.keys))
                }
            } else {
                // Built-in agents are this binary; their whole configuration goes in a file.
                try credentialCheck?(agent)
                precondition(!agentCommand.isEmpty, "Launcher.plan needs agentCommand for built-in agents")
                command = agentCommand + ["agent", kind.rawValue, "--config", paths.agentConfigFile(profile: profile.name, agent: agent.name)]
            }
            guard pending.contains(agent.name) || isDirectory(agent.cwd) else {
                throw HostingError("\(place(profile, agent, "cwd")): agent \"\(agent.name)\": working directory \(agent.cwd) does not exist")
            }
            // A worktree `up` has yet to make holds no program to look at.
            let executable = pending.contains(agent.name) && command[0].contains("/")
                ? PathResolver.resolve(command[0], against: agent.cwd) : try locateProgram(command[0], of: agent, in: profile)
            for mount in agent.backend.type == .docker ? agent.backend.mounts : [] where !FileManager.default.fileExists(atPath: mount.host) {
                throw HostingError("\(profile.sourcePath): agent \"\(agent.name)\": mount source \(mount.host) does not exist")
            }
            var spec = ShimSpec(
                profile: profile.name, agent: agent.name, kind: kind, executable: executable, arguments: command,
                environment: agent.env, directory: agent.cwd,
                logPath: SupervisorPaths.logFile(logsDir: profile.logs.dir, profile: profile.name, agent: agent.name),
                eventsPath: SupervisorPaths.eventsFile(logsDir: profile.logs.dir, profile: profile.name, agent: agent.name),
                logMaxBytes: profile.logs.maxBytes, logKeep: profile.logs.keep,
                socketPath: paths.shimSocket(profile: profile.name, agent: agent.name),
                statePath: paths.stateFile(profile: profile.name, agent: agent.name),
                tmuxSocket: tmux.socket, restart: agent.restart.rawValue,
                backoffInitial: agent.backoffInitial, backoffMax: agent.backoffMax, maxRestarts: agent.maxRestarts,
                restartWindow: agent.restartWindow, stopTimeout: agent.stopTimeout,
                notifySocket: notifySocketPath(profile.name),
                container: agent.backend.type == .docker ? container : nil,
                passEnvironment: Launcher.secretsPassed(to: agent), withheldEnvironment: keyVariables.sorted())
            if agent.backend.type == .docker, agent.backend.engine == EngineSpec.automatic, let supervisor = agentCommand.first {
                // Its shim asks this when the agent's engine does not answer at a start.
                spec.placeAgain = [supervisor, "place-again", "--home", paths.root, profile.name, agent.name]
            }
            spec.notify = profile.notify.map { NotifySettings(command: $0.command, notifySend: $0.notifySend, bell: $0.bell, minInterval: $0.minInterval, on: $0.on) }
            specs.append(spec)
        }
        return (tmux, specs, docker)
    }

    /// The secret-named variables an agent may have: its `pass_env`, and a built-in agent's own
    /// API key variable.
    static func secretsPassed(to agent: AgentSpec) -> [String] {
        var names = agent.passEnv
        if agent.kind.usesLLM, agent.llm.provider != .script, let key = agent.llm.apiKeyEnv ?? agent.llm.provider.defaultAPIKeyEnv {
            names.append(key)
        }
        return names
    }

    /// `up`'s environment as the tmux server (and so every shim) gets it: without variables
    /// named like secrets and API key variables, even those some agent is given. The server's
    /// environment is every window's, and `tmux show-environment` prints it; the agents that
    /// need a key get it from their shim, which asks us for it (`keysByAgent`, `ShimKeys`).
    static func scrubbedEnvironment(_ environment: [String: String], specs: [ShimSpec]) -> [String: String] {
        let withheld = Set(specs.flatMap { ($0.withheldEnvironment ?? []) + ($0.passEnvironment ?? []) })
        return environment.filter { !(Secrets.isSecretName($0.key) || withheld.contains($0.key)) }
    }

    /// What each agent's shim is handed when it asks (`NotifyListener`): the values, in
    /// the launching process's environment, of the secret variables its spec lets it have.
    static func keysByAgent(_ specs: [ShimSpec], environment: [String: String]) -> [String: [String: String]] {
        var keys: [String: [String: String]] = [:]
        for spec in specs {
            let given = (spec.passEnvironment ?? []).compactMap { name in environment[name].map { (name, $0) } }
            if !given.isEmpty { keys[spec.agent] = Dictionary(given, uniquingKeysWith: { first, _ in first }) }
        }
        return keys
    }

    public func launchConfig(_ profile: Profile, _ agent: AgentSpec, container: ContainerSpec? = nil) -> AgentLaunchConfig {
        AgentLaunchConfig(profile: profile.name, agent: agent, stateDir: paths.agentDir(profile: profile.name, agent: agent.name),
                          logsDir: profile.logs.dir + "/" + profile.name, settingsFile: paths.settingsFile(profile: profile.name),
                          container: container)
    }

    func notifySocketPath(_ profile: String) -> String { paths.profileDir(profile) + "/notify.sock" }

    /// `FILE:LINE:COLUMN` of an agent's key in its profile (its `[[agents]]` header when the
    /// key is not written there).
    private func place(_ profile: Profile, _ agent: AgentSpec, _ key: String) -> String {
        if let position = agent.keyPositions?[key] { return "\(profile.sourcePath):\(position)" }
        return agent.line > 0 ? "\(profile.sourcePath):\(agent.line):1" : profile.sourcePath
    }

    /// The program an agent's shim will exec: a name is looked up in PATH (the agent's own
    /// PATH when its env sets one); a path is taken relative to the agent's working directory,
    /// where the shim starts it.
    private func locateProgram(_ program: String, of agent: AgentSpec, in profile: Profile) throws -> String {
        let key = agent.kind == .command ? "command" : "kind"
        let prefix = "\(place(profile, agent, key)): agent \"\(agent.name)\": program \"\(program)\""
        guard program.contains("/") else {
            guard let found = resolveExecutable(program, path: agent.env["PATH"] ?? environment["PATH"]) else {
                throw HostingError("\(prefix) not found in PATH")
            }
            return found
        }
        let path = PathResolver.resolve(program, against: agent.cwd)
        var info = stat()
        guard stat(path, &info) == 0 else { throw HostingError("\(prefix) not found: \(path) does not exist") }
        guard info.st_mode & S_IFMT == S_IFREG, access(path, X_OK) == 0 else {
            throw HostingError("\(prefix): \(path) is not an executable file")
        }
        return path
    }

    /// The directory exists and is writable, or can be made: its nearest existing ancestor is
    /// a writable directory.
    private func requireCreatableDirectory(_ path: String, what: String) throws {
        var existing = path
        var info = stat()
        while stat(existing, &info) != 0 {
            guard errno == ENOENT, existing != "/" else {
                throw HostingError("\(what) \(path) cannot be created: \(existing): \(String(cString: strerror(errno)))")
            }
            existing = FileIO.parentDirectory(of: existing)
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw HostingError("\(what) \(path) cannot be created: \(existing) is not a directory")
        }
        guard access(existing, W_OK | X_OK) == 0 else {
            throw HostingError("\(what) \(path) is not writable (set SUPERVISOR_HOME or fix its permissions)")
        }
    }

    private func makeDirectory(_ path: String, what: String) throws {
        do { try makeDirectories(path) } catch {
            throw HostingError("\(what) \(path) cannot be created: \(error)")
        }
    }

    public enum UpOutcome {
        case started(ProfileRecord)
        case alreadyUp(ProfileRecord)
    }

    /// Starts every agent and waits until each reports started. Rolls back on any failure.
    public func up(_ given: Profile, allowRunning: Bool, size: (rows: Int, cols: Int), startTimeout: Double = 15) throws -> UpOutcome {
        let checked = try isolate(given, create: false)
        let (tmux, specs, docker) = try planWithEngines(isolated: checked.profile, placements: checked.placements)
        try makeDirectory(paths.profileDir(given.name), what: "state directory")
        try makeDirectory(given.logs.dir + "/" + given.name, what: "log directory")
        let lock = try ProfileLock(path: paths.lockFile(profile: given.name), profile: given.name)
        defer { lock.release() }

        let recordPath = paths.profileRecord(profile: given.name)
        if tmux.isServerRunning() {
            let record = try? ProfileRecord.read(path: recordPath)
            if allowRunning, let record, StatusReport.collect(record).allSatisfy({ $0.shimAlive }) {
                return .alreadyUp(record)
            }
            throw HostingError("profile \(given.name) is already up; see `supervisor status \(given.name)`, or stop it with `supervisor down \(given.name)`")
        }
        // Leftovers of a server that died: nothing is listening on them any more.
        unlink(tmux.socket)
        // Worktrees are made once nothing else can fail for want of a check, and taken back
        // (only the ones made now) when the rest of `up` fails.
        let (profile, _, madeWorktrees) = try isolate(given, create: true)
        var started = false
        defer { if !started { for made in madeWorktrees { worktrees.discardNew(made) } } }

        var record = ProfileRecord(
            name: profile.name, sourcePath: profile.sourcePath, logsDir: profile.logs.dir,
            tmuxSocket: tmux.socket, tmuxConfig: tmuxConfig, shimCommand: shimCommand, agents: [], upAt: Date().timeIntervalSince1970,
            engines: docker.map(\.engines))
        if let docker { try recordPlacements(docker, specs: specs, profile: profile.name) }
        for spec in specs {
            let specPath = paths.specFile(profile: profile.name, agent: spec.agent)
            try makeDirectories(paths.agentDir(profile: profile.name, agent: spec.agent))
            try spec.write(to: specPath)
            if let agent = profile.agent(named: spec.agent), agent.kind != .command {
                try launchConfig(profile, agent, container: spec.container).write(to: paths.agentConfigFile(profile: profile.name, agent: agent.name))
            }
            record.agents.append(.init(name: spec.agent, kind: spec.kind, specPath: specPath, statePath: spec.statePath,
                                       socketPath: spec.socketPath, logPath: spec.logPath, eventsPath: spec.eventsPath, pane: nil,
                                       container: spec.container?.name, engine: spec.container.map(\.engineName)))
        }

        // Listen for each shim's start notice before any shim exists.
        let notices = try NotifyListener(path: notifySocketPath(profile.name), keys: Launcher.keysByAgent(specs, environment: environment))
        defer { notices.close() }

        do {
            // The record goes first: whatever moment this process dies at (kill -9, Ctrl-C),
            // what it started is findable by the profile's name, so `down` removes it and
            // `up --detach` finds it running.
            try record.write(to: recordPath)
            Launcher.testKillPoint("record-written", environment: environment)
            // Containers before any shim: an image that cannot start is one error, nothing half-up.
            try startContainers(specs, profile: profile.name, engines: record.allEngines)
            let windows = record.agents.map { (name: $0.name, command: shimCommand + [$0.specPath]) }
            let panes = try tmux.createSession(name: profile.name, windows: windows, size: size,
                                               environment: Launcher.scrubbedEnvironment(environment, specs: specs))
            Launcher.testKillPoint("session-created", environment: environment)
            for (index, pane) in panes.enumerated() where index < record.agents.count { record.agents[index].pane = pane }
            try record.write(to: recordPath)

            try notices.wait(for: specs.map(\.agent), timeout: startTimeout, profile: profile.name)
            Launcher.testKillPoint("shims-waited", environment: environment)
        } catch {
            rollBack(record: record, tmux: tmux)
            throw error
        }
        started = true
        return .started(record)
    }

    /// Tests drive the race of an interrupted `up` deterministically: with
    /// `SUPERVISOR_TEST_KILL_UP_AT=<point>` in its environment, `up` kills itself with SIGKILL
    /// at that point (`record-written`, `session-created`, `shims-waited`).
    static func testKillPoint(_ point: String, environment: [String: String]) {
        if environment["SUPERVISOR_TEST_KILL_UP_AT"] == point { raise(SIGKILL) }
    }

    /// Creates (or reuses, or recreates) every agent's container, in parallel as far as the
    /// engine goes: one `docker run` per agent, and seeds the workspace volumes that did not
    /// exist. Removes what it made when any fails: every container of the profile for `up`
    /// (`wholeProfile`), else only these agents' (one agent's start must not touch the others).
    /// Returns the agents whose workspace was seeded.
    @discardableResult
    func startContainers(_ specs: [ShimSpec], profile: String, engines: [EngineEndpoint], wholeProfile: Bool = true) throws -> [String] {
        let containers = specs.compactMap(\.container)
        guard let first = containers.first else { return [] }
        let engine = DockerEngine(executable: first.dockerExecutable, environment: environment)
        let loop = EventLoop()
        defer { loop.close() }
        let lifecycle = ContainerLifecycle.onLoop(loop, executable: engine.executable, environment: engine.environment)
        // Workspace volumes that do not exist yet are seeded once their containers are made.
        let fresh = specs.filter { $0.container.map { needsSeed($0, docker: engine) } ?? false }
        var pending = containers.count
        var failures: [HostingError] = []
        for container in containers {
            lifecycle.ensure(container) { result in
                if case .failure(let error) = result { failures.append(error) }
                pending -= 1
            }
        }
        while pending > 0 { loop.runOnce() }
        if failures.isEmpty {
            for spec in fresh {
                do { try WorkspaceSeed.seed(spec, docker: engine, scratch: paths.profileDir(profile)) } catch let error as HostingError {
                    failures.append(error)
                    break
                }
            }
        }
        if let failure = failures.first {
            if wholeProfile { engine.removeContainers(profile: profile, home: paths.root, on: engines) }
            for container in containers where !wholeProfile {
                engine.on(container.engine ?? .default).run(["rm", "--force", container.name], timeout: 60)
            }
            for spec in fresh {
                // A half-seeded volume would look seeded next time: it goes too.
                if let container = spec.container, let volume = container.workspaceVolume {
                    engine.on(container.engine ?? .default).run(["volume", "rm", "--force", volume], timeout: 60)
                }
            }
            throw failure
        }
        return fresh.map(\.agent)
    }

    /// Whether the container's workspace is a volume its engine does not have yet.
    func needsSeed(_ container: ContainerSpec, docker: DockerEngine) -> Bool {
        guard let volume = container.workspaceVolume else { return false }
        return !docker.on(container.engine ?? .default).run(["volume", "inspect", "--format", "{{.Name}}", volume],
                                                          timeout: DockerEngine.questionTimeout).succeeded
    }

    /// One agent planned afresh from its profile file and `supervisor set` overrides (what
    /// `start`, `restart` and `place-again` do): placed (an `auto` agent whose engine does not
    /// answer moves), its spec and launch config rewritten, and, when its workspace is a volume
    /// that does not exist on its engine yet (a first start there, or a move), its container
    /// made and the volume seeded from the host's cwd, as `up` does. Returns the new spec and
    /// the `placement` note: written to the agent's events here with `recordEvents`, else left
    /// to the caller (the shim, which records it itself).
    public func refreshAgent(_ record: ProfileRecord, agent name: String, recordEvents: Bool) throws -> (spec: ShimSpec, placement: PlacementReport?) {
        let entry = try record.agent(name)
        let previous = PlacementFile.read(path: placementsPath(record.name))[name]
        // An isolated agent's worktree (made again if its directory went missing) is its cwd.
        let loaded = try isolate(ProfileLoader.load(path: record.sourcePath).applying(try Settings.load(paths: paths, profile: record.name)),
                                 create: true, only: name).profile
        let (specs, docker) = try planOne(loaded, agent: name, recordEvents: false)
        guard var spec = specs.first else { throw HostingError("profile \(record.name) has no agent \"\(name)\"") }
        spec.notifySocket = (try? ShimSpec.read(path: entry.specPath))?.notifySocket ?? spec.notifySocket
        try spec.write(to: entry.specPath)
        if let agent = loaded.agent(named: name), agent.kind != .command {
            try launchConfig(loaded, agent, container: spec.container).write(to: paths.agentConfigFile(profile: record.name, agent: name))
        }
        var note = docker?.placement.notes[name]
        // Only a volume that is not there yet: a running agent's container is left alone (a
        // restart stops it first; its shim remakes the container before the next run).
        if let container = spec.container, needsSeed(container, docker: DockerEngine(executable: container.dockerExecutable, environment: environment)) {
            let seeded = try startContainers([spec], profile: record.name, engines: docker?.engines ?? record.allEngines, wholeProfile: false)
            if seeded.contains(name) {
                var line = "workspace seeded from the host (\(spec.directory))"
                if let previous, previous != container.engineName {
                    line = "workspace re-seeded from the host (\(spec.directory)): its volume on engine \(previous) cannot be reached from here, so work not pulled from there is not in it"
                }
                note = note.map { $0 + "; " + line } ?? line
            }
        }
        let report = spec.container.flatMap { container in note.map { PlacementReport(engine: container.engineName, note: $0) } }
        if recordEvents, let report, let note = report.note {
            appendLine(EventLine.make(.placement(engine: report.engine, note: note), agent: name, now: Date().timeIntervalSince1970), to: spec.eventsPath)
        }
        return (spec, report)
    }

    /// Undo a partial `up`: the tmux server (whose shims then stop their agents), sockets, specs.
    private func rollBack(record: ProfileRecord, tmux: Tmux) {
        stopShims(record, timeout: 5)
        removeContainers(record)
        tmux.killServer()
        unlink(tmux.socket)
        unlink(paths.profileRecord(profile: record.name))
        for agent in record.agents { unlink(agent.specPath); unlink(agent.socketPath) }
    }

    /// Graceful stop of every agent, then the tmux server; logs and settings stay.
    public func down(_ record: ProfileRecord) -> [String] {
        var problems = stopShims(record, timeout: nil)
        let shimPids = record.agents.compactMap { agent -> pid_t? in
            guard let state = try? StateFile.read(path: agent.statePath), state.shimPid > 0,
                  processIsAlive(state.shimPid), isShim(pid: state.shimPid) else { return nil }
            return state.shimPid
        }
        let tmux = Tmux(executable: resolveExecutable("tmux", path: environment["PATH"]) ?? "tmux", socket: record.tmuxSocket, config: record.tmuxConfig)
        tmux.killServer()
        unlink(record.tmuxSocket)
        // Shims that asked to exit are finishing; the server's SIGHUP ends the rest. Any still
        // there after that are ended by pid.
        let stuck = Set(ProcessExitWaiter.wait(for: shimPids, timeout: 3))
        for agent in record.agents {
            if let state = try? StateFile.read(path: agent.statePath) {
                if stuck.contains(state.shimPid), isShim(pid: state.shimPid) {
                    kill(state.shimPid, SIGKILL)
                    problems.append("\(agent.name): shim did not exit; killed")
                }
                if let pid = state.agentPid, processIsAlive(pid), processSession(pid) == pid {
                    kill(-pid, SIGKILL)
                    problems.append("\(agent.name): agent outlived its shim; killed")
                }
            }
            unlink(agent.socketPath)
            unlink(agent.specPath)
        }
        // What an agent detached from itself while its shim had crashed (no subreaper left to
        // adopt it) still carries the agent's mark: one pass over /proc for the whole profile.
        let leftovers = ProcFS.processes(markedWith: Shim.leftoverMark(agentDirectory: paths.agentsDir(profile: record.name) + "/"),
                                         prefix: true)
        for pid in leftovers { kill(pid, SIGKILL) }
        if !leftovers.isEmpty { problems.append("\(leftovers.count) process(es) that agents left after their shims died; killed") }
        problems += removeContainers(record)
        unlink(paths.profileRecord(profile: record.name))
        return problems
    }

    /// The profile's containers, by label (kept but stopped when `preserve_container`).
    @discardableResult
    func removeContainers(_ record: ProfileRecord) -> [String] {
        guard record.agents.contains(where: { $0.container != nil }) else { return [] }
        guard let engine = try? DockerEngine.locate(environment: environment) else {
            return ["the docker command is gone: cannot remove the containers of profile \(record.name)"]
        }
        return engine.removeContainers(profile: record.name, home: paths.root, on: record.allEngines)
    }

    /// Starts a new shim for an agent whose shim died, in the agent's own tmux window, and waits
    /// until it reports its agent started.
    public func respawnShim(_ record: ProfileRecord, agent: ProfileRecord.Agent, timeout: Double = 15) throws {
        let tmux = try Tmux.locate(socket: record.tmuxSocket, config: record.tmuxConfig, environment: environment)
        guard tmux.isServerRunning() else {
            throw HostingError("profile \(record.name) has no tmux server any more; bring it back with `supervisor down \(record.name)` then `supervisor up`")
        }
        if let state = try? StateFile.read(path: agent.statePath), let pid = state.agentPid,
           processIsAlive(pid), processSession(pid) == pid {
            kill(-pid, SIGKILL) // the orphan of the dead shim: it must not run twice
        }
        // The new shim asks for its agent's keys: from this process's environment, as `up` did.
        let spec = try ShimSpec.read(path: agent.specPath)
        let notices = try NotifyListener(path: notifySocketPath(record.name), keys: Launcher.keysByAgent([spec], environment: environment))
        defer { notices.close() }
        try tmux.respawn(session: record.name, window: agent.name, command: record.shimCommand + [agent.specPath],
                         environment: Launcher.scrubbedEnvironment(environment, specs: [spec]))
        try notices.wait(for: [agent.name], timeout: timeout, profile: record.name)
    }

    /// Asks every reachable shim to stop its agent and exit, and waits for them (in parallel).
    @discardableResult
    func stopShims(_ record: ProfileRecord, timeout: Double?) -> [String] {
        let loop = EventLoop()
        defer { loop.close() }
        var open = 0
        var problems: [String] = []
        var connections: [ShimConnection] = []
        for agent in record.agents where access(agent.socketPath, F_OK) == 0 {
            let connection = ShimConnection(loop: loop, agent: agent.name)
            connections.append(connection)
            open += 1
            connection.onClose = { _ in open -= 1 }
            connection.connect(path: agent.socketPath) { error in
                if error == nil { connection.send(.control(.shutdown)) }
            }
        }
        let stopTimeout = timeout ?? (maxStopTimeout(record) + 5)
        var expired = false
        let deadline = LoopTimer(loop: loop)
        deadline.start(seconds: stopTimeout) { expired = true } // shims past their own SIGKILL deadline are hung
        while open > 0 && !expired { loop.runOnce() }
        deadline.close()
        for connection in connections { connection.close() }
        if expired { problems.append("some shims did not stop within \(Int(stopTimeout))s") }
        return problems
    }

    private func maxStopTimeout(_ record: ProfileRecord) -> Double {
        record.agents.compactMap { try? ShimSpec.read(path: $0.specPath).stopTimeout }.max() ?? 10
    }
}

/// Appends one line to a file (made 0600 when new); best effort: a placement note is not worth
/// failing `up` for.
func appendLine(_ line: String, to path: String) {
    guard let fd = try? FileIO.openFile(path, O_WRONLY | O_APPEND | O_CREAT, mode: 0o600) else { return }
    defer { close(fd) }
    Posix.writeAll(fd, line + "\n")
}

/// Whether a pid runs a shim, `supervisor shim` or `supervisor-shim shim` (so we only ever signal
/// processes we started).
public func isShim(pid: Int32) -> Bool {
    let argv = ProcFS.arguments(pid)
    return argv.count >= 2 && argv[1] == "shim"
}

/// The session id of a process (an agent leads its own session).
public func processSession(_ pid: Int32) -> Int32? {
    let sid = getsid(pid)
    return sid < 0 ? nil : sid
}

/// Serialises `up` (and other lifecycle changes) per profile: a second `up` racing the first
/// gets a clear error instead of a second tmux server.
public final class ProfileLock {
    private let fd: Int32

    public init(path: String, profile: String) throws {
        try makeDirectories(String(path[..<path.lastIndex(of: "/")!]))
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HostingError("cannot open lock \(path): \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            Glibc.close(fd)
            throw HostingError("another supervisor command is starting or stopping profile \(profile) right now; try again when it has finished")
        }
    }

    public func release() {
        flock(fd, LOCK_UN)
        Glibc.close(fd)
    }
}
