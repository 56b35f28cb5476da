import ArgumentParser
import Foundation
import Hosting
import Loop
import Profile

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a profile, start its tmux server and all agents, and watch them.",
        discussion: """
        On a terminal, opens the dashboard (q quits it; the agents keep running).
        --detach returns once every agent has started. --headless (the default when stdout is not a
        terminal) waits until every agent has finished, prints a summary and exits non-zero if any failed.
        """)

    @OptionGroup var profile: ProfileArgument
    @Flag(help: "Return once all agents have started.") var detach = false
    @Flag(help: "Wait for all agents to finish and print a summary (default when stdout is not a terminal).") var headless = false

    func validate() throws {
        if detach && headless { throw ValidationError("--detach and --headless exclude each other") }
    }

    func run() throws {
        let environment = profile.environment
        let loaded = try profile.loadProfile()
        let launcher = makeLauncher(paths: profile.paths, environment: environment, tmuxConfig: try locateTmuxConfig(environment: environment))
        let size = PseudoTerminal.size(of: 1) ?? (rows: 50, cols: 200)
        let record: ProfileRecord
        switch try launcher.up(loaded, allowRunning: detach, size: size) {
        case .started(let started): record = started
        case .alreadyUp(let running):
            print("profile \(running.name) is already up and healthy")
            record = running
        }
        if detach {
            let statuses = StatusReport.withContainers(StatusReport.collect(record), home: profile.paths.root, environment: environment,
                                                       engines: [record.name: record.allEngines])
            print(StatusReport.table(statuses, now: Date().timeIntervalSince1970))
            print("\nattach: supervisor attach \(record.name) AGENT · stop: supervisor down \(record.name)")
            return
        }
        if !headless && isatty(0) == 1 && isatty(1) == 1 {
            try openDashboard(profile: profile, record: record)
            return
        }
        let failed = try waitHeadless(record)
        if failed { throw ExitCode(1) }
    }

    /// Waits until every agent has come to rest, then prints a summary table.
    private func waitHeadless(_ record: ProfileRecord) throws -> Bool {
        let loop = EventLoop()
        defer { loop.close() }
        let watcher = ProfileWatcher(loop: loop, record: record, output: false)
        var done = watcher.allFinished
        watcher.onChange = { _ in done = watcher.allFinished }
        watcher.start()
        let interrupt = SignalWatcher(loop: loop)
        var interrupted = false
        try interrupt.start(SIGINT) { _ in interrupted = true }
        while !done && !interrupted { loop.runOnce() }
        watcher.stop()
        interrupt.close()
        if interrupted {
            print("\nstopped waiting; the agents keep running (supervisor status \(record.name))")
            return false
        }
        let statuses = StatusReport.collect(record)
        var rows = [["AGENT", "STATE", "EXIT", "RESTARTS", "DURATION"]]
        var failed = false
        for status in statuses {
            let state = try? StateFile.read(path: record.agents.first { $0.name == status.agent }!.statePath)
            let last = state?.runs.last
            let duration = last.map { ($0.endedAt ?? Date().timeIntervalSince1970) - $0.startedAt }
            let staying = status.state == "running" && watcher.activity[status.agent] == "staying"
            rows.append([status.agent, staying ? "running (goal reached, staying)" : status.state, status.lastExit?.description ?? "-",
                         "\(status.restarts)", duration.map(formatDuration) ?? "-"])
            if status.state == "failed" || status.state == "lost" || (last?.exit.map { $0.isFailure } ?? false) { failed = true }
        }
        print(formatTable(rows))
        print("\nlogs: supervisor logs \(record.name) AGENT · tear down: supervisor down \(record.name)")
        return failed
    }
}

struct Down: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop every agent gracefully and remove what `up` made (logs are kept).")

    @OptionGroup var profile: ProfileArgument

    func run() throws {
        let record = try profile.record()
        let launcher = makeLauncher(paths: profile.paths, environment: profile.environment,
                                    shimCommand: record.shimCommand, tmuxConfig: record.tmuxConfig)
        let lock = try ProfileLock(path: profile.paths.lockFile(profile: record.name), profile: record.name)
        defer { lock.release() }
        for problem in launcher.down(record) { print("warning: \(problem)") }
        print("profile \(record.name) is down; logs are in \(record.logsDir)/\(record.name)")
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the agents of one profile, or of every profile that is up.")

    @Argument(help: "Profile: a .toml file or a profile name. All profiles when omitted.") var profile: String?
    @Flag(help: "Machine-readable output.") var json = false

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let paths = SupervisorPaths(environment: environment)
        var records: [ProfileRecord] = []
        if let profile {
            var argument = ProfileArgument()
            argument.profile = profile
            // A profile that is down: its agents' state files still tell how they ended.
            records = [try argument.recordOrLastKnown()]
        } else {
            let dir = paths.root + "/profiles"
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() {
                if let record = try? ProfileRecord.read(path: paths.profileRecord(profile: name)) { records.append(record) }
            }
        }
        let statuses = StatusReport.withContainers(records.flatMap { StatusReport.collect($0) }, home: paths.root, environment: environment,
                                                   engines: Dictionary(records.map { ($0.name, $0.allEngines) }, uniquingKeysWith: { a, _ in a }))
        if json {
            FileHandle.standardOutput.write(try StatusDocument(agents: statuses).encoded())
            return
        }
        if records.isEmpty { print("no profile is up"); return }
        let now = Date().timeIntervalSince1970
        for record in records {
            print("\(record.name)  (\(record.sourcePath.isEmpty ? "down" : record.sourcePath))")
            print(StatusReport.table(statuses.filter { $0.profile == record.name }, now: now))
        }
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a profile without starting anything.")

    @Argument(help: "The profile's .toml file.") var path: String

    func run() throws {
        var argument = ProfileArgument()
        argument.profile = path
        let profile = try argument.loadProfile()
        let launcher = makeLauncher(paths: argument.paths, environment: argument.environment, tmuxConfig: nil)
        _ = try launcher.plan(profile)
        print("\(path): ok (profile \(profile.name), \(profile.agents.count) agents: \(profile.agents.map { "\($0.name) [\($0.kind.rawValue)]" }.joined(separator: ", ")))")
    }
}

struct ShimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "shim", abstract: "Host one agent (started by `up` inside its tmux window).", shouldDisplay: false)

    @Argument var spec: String

    func run() throws {
        let status = Shim.main(specPath: spec)
        if status != 0 { throw ExitCode(status) }
    }
}
