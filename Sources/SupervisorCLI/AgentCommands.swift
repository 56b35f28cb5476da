import AgentTranscript
import ArgumentParser
import Foundation
import Hosting
import Loop
import Profile

struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Attach this terminal to an agent's tmux window (detach with C-b d or F12).")

    @OptionGroup var profile: ProfileArgument
    @OptionGroup var agent: AgentArgument

    func run() throws {
        let record = try profile.record()
        _ = try record.agent(agent.agent)
        let environment = profile.environment
        guard let executable = resolveExecutable("tmux", path: environment["PATH"]) else {
            throw HostingError("tmux is not installed")
        }
        let tmux = Tmux(executable: executable, socket: record.tmuxSocket, config: record.tmuxConfig)
        guard tmux.isServerRunning() else { throw HostingError("profile \(record.name) has no tmux server running; start it with `supervisor up`") }
        guard isatty(0) == 1 else { throw HostingError("attach needs a terminal") }
        let argv = tmux.attachCommand(session: record.name, window: agent.agent, environment: environment)
        let insideOurServer = argv.contains("switch-client")
        execReplacing(argv, environment: insideOurServer ? environment : Tmux.cleanEnvironment(environment))
    }
}

/// Colour for rendered conversations: standard output is a terminal and NO_COLOR is not set.
func stdoutIsTerminal() -> Bool {
    let environment = ProcessInfo.processInfo.environment
    return isatty(1) == 1 && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
}

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print an agent's log: a built-in agent's conversation, or a command agent's terminal text.",
        discussion: """
            For a built-in agent (coder, goal, exec) this prints the conversation rendered from its \
            events (<agent>.events.jsonl): what it was told, the model's replies, the tools, commands \
            and code blocks it ran with their output (long ones cut), errors, budgets and the final \
            answer. --terminal prints its terminal text instead (control sequences stripped), --raw \
            the terminal bytes. For a command agent the default is the terminal text.
            """)

    @OptionGroup var profile: ProfileArgument
    @OptionGroup var agent: AgentArgument
    @Flag(name: .shortAndLong, help: "Keep printing new output as it arrives.") var follow = false
    @Flag(help: "Print the terminal bytes exactly as the agent wrote them.") var raw = false
    @Flag(help: "Print the terminal text (control sequences stripped), also for a built-in agent.") var terminal = false
    @Flag(help: "Conversation: show status events too (states, each request's tokens and timings).") var verbose = false
    @Option(name: .shortAndLong, help: "Only the last N lines.") var lines: Int?

    func validate() throws {
        if let lines, lines < 0 { throw ValidationError("--lines must be at least 0") }
        if raw && terminal { throw ValidationError("--raw and --terminal exclude each other") }
    }

    func run() throws {
        let target = try locate()
        if raw || terminal || !target.kind.isBuiltIn {
            try printTerminal(logPath: target.log, socketPath: target.socket)
        } else {
            try printConversation(eventsPath: target.events, socketPath: target.socket)
        }
    }

    /// The conversation, rendered from the events file (and, with --follow, the shim's event
    /// frames after the hello's `eventsBytes`: no gap, no overlap).
    private func printConversation(eventsPath: String, socketPath: String) throws {
        let out = FileHandle.standardOutput
        var renderer = TranscriptRenderer(.init(colour: stdoutIsTerminal(), verbose: verbose))
        func printExisting(upTo: UInt64?) throws {
            guard let data = FileManager.default.contents(atPath: eventsPath) else {
                if upTo == nil { throw HostingError("no events yet at \(eventsPath)") }
                return
            }
            let end = min(UInt64(data.count), upTo ?? UInt64.max)
            var text = ""
            for line in data.prefix(Int(end)).split(separator: 0x0A) {
                if let record = EventRecord(line: String(decoding: line, as: UTF8.self)) { text += renderer.render(record) }
            }
            if !follow { text += renderer.finish() }
            if let lines { text = lastLines(text, lines) }
            out.write(Data(text.utf8))
        }
        if !follow {
            try printExisting(upTo: nil)
            return
        }
        var started = false
        let ended = try followShim(socketPath: socketPath, output: false, events: true) { frame in
            switch frame.type {
            case .hello:
                guard let hello = try? frame.decodeHello() else { return "the shim's hello is not readable" }
                do { try printExisting(upTo: hello.eventsBytes) } catch { return "\(error)" }
                started = true
            case .event:
                guard started, let line = try? frame.decodeEvent(), let record = EventRecord(line: line) else { return nil }
                out.write(Data(renderer.render(record).utf8))
            default: break
            }
            return nil
        }
        if !started {
            // No shim to follow (profile down or agent's shim gone): print what the file has.
            try printExisting(upTo: nil)
            out.write(Data(renderer.finish().utf8))
            if !ended.isEmpty { FileHandle.standardError.write(Data("supervisor: not following: \(ended)\n".utf8)) }
        } else {
            out.write(Data(renderer.finish().utf8))
        }
    }

    /// The terminal text (or bytes, --raw), as the pane showed it.
    private func printTerminal(logPath: String, socketPath: String) throws {
        let out = FileHandle.standardOutput
        var stripper = TerminalTextStripper()
        func emit(_ bytes: [UInt8]) {
            out.write(Data(raw ? bytes : stripper.feed(bytes)))
        }
        // A trailing lone CR or a sequence cut by the end of the log still prints as text.
        defer { if !raw { out.write(Data(stripper.finish())) } }

        if !follow {
            try printExisting(logPath: logPath, upTo: nil, emit: emit)
            return
        }
        // Subscribe first, then print the file up to where the stream begins: no gap, no overlap.
        var printedUpTo: UInt64?
        var pending: [(UInt64, [UInt8])] = []
        func deliver(_ offset: UInt64, _ bytes: [UInt8]) {
            guard let done = printedUpTo, offset + UInt64(bytes.count) > done else { return }
            let skip = done > offset ? Int(done - offset) : 0
            emit(Array(bytes[skip...]))
            printedUpTo = offset + UInt64(bytes.count)
        }
        let ended = try followShim(socketPath: socketPath, output: true, events: false) { frame in
            switch frame.type {
            case .hello:
                guard let hello = try? frame.decodeHello() else { return "the shim's hello is not readable" }
                printedUpTo = (try? self.printExisting(logPath: logPath, upTo: hello.logBytes, emit: emit)) ?? hello.logBytes
                for (offset, bytes) in pending { deliver(offset, bytes) }
                pending = []
            case .output:
                guard let (offset, bytes) = try? frame.decodeOutput() else { return nil }
                if printedUpTo == nil { pending.append((offset, bytes)) } else { deliver(offset, bytes) }
            default: break
            }
            return nil
        }
        if printedUpTo == nil {
            // No shim to follow (profile down or agent's shim gone): print what the log has.
            try printExisting(logPath: logPath, upTo: nil, emit: emit)
            if !ended.isEmpty { FileHandle.standardError.write(Data("supervisor: not following: \(ended)\n".utf8)) }
        }
    }

    /// Subscribes to the agent's shim and hands each frame to `onFrame` until the shim goes,
    /// `onFrame` returns a reason to stop, or Ctrl-C (""). Returns why it ended.
    private func followShim(socketPath: String, output: Bool, events: Bool, onFrame: @escaping (Frame) -> String?) throws -> String {
        let loop = EventLoop()
        defer { loop.close() }
        let connection = ShimConnection(loop: loop, agent: agent.agent)
        var ended: String?
        connection.onFrame = { frame in if let stop = onFrame(frame) { ended = stop } }
        connection.onClose = { reason in ended = ended ?? reason ?? "closed" }
        connection.connect(path: socketPath) { error in
            if let error { ended = error } else { connection.send(.subscribe(output: output, events: events)) }
        }
        let interrupt = SignalWatcher(loop: loop)
        try interrupt.start(SIGINT) { _ in ended = "" }
        while ended == nil { loop.runOnce() }
        interrupt.close()
        connection.close()
        return ended ?? ""
    }

    private func locate() throws -> (log: String, events: String, socket: String, kind: AgentKind) {
        // Up, or a name that was up before (its state files name its logs).
        if let record = try (try? profile.record()) ?? (profile.isFile ? nil : profile.recordOrLastKnown()) {
            let entry = try record.agent(agent.agent)
            return (entry.logPath, entry.eventsPath, entry.socketPath, entry.kind)
        }
        // A profile file that is down: logs stay readable from the profile file's settings.
        let loaded = try profile.loadProfile()
        guard let spec = loaded.agents.first(where: { $0.name == agent.agent }) else {
            throw HostingError("profile \(loaded.name) has no agent \"\(agent.agent)\"")
        }
        return (SupervisorPaths.logFile(logsDir: loaded.logs.dir, profile: loaded.name, agent: agent.agent),
                SupervisorPaths.eventsFile(logsDir: loaded.logs.dir, profile: loaded.name, agent: agent.agent),
                profile.paths.shimSocket(profile: loaded.name, agent: agent.agent), spec.kind)
    }

    /// Prints the log (all of it, or its last --lines lines) up to global offset `upTo`.
    /// Returns the global offset printed up to.
    @discardableResult
    private func printExisting(logPath: String, upTo: UInt64?, emit: ([UInt8]) -> Void) throws -> UInt64 {
        guard FileManager.default.fileExists(atPath: logPath) else {
            if upTo == nil { throw HostingError("no log yet at \(logPath)") }
            return upTo ?? 0
        }
        let segments = try LogReader.segments(path: logPath)
        let start = segments.first?.start ?? 0
        let end = min(upTo ?? UInt64.max, segments.last?.end ?? 0)
        var bytes = try LogReader.read(path: logPath, from: start, maxBytes: Int(end - start)).bytes
        if let lines {
            bytes = lastLines(bytes, lines)
        }
        emit(bytes)
        return end
    }

    private func lastLines(_ bytes: [UInt8], _ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        var seen = 0
        var index = bytes.count
        if index > 0 && bytes[index - 1] == 0x0a { index -= 1 }
        while index > 0 {
            index -= 1
            if bytes[index] == 0x0a {
                seen += 1
                if seen == count { return Array(bytes[(index + 1)...]) }
            }
        }
        return bytes
    }

    private func lastLines(_ text: String, _ count: Int) -> String {
        String(decoding: lastLines(Array(text.utf8), count), as: UTF8.self)
    }
}

struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Type text into an agent as one submission (a bracketed paste when the agent enabled it) plus Enter.")

    @OptionGroup var profile: ProfileArgument
    @OptionGroup var agent: AgentArgument
    @Argument(help: "The text; may span several lines. - reads it from standard input.") var text: String

    func run() throws {
        var text = self.text
        if text == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            if text.hasSuffix("\n") { text.removeLast() } // Enter is added anyway
        }
        guard text.utf8.count <= Frame.maxPayload else {
            throw HostingError("the text is \(text.utf8.count) bytes; send takes at most \(Frame.maxPayload) (write it to a file and tell the agent where it is)")
        }
        let record = try profile.record()
        let entry = try record.agent(agent.agent)
        let (ack, _) = try ShimRequest.send(.paste(text), to: entry.socketPath, agent: entry.name)
        if !ack.ok { throw HostingError(ack.error ?? "the shim refused the text") }
    }
}

/// start, stop and restart share everything but the operation.
protocol AgentControlCommand: ParsableCommand {
    var profile: ProfileArgument { get }
    var agent: AgentArgument { get }
    static var operation: ControlOp { get }
}

extension AgentControlCommand {
    func run() throws {
        let record = try profile.record()
        let entry = try record.agent(agent.agent)
        let control = AgentControl(record: record, environment: profile.environment)
        // Specs are planned afresh from the profile file and `supervisor set` overrides, so a
        // start or restart picks up what changed; a profile that no longer validates says so.
        var refreshed: ShimSpec?
        if Self.operation != .stop {
            let launcher = makeLauncher(paths: profile.paths, environment: profile.environment,
                                        shimCommand: record.shimCommand, tmuxConfig: record.tmuxConfig)
            refreshed = try launcher.refreshAgent(record, agent: entry.name, recordEvents: true).spec
        }
        let state = try control.perform(Self.operation, on: entry, refreshedSpec: refreshed)
        print("\(entry.name): \(state)")
    }
}

/// Run by a shim whose `engine = "auto"` agent's engine does not answer at a start: places the
/// agent again (see `Launcher.refreshAgent`) and prints a `PlacementReport` for the shim.
struct PlaceAgain: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "place-again", abstract: "Place an auto agent on an engine that answers (run by its shim).", shouldDisplay: false)
    @Option(help: "The supervisor state root (SUPERVISOR_HOME) of the profile.") var home: String
    @Argument var profile: String
    @Argument var agent: String

    func run() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["SUPERVISOR_HOME"] = home
        let paths = SupervisorPaths(root: home)
        let record = try ProfileRecord.read(path: paths.profileRecord(profile: profile))
        // No credential check: the agent's shim holds its keys; this only places the container.
        let launcher = Launcher(paths: paths, environment: environment, shimCommand: record.shimCommand,
                                agentCommand: [currentExecutable()], tmuxConfig: record.tmuxConfig)
        let before = (try? ShimSpec.read(path: try record.agent(agent).specPath))?.container?.engineName
        let (spec, report) = try launcher.refreshAgent(record, agent: agent, recordEvents: false)
        if let before, before == spec.container?.engineName {
            // Its shim saw the engine fail; it answers now. Moving it would be wrong, and saying
            // nothing would let the shim try the same engine at once, again and again.
            throw HostingError("engine '\(before)' answers again; \(agent) stays on it")
        }
        let out = report ?? PlacementReport(engine: spec.container?.engineName ?? EngineEndpoint.defaultName, note: nil)
        print(String(decoding: out.encode(), as: UTF8.self))
    }
}

struct Start: AgentControlCommand {
    static let configuration = CommandConfiguration(abstract: "Start an agent that is stopped, exited or failed.")
    static let operation = ControlOp.start
    @OptionGroup var profile: ProfileArgument
    @OptionGroup var agent: AgentArgument
}

struct Stop: AgentControlCommand {
    static let configuration = CommandConfiguration(abstract: "Stop an agent (SIGTERM to its process group, SIGKILL after its stop_timeout).")
    static let operation = ControlOp.stop
    @OptionGroup var profile: ProfileArgument
    @OptionGroup var agent: AgentArgument
}

struct Restart: AgentControlCommand {
    static let configuration = CommandConfiguration(abstract: "Stop and start an agent; brings back an agent whose shim was killed.")
    static let operation = ControlOp.restart
    @OptionGroup var profile: ProfileArgument
    @OptionGroup var agent: AgentArgument
}

struct Set: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Persist a setting for one agent (e.g. context_mode=full, limit=50, model=...).",
        discussion: "Settings are validated against the profile schema, survive down/up, and override the profile file until --reset. They take effect at the next `up`, `start` or `restart` of the agent.")

    @OptionGroup var profile: ProfileArgument
    @OptionGroup var agent: AgentArgument
    @Argument(help: "key=value pairs.") var assignments: [String] = []
    @Flag(help: "Remove this agent's overrides (only the named keys when given).") var reset = false

    func validate() throws {
        if !reset && assignments.isEmpty { throw ValidationError("give key=value, or --reset") }
    }

    func run() throws {
        let name = try profile.profileName()
        var settings = try Settings.load(paths: profile.paths, profile: name)
        let loaded = try profile.loadProfile()
        guard let spec = loaded.agents.first(where: { $0.name == agent.agent }) else {
            throw HostingError("profile \(name) has no agent \"\(agent.agent)\" (agents: \(loaded.agents.map(\.name).joined(separator: ", ")))")
        }
        if reset {
            if assignments.isEmpty { settings[agent.agent] = nil }
            else { for key in assignments { settings[agent.agent]?[key] = nil } }
            try Settings.save(settings, paths: profile.paths, profile: name)
            print("\(agent.agent): overrides reset")
            return
        }
        var agentSettings = settings[agent.agent] ?? [:]
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "=") else {
                throw HostingError("\"\(assignment)\" is not key=value")
            }
            let key = String(assignment[..<equals]), value = String(assignment[assignment.index(after: equals)...])
            agentSettings[key] = try AgentSettings.validate(key: key, value: value, for: spec)
        }
        settings[agent.agent] = agentSettings
        try Settings.save(settings, paths: profile.paths, profile: name)
        for (key, value) in agentSettings.sorted(by: { $0.key < $1.key }) { print("\(agent.agent).\(key) = \(value)") }
    }
}
