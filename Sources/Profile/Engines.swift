// `[engines.NAME]`: the Docker engines a profile's containers may run on. Kept apart from the
// rest of the schema (its own model type and reader) so the engine model can grow alone.

/// One Docker engine of the profile, as written: where the `docker` CLI reaches it. The
/// engine named `default` is always there: the engine the CLI reaches with no options
/// (`DOCKER_HOST`, `DOCKER_CONTEXT`, or the local socket), today's engine.
public struct EngineSpec: Codable, Equatable, Sendable {
    public enum Address: Codable, Equatable, Sendable {
        /// `unix:///path`, `tcp://HOST:PORT` or `ssh://USER@HOST[:PORT]`.
        case host(String)
        /// A `docker context` name.
        case context(String)
    }

    public var name: String
    public var address: Address
    /// Absolute paths of the TLS files (tcp only). With `tlsVerify` the engine's certificate is
    /// checked against `tlsCA`; without it the connection is encrypted but not verified.
    public var tlsCA: String?
    public var tlsCert: String?
    public var tlsKey: String?
    public var tlsVerify: Bool
    /// Where an agent's workspace lives on this engine: a named volume seeded from the host's
    /// `cwd` at first start (the default for tcp, ssh and contexts: another machine does not see
    /// this one's files), or a bind mount of `cwd` (the default for unix sockets: same machine).
    public var workspaceVolume: Bool
    /// Line of the `[engines.NAME]` header (0 if unknown).
    public var line: Int

    public init(name: String, address: Address, tlsCA: String? = nil, tlsCert: String? = nil, tlsKey: String? = nil,
                tlsVerify: Bool = true, workspaceVolume: Bool? = nil, line: Int = 0) {
        self.name = name; self.address = address; self.tlsCA = tlsCA; self.tlsCert = tlsCert; self.tlsKey = tlsKey
        self.tlsVerify = tlsVerify; self.line = line
        self.workspaceVolume = workspaceVolume ?? Self.remoteByDefault(address)
    }

    /// A unix socket is on this machine; anything else may well not be.
    static func remoteByDefault(_ address: Address) -> Bool {
        if case .host(let host) = address, host.hasPrefix("unix://") { return false }
        return true
    }

    /// The engine every agent uses unless it names another.
    public static let defaultName = "default"
    /// `engine = "auto"`: the supervisor picks the engine (see profiles/README.md, "Several engines").
    public static let automatic = "auto"

    /// The docker CLI's global options that reach this engine (argv, never a shell string).
    /// The files' contents never pass through here: only their paths.
    public var cliOptions: [String] {
        switch address {
        case .context(let name): return ["--context", name]
        case .host(let host):
            var options = ["--host", host]
            guard host.hasPrefix("tcp://") else { return options }
            options.append(tlsVerify ? "--tlsverify" : "--tls")
            if let tlsCA { options += ["--tlscacert", tlsCA] }
            if let tlsCert { options += ["--tlscert", tlsCert] }
            if let tlsKey { options += ["--tlskey", tlsKey] }
            return options
        }
    }

    /// For messages: `NAME (tcp://10.0.0.2:2376)`.
    public var description: String {
        switch address {
        case .host(let host): return "\(name) (\(host))"
        case .context(let context): return "\(name) (docker context \(context))"
        }
    }
}

/// Reads `[engines]`: one table per engine.
enum EnginesReader {
    static let keys = ["host", "context", "tls_ca", "tls_cert", "tls_key", "tls_verify", "workspace"]

    static func read(_ engines: TableReader, _ bases: Bases) -> [EngineSpec] {
        let d = engines.diagnostics
        var out: [EngineSpec] = []
        for name in engines.keys.sorted(by: { d.position(engines.child($0), value: false) < d.position(engines.child($1), value: false) }) {
            guard Text.isValidName(name) else {
                d.atKey(engines.child(name), "invalid engine name \(Text.quote(name)): \(Validator.nameRule)")
                continue
            }
            guard name != EngineSpec.defaultName, name != EngineSpec.automatic else {
                d.atKey(engines.child(name), "the engine name \(Text.quote(name)) is reserved (\"default\" is the engine the docker CLI reaches without options, \"auto\" lets the supervisor choose); choose another name")
                continue
            }
            guard let t = engines.subtable(name) else { continue }
            if let engine = read(t, name: name, bases) { out.append(engine) }
        }
        return out
    }

    static func read(_ t: TableReader, name: String, _ bases: Bases) -> EngineSpec? {
        let d = t.diagnostics
        t.rejectUnknownKeys(allowed: keys)
        let host = t.string("host", nonEmpty: true)
        let context = t.string("context", nonEmpty: true)
        var address: EngineSpec.Address?
        switch (host, context) {
        case (let host?, nil):
            if let problem = hostProblem(host) { d.atValue(t.child("host"), problem) } else { address = .host(host) }
        case (nil, let context?):
            if Text.isToken(context, extra: "_.-") { address = .context(context) }
            else { d.atValue(t.child("context"), "\(Text.quote(context)) is not a docker context name (letters, digits and _ . -)") }
        case (.some, .some):
            d.atKey(t.child("context"), "an engine has either host or context, not both")
        case (nil, nil):
            if !t.has("host") && !t.has("context") {
                d.missing(t.child("host"), "engine \(Text.quote(name)) needs host = \"unix:///path\", \"tcp://HOST:PORT\" or \"ssh://USER@HOST\", or context = \"NAME\"")
            }
        }
        var spec = EngineSpec(name: name, address: address ?? .host(""))
        spec.line = d.position(t.path, value: false).line
        spec.tlsVerify = t.bool("tls_verify") ?? true
        spec.workspaceVolume = EngineSpec.remoteByDefault(spec.address)
        if let w = t.string("workspace") {
            switch w {
            case "volume": spec.workspaceVolume = true
            case "bind": spec.workspaceVolume = false
            default: d.atValue(t.child("workspace"), "\(Text.quote(w)) is not a workspace mode; expected \"volume\" (a volume on the engine, seeded from cwd) or \"bind\" (cwd bind-mounted: the engine shares this machine's files)")
            }
        }
        for (key, keyPath) in [("tls_ca", \EngineSpec.tlsCA), ("tls_cert", \.tlsCert), ("tls_key", \.tlsKey)] {
            guard let file = t.string(key, nonEmpty: true) else { continue }
            // Without a valid host or context that error is the one to fix first.
            guard let address else { continue }
            guard case .host(let h) = address, h.hasPrefix("tcp://") else {
                d.atKey(t.child(key), "\(key) applies to a tcp:// host only (ssh and unix engines are reached without TLS; a context carries its own)")
                continue
            }
            spec[keyPath: keyPath] = PathResolver.resolve(file, against: bases.directory)
        }
        if t.has("tls_verify"), !(host?.hasPrefix("tcp://") ?? false) {
            d.atKey(t.child("tls_verify"), "tls_verify applies to a tcp:// host only")
        }
        if case .host(let h)? = address, h.hasPrefix("tcp://") {
            // Anyone who reaches an engine's TCP port is root on its machine: never plain TCP.
            if spec.tlsVerify && spec.tlsCA == nil {
                d.missing(t.child("tls_ca"), "engine \(Text.quote(name)): a tcp:// engine is verified by default and needs tls_ca (the CA that signed the engine's certificate), and usually tls_cert and tls_key (this client's); or set tls_verify = false to encrypt without checking the engine")
            }
            if (spec.tlsCert == nil) != (spec.tlsKey == nil) {
                d.missing(t.child(spec.tlsCert == nil ? "tls_cert" : "tls_key"), "engine \(Text.quote(name)): tls_cert and tls_key go together (the client's certificate and its key)")
            }
        }
        guard address != nil else { return nil }
        return spec
    }

    /// Nil when `host` is an address the docker CLI takes for a remote engine.
    static func hostProblem(_ host: String) -> String? {
        let expected = "expected \"unix:///path\", \"tcp://HOST:PORT\" or \"ssh://USER@HOST\""
        if host.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f }) {
            return "\(Text.quote(host)) is not an engine address (no spaces or control characters); \(expected)"
        }
        if host.hasPrefix("unix://") {
            return host.dropFirst(7).hasPrefix("/") ? nil : "\(Text.quote(host)) needs an absolute socket path (unix:///run/docker.sock)"
        }
        if host.hasPrefix("tcp://") {
            let rest = host.dropFirst(6)
            guard let colon = rest.lastIndex(of: ":"), colon != rest.startIndex,
                  let port = Int(rest[rest.index(after: colon)...].prefix { $0 != "/" }), (1...65535).contains(port) else {
                return "\(Text.quote(host)) needs a host and a port (tcp://HOST:PORT, usually 2376 with TLS)"
            }
            return nil
        }
        if host.hasPrefix("ssh://") {
            let rest = host.dropFirst(6)
            guard let at = rest.firstIndex(of: "@"), at != rest.startIndex, rest.index(after: at) != rest.endIndex else {
                return "\(Text.quote(host)) needs a user and a host (ssh://USER@HOST)"
            }
            return nil
        }
        return "\(Text.quote(host)) is not an engine address; \(expected)"
    }

    /// The engine an agent asks for must exist (or be `default`/`auto`); only Docker agents have one.
    static func checkChoice(_ choice: String?, at path: [PathComponent]?, backend: BackendType, engines: [EngineSpec], _ d: Diagnostics) {
        guard let choice, let path else { return }
        if backend != .docker {
            // A profile-wide default does not bind the agents that run locally.
            guard case .key("agents")? = path.first else { return }
            d.atKey(path, "engine applies to backend type \"docker\" only (this agent runs locally)")
            return
        }
        let names = [EngineSpec.defaultName, EngineSpec.automatic] + engines.map(\.name)
        if !names.contains(choice) {
            d.atValue(path, "no engine named \(Text.quote(choice)) (\(names.map { Text.quote($0) }.joined(separator: ", ")); define it in an [engines.\(choice)] table)")
        }
    }
}
