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

    /// Engine reachable, images present (`up` never pulls: a missing image is an error, not a
    /// long silent download), named networks present. Returns the engine when any agent uses Docker.
    @discardableResult
    public static func check(_ profile: Profile, environment: [String: String]) throws -> DockerEngine? {
        let agents = dockerAgents(profile)
        guard let first = agents.first else { return nil }
        try checkEnvironmentAllowList(profile)
        try checkWorkspaceUsers(profile)
        let purpose = "\(profile.sourcePath): agent \"\(first.name)\" (backend type \"docker\")"
        let engine = try DockerEngine.locate(environment: environment, purpose: purpose)
        try engine.ping(purpose: purpose)
        var seenImages: Set<String> = [], seenNetworks: Set<String> = ["none", "host"]
        for agent in agents {
            let image = agent.backend.image ?? ""
            if seenImages.insert(image).inserted, !engine.imageExists(image) {
                let hint = image.hasPrefix("supervisor-agent:") ? "build it with `supervisor image build --tag \(image)`" : "pull or build it (`docker pull \(image)`)"
                throw HostingError("\(profile.sourcePath): agent \"\(agent.name)\": image \(image) is not on the Docker engine (\(engine.endpoint)); \(hint)")
            }
            let network = agent.backend.network
            if !network.hasPrefix("container:"), seenNetworks.insert(network).inserted, !engine.networkExists(network) {
                throw HostingError("\(profile.sourcePath): agent \"\(agent.name)\": Docker network \"\(network)\" does not exist on \(engine.endpoint) (create it with `docker network create \(network)`, or use network = \"none\" or \"host\")")
            }
        }
        return engine
    }
}
