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

/// partial -> full -> partial, persisted like `supervisor set AGENT context_mode=...`.
func cycleContextMode(profile: ProfileArgument, profileName: String, agent: String) throws -> String {
    var settings = try Settings.load(paths: profile.paths, profile: profileName)
    let own = try ProfileLoader.load(path: try profile.record().sourcePath)
    guard let base = own.agents.first(where: { $0.name == agent }),
          let spec = own.applying(settings).agents.first(where: { $0.name == agent }) else { throw HostingError("no agent \(agent)") }
    let next = spec.contextMode == .partial ? "full" : "partial"
    let value = try AgentSettings.validate(key: "context_mode", value: next, for: spec)
    // Back to what the profile says: no override is left behind in settings.json.
    let isDefault = base.contextMode.rawValue == next
    settings[agent, default: [:]]["context_mode"] = isDefault ? nil : value
    if settings[agent]?.isEmpty ?? false { settings[agent] = nil }
    try Settings.save(settings, paths: profile.paths, profile: profileName)
    return "\(agent).context_mode = \(next)\(isDefault ? " (the profile's own; override removed)" : " (saved)"); takes effect when it next starts"
}
