import AgentHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Hosting
import Loop

/// Every profile that is up under `SUPERVISOR_HOME`, each followed by a `ProfileWatcher` (state,
/// events, output of all its agents). Profiles that come up or go down later are picked up from
/// inotify on the profiles directory and on each profile's directory (its `profile.json`
/// appears with `up` and goes with `down`), so no restart and no polling is needed.
final class ProfileSet {
    struct Followed {
        var record: ProfileRecord
        var watcher: ProfileWatcher
        /// Per agent: the offset just past the last output byte the shim sent (or its hello's
        /// log size): where live output continues.
        var streamEnd: [String: UInt64] = [:]
    }

    let loop: EventLoop
    let paths: SupervisorPaths
    private(set) var profiles: [String: Followed] = [:]
    private var rootWatch: FileWatch?
    private var directoryWatches: [String: FileWatch] = [:]

    var onOutput: ((String, String, UInt64, [UInt8]) -> Void)?
    var onEvent: ((String, String, String) -> Void)?
    var onChange: ((String, String) -> Void)?
    /// An agent's shim acknowledged the subscription asked of it.
    var onSubscribed: ((String, String) -> Void)?
    /// A profile came up (true) or went down (false).
    var onProfile: ((String, Bool) -> Void)?

    init(loop: EventLoop, paths: SupervisorPaths) {
        self.loop = loop
        self.paths = paths
    }

    func start() throws {
        let dir = paths.root + "/profiles"
        try makeDirectories(dir)
        let watch = FileWatch(loop: loop)
        try watch.start(path: dir) { [weak self] _ in self?.rescan() }
        rootWatch = watch
        rescan()
    }

    func stop() {
        rootWatch?.close()
        directoryWatches.values.forEach { $0.close() }
        directoryWatches = [:]
        for followed in profiles.values { followed.watcher.stop() }
        profiles = [:]
    }

    /// Reads every profile record; starts following new ones, stops following gone ones, and
    /// starts afresh for one that went down and up again.
    func rescan() {
        let dir = paths.root + "/profiles"
        let names = Set(((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { Route.isName($0) })
        for name in names where directoryWatches[name] == nil {
            let watch = FileWatch(loop: loop)
            if (try? watch.start(path: paths.profileDir(name), { [weak self] file in
                if file == nil || file == "profile.json" { self?.rescan() }
            })) != nil {
                directoryWatches[name] = watch
            } else {
                watch.close()
            }
        }
        for (name, watch) in directoryWatches where !names.contains(name) {
            watch.close()
            directoryWatches[name] = nil
        }
        for name in names {
            let record = try? ProfileRecord.read(path: paths.profileRecord(profile: name))
            if let followed = profiles[name], record?.upAt == followed.record.upAt { continue }
            if let followed = profiles.removeValue(forKey: name) {
                followed.watcher.stop()
                onProfile?(name, false)
            }
            guard let record else { continue }
            follow(record)
            onProfile?(name, true)
        }
        for name in profiles.keys where !names.contains(name) {
            profiles.removeValue(forKey: name)?.watcher.stop()
            onProfile?(name, false)
        }
    }

    private func follow(_ record: ProfileRecord) {
        let name = record.name
        // Nothing is subscribed until a client watches an agent (`Server.updateInterest`).
        let watcher = ProfileWatcher(loop: loop, record: record, output: true, onDemand: true)
        watcher.onHello = { [weak self] agent, hello in
            self?.profiles[name]?.streamEnd[agent] = hello.logBytes
        }
        watcher.onOutput = { [weak self] agent, offset, bytes in
            guard let self else { return }
            self.profiles[name]?.streamEnd[agent] = offset + UInt64(bytes.count)
            self.onOutput?(name, agent, offset, bytes)
        }
        watcher.onEvent = { [weak self] agent, line in self?.onEvent?(name, agent, line) }
        watcher.onChange = { [weak self] agent in self?.onChange?(name, agent) }
        watcher.onSubscribed = { [weak self] agent in self?.onSubscribed?(name, agent) }
        profiles[name] = Followed(record: record, watcher: watcher)
        watcher.start()
    }

    func agent(_ profile: String, _ agent: String) -> ProfileRecord.Agent? {
        profiles[profile]?.record.agents.first { $0.name == agent }
    }
}
