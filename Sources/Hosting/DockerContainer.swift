import AgentHost
import Profile

extension ContainerSpec {
    /// Resolves an agent's `[backend]` into a container. Throws on an env allow-list that names an
    /// API key (see `DockerPreflight.checkEnvironmentAllowList`).
    public static func make(profile: Profile, agent: AgentSpec, home: String, dockerExecutable: String,
                            engine: EngineEndpoint? = nil) -> ContainerSpec {
        let backend = agent.backend
        // On an engine that does not share this machine's files the workspace is a volume there.
        var mounts = [engine?.workspaceVolume == true
                      ? BindMount(host: workspaceVolumeName(profile: profile.name, agent: agent.name), container: backend.workspace,
                                  readOnly: false, volume: true)
                      : BindMount(host: agent.cwd, container: backend.workspace, readOnly: false)]
        mounts += backend.mounts.filter { $0.container != backend.workspace }
            .map { BindMount(host: $0.host, container: $0.container, readOnly: $0.readOnly) }
        return ContainerSpec(
            name: containerName(profile: profile.name, agent: agent.name), image: backend.image ?? "",
            profile: profile.name, agent: agent.name, home: home, network: backend.network,
            memory: backend.memory ?? defaultMemory, cpus: backend.cpus, pidsLimit: backend.pidsLimit ?? defaultPidsLimit,
            readOnly: backend.readOnly, mounts: mounts, environmentNames: backend.env,
            // No default user can write the workspace: `DockerPreflight` refuses before this is used.
            user: backend.user ?? defaultUser(workspace: .of(agent.cwd)) ?? unprivilegedUser,
            workspace: backend.workspace, preserve: backend.preserveContainer,
            dockerExecutable: dockerExecutable, engine: engine?.options.isEmpty == false ? engine : nil)
    }
}
