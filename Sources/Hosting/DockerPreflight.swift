import AgentHost
import Glibc
import Profile

/// The Docker backend's checks before anything starts (`up`, `validate`): each failure is one
/// clear error naming what to fix.
public enum DockerPreflight {
    /// Agents whose tools run in a container.
    public static func dockerAgents(_ profile: Profile) -> [AgentSpec] { profile.agents.filter { $0.backend.type == .docker } }

    /// Every variable an agent reads its API key from (whatever its backend: a key must not
    /// reach any container of the profile).
    public static func apiKeyVariables(_ profile: Profile) -> Set<String> {
        var names: Set<String> = []
        for agent in profile.agents where agent.kind.usesLLM {
            if let name = agent.llm.apiKeyEnv ?? agent.llm.provider.defaultAPIKeyEnv { names.insert(name) }
        }
        for provider in LLMProvider.allCases { if let name = provider.defaultAPIKeyEnv { names.insert(name) } }
        return names
    }

    /// Refuses an `env` allow-list that names an API key variable (any agent's `api_key_env`,
    /// or anything named `*_API_KEY`) or another secret (`Secrets.isSecretName`): such variables
    /// never enter a container (the docker CLI does not even get their values).
    public static func checkEnvironmentAllowList(_ profile: Profile) throws {
        let keys = apiKeyVariables(profile)
        func refusal(_ name: String) -> String? {
            if keys.contains(name) || Secrets.isAPIKeyName(name) {
                return "which holds an API key; API keys never enter a container (the agent calls the model from the host)"
            }
            if Secrets.isSecretName(name) {
                return "which is named like a secret (the word TOKEN or SECRET, or PASSWORD in its name); secrets never enter a container"
            }
            return nil
        }
        for agent in dockerAgents(profile) {
            let place = agent.line > 0 ? "\(profile.sourcePath):\(agent.line)" : profile.sourcePath
            for name in agent.backend.env {
                if let why = refusal(name) {
                    throw HostingError("\(place): agent \"\(agent.name)\": backend env lists \(name), \(why): remove it from env")
                }
            }
            if agent.kind == .command {
                for name in agent.env.keys.sorted() {
                    if let why = refusal(name) {
                        throw HostingError("\(place): agent \"\(agent.name)\": env sets \(name) for a command that runs inside a container, \(why): remove it")
                    }
                }
            }
        }
    }

    /// Refuses an agent whose container would get a default user that cannot write its
    /// workspace (supervisor runs as root, the workspace belongs to root and only root may
    /// write it): the agent would fail at its first write. Root in the container is never a
    /// default; the profile can ask for it.
    public static func checkWorkspaceUsers(_ profile: Profile, uid: uid_t = getuid(), gid: gid_t = getgid()) throws {
        for agent in dockerAgents(profile) where agent.backend.user == nil {
            guard let owner = ContainerSpec.FileOwner.of(agent.cwd),
                  ContainerSpec.defaultUser(uid: uid, gid: gid, workspace: owner) == nil else { continue }
            let place = agent.line > 0 ? "\(profile.sourcePath):\(agent.line)" : profile.sourcePath
            throw HostingError("\(place): agent \"\(agent.name)\": its workspace \(agent.cwd) belongs to root and only root may write it, "
                + "but its container would run as \(ContainerSpec.unprivilegedUser) (supervisor runs as root and never makes root "
                + "the container's default user): give the directory to a user (`chown -R 1000:1000 \(agent.cwd)`; its owner "
                + "becomes the container's user), or set user = \"root\" in the agent's [backend]")
        }
    }

    /// Engines reachable (asked at once, each with a timeout), `auto` agents placed, images
    /// present on each engine that runs them (`up` never pulls: a missing image is an error, not
    /// a long silent download), named networks present. Nil when no agent uses Docker.
    @discardableResult
    /// `neighbours`: agents of the profile not being planned now (one agent's start), with the
    /// engine each runs on, so an `auto` agent placed again counts them (least agents first).
    public static func check(_ profile: Profile, environment: [String: String], recorded: [String: String] = [:],
                             neighbours: [EnginePlacement.Request] = []) throws -> DockerPlan? {
        let agents = dockerAgents(profile)
        guard let first = agents.first else { return nil }
        try checkEnvironmentAllowList(profile)
        try checkWorkspaceUsers(profile)
        let purpose = "\(profile.sourcePath): agent \"\(first.name)\" (backend type \"docker\")"
        let docker = try DockerEngine.locate(environment: environment, purpose: purpose)
        let all = EngineEndpoint.all(profile)
        let choices = agents.map { $0.backend.engine ?? EngineSpec.defaultName }
        let needed = choices.contains(EngineSpec.automatic) ? all : all.filter { choices.contains($0.name) }
        for engine in profile.engines where needed.contains(where: { $0.name == engine.name }) {
            for (key, file) in [("tls_ca", engine.tlsCA), ("tls_cert", engine.tlsCert), ("tls_key", engine.tlsKey)] {
                if let file, access(file, R_OK) != 0 {
                    throw HostingError("\(profile.sourcePath):\(engine.line): engine \"\(engine.name)\": \(key) \(file) cannot be read (\(String(cString: strerror(errno))))")
                }
            }
        }
        let health = docker.probe(needed)
        for agent in agents {
            let name = agent.backend.engine ?? EngineSpec.defaultName
            guard name != EngineSpec.automatic, case .down(let reason)? = health[name] else { continue }
            let place = "\(profile.sourcePath): agent \"\(agent.name)\""
            if name == EngineSpec.defaultName { try docker.ping(purpose: place + " (backend type \"docker\")") }
            let endpoint = all.first { $0.name == name }!
            throw HostingError("\(place): engine \(name) (\(endpoint.address)) does not answer: \(reason)")
        }
        let requests = agents.map {
            EnginePlacement.Request(agent: $0.name, choice: $0.backend.engine,
                                    memoryBytes: EnginePlacement.bytes($0.backend.memory ?? ContainerSpec.defaultMemory))
        }
        let decision: EnginePlacement.Decision
        do {
            decision = try EnginePlacement.place(requests + neighbours, engines: all.map(\.name), health: health, recorded: recorded)
        } catch let error as HostingError {
            throw HostingError("\(profile.sourcePath): \(error.description)")
        }
        var seenImages: Set<String> = [], seenNetworks: Set<String> = []
        for agent in agents {
            let endpoint = all.first { $0.name == decision.engine[agent.name] }!
            if agent.kind == .coder && endpoint.workspaceVolume {
                // Its file tools read and write the workspace on this machine.
                throw HostingError("\(profile.sourcePath): agent \"\(agent.name)\": a coder agent needs its workspace on this machine, but engine \(endpoint.name) keeps workspaces in volumes; give the agent another engine, or set workspace = \"bind\" in [engines.\(endpoint.name)] when that engine shares this machine's files")
            }
            let engine = docker.on(endpoint)
            let image = agent.backend.image ?? ""
            if seenImages.insert(endpoint.name + "\u{0}" + image).inserted, !engine.imageExists(image) {
                var hint = image.hasPrefix("supervisor-agent:") ? "build it with `supervisor image build --tag \(image)`" : "pull or build it (`docker pull \(image)`)"
                if endpoint.name != EngineEndpoint.defaultName {
                    hint = "copy it there with `supervisor image copy \(profile.sourcePath) \(image) --engine \(endpoint.name)` (docker save | docker load), or " + hint.replacingOccurrences(of: "--tag", with: "--profile \(profile.sourcePath) --engine \(endpoint.name) --tag")
                }
                throw HostingError("\(profile.sourcePath): agent \"\(agent.name)\": image \(image) is not on the Docker engine (\(engine.endpoint)); \(hint)")
            }
            let network = agent.backend.network
            if !["none", "host"].contains(network), !network.hasPrefix("container:"),
               seenNetworks.insert(endpoint.name + "\u{0}" + network).inserted, !engine.networkExists(network) {
                throw HostingError("\(profile.sourcePath): agent \"\(agent.name)\": Docker network \"\(network)\" does not exist on \(engine.endpoint) (create it with `docker network create \(network)`, or use network = \"none\" or \"host\")")
            }
        }
        return DockerPlan(docker: docker, engines: all, placement: decision)
    }
}

/// What the Docker preflight decided: the CLI, the profile's engines, and which engine runs each
/// Docker agent.
public struct DockerPlan {
    /// The CLI aimed at the default engine.
    public let docker: DockerEngine
    public let engines: [EngineEndpoint]
    public let placement: EnginePlacement.Decision

    public var executable: String { docker.executable }

    /// The engine an agent runs on (the default for one the placement does not know).
    public func engine(of agent: String) -> EngineEndpoint {
        let name = placement.engine[agent] ?? EngineEndpoint.defaultName
        return engines.first { $0.name == name } ?? .default
    }
}
