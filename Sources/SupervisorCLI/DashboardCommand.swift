import ArgumentParser
import Dashboard
import Foundation
import Hosting
import Profile

struct DashboardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Open the full-screen dashboard of a profile that is up (q quits it; the agents keep running).")

    @OptionGroup var profile: ProfileArgument

    func run() throws {
        guard isatty(0) == 1 && isatty(1) == 1 else { throw HostingError("the dashboard needs a terminal (use `supervisor status` otherwise)") }
        try openDashboard(profile: profile, record: try profile.record())
    }
}

/// Shared by `dashboard` and `up` on a terminal.
func openDashboard(profile: ProfileArgument, record: ProfileRecord) throws {
    let options = DashboardOptions(
        environment: profile.environment,
        stateDir: profile.paths.profileDir(record.name),
        cycleContext: { agent in try cycleContextMode(profile: profile, profileName: record.name, agent: agent) })
    try Dashboard(record: record, options: options).run()
}

/// partial -> full -> partial, persisted like `supervisor set AGENT context_mode=...`
/// (`AgentSettings.cyclingContextMode` decides).
func cycleContextMode(profile: ProfileArgument, profileName: String, agent: String) throws -> String {
    let settings = try Settings.load(paths: profile.paths, profile: profileName)
    let own = try ProfileLoader.load(path: try profile.record().sourcePath)
    let cycled: (overrides: [String: [String: SettingValue]], mode: String, isProfileOwn: Bool)
    do { cycled = try AgentSettings.cyclingContextMode(of: agent, profile: own, overrides: settings) } catch let e as SettingError {
        throw HostingError(e.message)
    }
    try Settings.save(cycled.overrides, paths: profile.paths, profile: profileName)
    return "\(agent).context_mode = \(cycled.mode)\(cycled.isProfileOwn ? " (the profile's own; override removed)" : " (saved)"); takes effect when it next starts"
}
