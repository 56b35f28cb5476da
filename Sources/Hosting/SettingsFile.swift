import AgentHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import AgentProtocol
import Profile

/// `settings.json`: the run-time overrides `supervisor set` (and `serve`'s settings endpoint)
/// persist per profile and agent.
public enum Settings {
    public static func load(paths: SupervisorPaths, profile: String) throws -> [String: [String: SettingValue]] {
        let path = paths.settingsFile(profile: profile)
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        do { return try JSONCoding.decode([String: [String: SettingValue]].self, from: Array(data)) } catch {
            throw HostingError("\(path) is damaged (\(error)); fix it or remove it with `supervisor set \(profile) AGENT --reset`")
        }
    }

    public static func save(_ settings: [String: [String: SettingValue]], paths: SupervisorPaths, profile: String) throws {
        try makeDirectories(paths.profileDir(profile))
        try writeFileAtomically(path: paths.settingsFile(profile: profile), data: try JSONCoding.encodeBytes(settings, pretty: true, sortedKeys: true))
    }
}
