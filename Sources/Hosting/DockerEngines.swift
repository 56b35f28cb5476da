import AgentHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Loop
import Profile

extension EngineEndpoint {
    public init(_ spec: EngineSpec) { self.init(name: spec.name, options: spec.cliOptions, workspaceVolume: spec.workspaceVolume) }

    /// The profile's engines: `default` first, then its `[engines]` tables in file order.
    public static func all(_ profile: Profile) -> [EngineEndpoint] { [.default] + profile.engines.map(EngineEndpoint.init) }
}

/// What `docker info` says of an engine, or why it did not answer.
public enum EngineHealth: Equatable, Sendable {
    case up(memoryBytes: Int64)
    case down(reason: String)

    public var isUp: Bool { if case .up = self { return true } else { return false } }
}

extension DockerEngine {
    /// Runs one command on each engine at once (one loop, one CLI per engine), each killed after
    /// `timeout` seconds: an engine that does not answer costs the timeout once, not once per engine.
    public func runOnEach(_ engines: [EngineEndpoint], timeout: Double?, _ arguments: (EngineEndpoint) -> [String]) -> [String: SubprocessResult] {
        let loop = EventLoop()
        defer { loop.close() }
        var results: [String: SubprocessResult] = [:]
        for engine in engines {
            runSubprocessAsync(loop: loop, arguments: [executable] + engine.options + arguments(engine), environment: environment,
                               timeout: timeout) { results[engine.name] = $0 }
        }
        while results.count < engines.count { loop.runOnce() }
        return results
    }

    /// Asks every engine `docker info` at once.
    public func probe(_ engines: [EngineEndpoint], timeout: Double = DockerEngine.questionTimeout) -> [String: EngineHealth] {
        runOnEach(engines, timeout: timeout) { _ in ["info", "--format", "{{.MemTotal}}"] }.mapValues { result in
            let text = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            guard result.succeeded, let memory = Int64(text) else {
                return .down(reason: firstLine(result.errorOutput, or: result.succeeded ? "docker info said \(text)" : "docker info failed"))
            }
            return .up(memoryBytes: memory)
        }
    }

    /// Removes the profile's containers on each engine (in parallel); an engine that does not
    /// answer is named in the problems and does not hold up the others.
    public func removeContainers(profile: String, home: String?, on engines: [EngineEndpoint]) -> [String] {
        let health = probe(engines)
        var problems: [String] = []
        for engine in engines {
            if case .down(let reason)? = health[engine.name] {
                problems.append("engine \(engine.name) (\(engine.address)) does not answer (\(reason)): the containers of profile \(profile) there were not removed")
                continue
            }
            problems += on(engine).removeContainers(profile: profile, home: home).map { "engine \(engine.name): \($0)" }
        }
        return problems
    }
}

/// Where `auto` agents run: a pure decision over the engines' health and the agents already
/// placed, so it is tested without engines.
public enum EnginePlacement {
    public struct Request: Equatable {
        public var agent: String
        /// nil or "default": the default engine; "auto"; or an engine's name.
        public var choice: String?
        /// The container's memory limit in bytes (counted against the engine's memory).
        public var memoryBytes: Int64
        public init(agent: String, choice: String?, memoryBytes: Int64) {
            self.agent = agent; self.choice = choice; self.memoryBytes = memoryBytes
        }
    }

    public struct Decision: Equatable {
        public var engine: [String: String] = [:]
        /// One line per `auto` agent placed afresh or moved (for the agent's events and `up`'s output).
        public var notes: [String: String] = [:]
    }

    /// Fixed choices first; then each `auto` agent keeps its recorded engine while that engine
    /// is in the profile and answers, else goes to the answering engine with the fewest agents
    /// of the profile, then the most memory left after the limits of the agents placed there,
    /// then the first in the profile's order. Throws when an `auto` agent has no engine to go to.
    public static func place(_ requests: [Request], engines: [String], health: [String: EngineHealth],
                             recorded: [String: String]) throws -> Decision {
        var decision = Decision()
        var count: [String: Int] = [:], used: [String: Int64] = [:]
        func assign(_ request: Request, _ engine: String) {
            decision.engine[request.agent] = engine
            count[engine, default: 0] += 1
            used[engine, default: 0] += request.memoryBytes
        }
        for request in requests where request.choice != EngineSpec.automatic {
            assign(request, request.choice ?? EngineSpec.defaultName)
        }
        for request in requests where request.choice == EngineSpec.automatic {
            if let previous = recorded[request.agent], engines.contains(previous), health[previous]?.isUp == true {
                assign(request, previous)
                continue
            }
            let healthy = engines.filter { health[$0]?.isUp == true }
            guard !healthy.isEmpty else {
                let why = engines.map { name in
                    if case .down(let reason)? = health[name] { return "\(name): \(reason)" } else { return "\(name): not asked" }
                }.joined(separator: "; ")
                throw HostingError("agent \"\(request.agent)\" (engine = \"auto\"): no engine of the profile answers (\(why))")
            }
            func free(_ name: String) -> Int64 {
                if case .up(let memory)? = health[name] { return memory - used[name, default: 0] } else { return 0 }
            }
            let best = healthy.enumerated().min { a, b in
                let (ca, cb) = (count[a.element, default: 0], count[b.element, default: 0])
                if ca != cb { return ca < cb }
                let (fa, fb) = (free(a.element), free(b.element))
                if fa != fb { return fa > fb }
                return a.offset < b.offset
            }!.element
            assign(request, best)
            if let previous = recorded[request.agent], previous != best {
                let why = !engines.contains(previous) ? "no longer in the profile" : "not answering"
                decision.notes[request.agent] = "placed on engine \(best) (engine = \"auto\"; its engine \(previous) is \(why))"
            } else if recorded[request.agent] == nil {
                decision.notes[request.agent] = "placed on engine \(best) (engine = \"auto\")"
            }
        }
        return decision
    }

    /// `2g`, `512m`, `100k`, `1024` -> bytes (0 when unreadable).
    public static func bytes(_ size: String) -> Int64 {
        let lower = size.lowercased()
        let units: [Character: Int64] = ["b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
        if let last = lower.last, let unit = units[last] { return Int64(Double(lower.dropLast()).map { $0 * Double(unit) } ?? 0) }
        return Int64(lower) ?? 0
    }
}

/// The profile's recorded placements (`placements.json` in its state directory): agent -> engine.
/// Kept by `down`, so `up` puts `auto` agents where they were (their workspace volumes live there).
public enum PlacementFile {
    public static func read(path: String) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path),
              let map = try? JSONDecoder().decode([String: String].self, from: data) else { return [:] }
        return map
    }

    public static func write(_ map: [String: String], path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeFileAtomically(path: path, data: Array(try encoder.encode(map)))
    }
}

/// `engines.tsv` in the profile's state directory: one engine a line, its name then its CLI
/// options, tab-separated. Kept by `down` (a container left on an engine that did not answer
/// must stay findable) and read by cleanup.sh, which has no JSON parser to rely on.
public enum EnginesFile {
    public static let name = "engines.tsv"

    public static func write(_ engines: [EngineEndpoint], path: String) throws {
        let lines = engines.filter { !$0.options.isEmpty }.compactMap { engine -> String? in
            let fields = [engine.name] + engine.options
            // A tab or newline in a path would break the format: such an engine is left out
            // (cleanup.sh then reports nothing for it; `down` still reaches it from the record).
            guard !fields.contains(where: { $0.contains("\t") || $0.contains("\n") }) else { return nil }
            return fields.joined(separator: "\t") + "\n"
        }
        try writeFileAtomically(path: path, data: Array(lines.joined().utf8))
    }
}
