import AgentProtocol
import Glibc
import Loop

/// A profile's `[notify]` section as the shim applies it (profiles/README.md, "Attention").
public struct NotifySettings: Codable, Equatable, Sendable {
    /// Run with the attention event as one JSON line on standard input (aider's
    /// `--notifications-command` convention); nil: none.
    public var command: [String]?
    /// Also run `notify-send` (a desktop notification) when it is installed.
    public var notifySend: Bool
    /// Ring the terminal bell in the agent's tmux window (tmux passes it on to attached clients
    /// and marks the window in its status line).
    public var bell: Bool
    /// At most one notification per agent in this many seconds (the status line still follows).
    public var minInterval: Double
    /// The reasons (`AttentionReason` names) that ring and notify; nil: `defaultOn`.
    public var on: [String]?

    public init(command: [String]? = nil, notifySend: Bool = false, bell: Bool = true, minInterval: Double = 30, on: [String]? = nil) {
        self.command = command; self.notifySend = notifySend; self.bell = bell; self.minInterval = minInterval; self.on = on
    }

    /// Whether a need for `reason` rings the bell and runs the notifications (the status line
    /// and the event follow every need). By default every reason but the clean end of a command
    /// agent: a server or a batch job ending with 0 is routine, and with `restart` it comes back
    /// at once; a built-in agent's end is its answer, which a person waits for.
    public func notifies(_ reason: AttentionReason, kind: AgentKind) -> Bool {
        if let on { return on.contains(reason.name) }
        return !(reason == .finished && kind == .command)
    }
}

public struct Attention: Equatable, Sendable {
    public var reason: AttentionReason
    /// One short sentence for the status line and the notification ("asks for permission").
    public var message: String
    public init(_ reason: AttentionReason, _ message: String) { self.reason = reason; self.message = message }

    /// The `attention` event: what the dashboard shows and what `[notify] command` reads.
    public func event(profile: String, agent: String, kind: AgentKind) -> AgentEvent {
        .attention(reason: reason, message: message, profile: profile, kind: kind.rawValue)
    }

    /// Reads an `attention` event back (the dashboard).
    public init?(_ event: AgentEvent) {
        guard case let .attention(reason, message, _, _) = event else { return nil }
        self.init(reason, message)
    }
}

/// When an agent needs a person, from its events alone (so it works with no viewer running).
/// A lifecycle: each event returns the next state and effects. A need is raised only after it
/// has lasted `settle` seconds (a goal agent says "waiting" for an instant before it thinks;
/// a failed agent may be restarted at once), and notifications are rate-limited per agent.
public struct AttentionTracker: Equatable, Sendable {
    public enum Phase: Equatable, Sendable {
        case quiet
        case pending(Attention, since: Double)
        case raised(Attention)
    }

    public enum Effect: Equatable, Sendable {
        /// Show it (status line, event); `notify`: also ring and run the notification commands.
        case raise(Attention, notify: Bool)
        /// It no longer applies.
        case clear
    }

    public private(set) var phase: Phase = .quiet
    public let kind: AgentKind
    public let minInterval: Double
    public static let settle = 1.5
    private var lastNotified: (reason: AttentionReason, at: Double)?
    private var lastExitCode: Int?

    public init(kind: AgentKind, minInterval: Double) { self.kind = kind; self.minInterval = minInterval }

    public static func == (a: AttentionTracker, b: AttentionTracker) -> Bool {
        a.phase == b.phase && a.kind == b.kind && a.lastExitCode == b.lastExitCode
            && a.lastNotified?.reason == b.lastNotified?.reason && a.lastNotified?.at == b.lastNotified?.at
    }

    /// When `tick` is due (a pending need settles), if anything is pending.
    public var dueAt: Double? {
        if case let .pending(_, since) = phase { return since + AttentionTracker.settle }
        return nil
    }

    /// What `event` means for a person; nil when it changes nothing.
    enum Meaning: Equatable { case need(Attention), busy }

    func meaning(_ event: AgentEvent) -> Meaning? {
        switch event {
        case .state(let s):
            switch s {
            case .waiting: return .need(kind == .coder ? Attention(.permission, "asks for permission") : Attention(.input, "waits for input"))
            case .idle: return kind == .coder || kind == .exec ? .need(Attention(.input, "waits for your next message")) : nil
            case .staying: return .need(Attention(.goal, "reached its goal"))
            case .failed: return .need(Attention(.failed, "failed"))
            case .exited:
                if let code = lastExitCode, code != 0 { return .need(Attention(.failed, "exited with code \(code)")) }
                return .need(Attention(.finished, "finished"))
            case .thinking, .runningTool, .running, .starting, .restarting, .stopping, .stopped: return .busy
            case .other: return nil
            }
        case .final(let reason):
            let lower = reason.lowercased()
            if lower.contains("budget") || lower.contains("limit") { return .need(Attention(.limit, "stopped at a limit: \(reason)")) }
            if lower.contains("reached") || lower.contains("goal") { return .need(Attention(.goal, "reached its goal")) }
            return .need(Attention(.finished, "finished: \(reason)"))
        case let .permission(_, tool, summary, _, _, _):
            // The typed question says what is asked; an answer means the agent goes on.
            return .need(Attention(.permission, "asks permission to run \(tool): \(oneLine(summary, width: 80))"))
        case .permissionAnswer:
            return .busy
        case .budget(let use) where use.spent >= use.limit:
            return .need(Attention(.limit, "spent its \(use.budget.name) budget"))
        default:
            return nil
        }
    }

    public mutating func observe(_ event: AgentEvent, now: Double) -> [Effect] {
        if case .exit(let status, _) = event {
            if case .code(let c) = status { lastExitCode = c } else { lastExitCode = 128 }
            return []
        }
        if case .start = event { lastExitCode = nil }
        guard let meaning = meaning(event) else { return [] }
        switch (meaning, phase) {
        case (.busy, .raised):
            phase = .quiet
            return [.clear]
        case (.busy, _):
            phase = .quiet
            return []
        case (.need(let a), .quiet):
            phase = .pending(a, since: now)
            return []
        case (.need(let a), .pending(let old, let since)):
            if AttentionTracker.replaces(a, old) { phase = .pending(a, since: since) }
            return []
        case (.need(let a), .raised(let old)):
            if AttentionTracker.replaces(a, old) { phase = .pending(a, since: now) }
            return []
        }
    }

    /// Whether a new need says more than the one before: an end says more than a wait of the
    /// process that ended, but "finished" adds nothing to a failure, a limit or a goal already said.
    static func replaces(_ new: Attention, _ old: Attention) -> Bool {
        new != old && !(new.reason == .finished && [.failed, .limit, .goal].contains(old.reason))
    }

    /// A command agent was found blocked reading its terminal (`waiting`), or no longer is.
    public mutating func terminal(waiting: Bool, now: Double) -> [Effect] {
        let input = Attention(.input, "waits for input")
        if waiting {
            switch phase {
            case .quiet: phase = .pending(input, since: now)
            case .pending, .raised: break
            }
            return []
        }
        switch phase {
        case .pending(let a, _) where a.reason == .input:
            phase = .quiet
            return []
        case .raised(let a) where a.reason == .input:
            phase = .quiet
            return [.clear]
        default:
            return []
        }
    }

    /// The settle time has passed: raise what is pending.
    public mutating func tick(now: Double) -> [Effect] {
        guard case let .pending(a, since) = phase, now >= since + AttentionTracker.settle else { return [] }
        phase = .raised(a)
        let notify = lastNotified.map { now - $0.at >= minInterval || ($0.reason != a.reason && now - $0.at >= 5) } ?? true
        if notify { lastNotified = (a.reason, now) }
        return [.raise(a, notify: notify)]
    }
}

/// Runs the tracker in the shim: a timer for the settle time, and the effects (tmux status
/// line, the `attention` event, the bell, `[notify] command`, `notify-send`).
public final class AttentionNotifier {
    private var tracker: AttentionTracker
    private let settings: NotifySettings
    private let loop: EventLoop
    private let timer: LoopTimer
    private let profile: String
    private let agent: String
    private let kind: AgentKind
    private let tmuxSocket: String?
    /// Records an event line (the shim's events file and subscribers).
    private let record: (String) -> Void
    /// Writes bytes to the agent's tmux pane.
    private let toPane: ([UInt8]) -> Void

    public init(spec: ShimSpec, loop: EventLoop, record: @escaping (String) -> Void, toPane: @escaping ([UInt8]) -> Void) {
        settings = spec.notify ?? NotifySettings()
        tracker = AttentionTracker(kind: spec.kind, minInterval: settings.minInterval)
        self.loop = loop
        timer = LoopTimer(loop: loop)
        profile = spec.profile; agent = spec.agent; kind = spec.kind; tmuxSocket = spec.tmuxSocket
        self.record = record; self.toPane = toPane
    }

    /// Every event line the shim records passes here.
    public func observe(_ line: String, now: Double) {
        guard let record = EventRecord(line: line) else { return }
        perform(tracker.observe(record.event, now: now))
        scheduleSettle(now: now)
    }

    /// A command agent was found blocked reading its terminal, or no longer is
    /// (`TerminalWaitSchedule`).
    public func terminal(waiting: Bool, now: Double) {
        perform(tracker.terminal(waiting: waiting, now: now))
        scheduleSettle(now: now)
    }

    private func scheduleSettle(now: Double) {
        if let due = tracker.dueAt {
            timer.start(seconds: max(0, due - now)) { [weak self] in // the settle time of a need
                guard let self else { return }
                let now = AttentionNotifier.now()
                self.perform(self.tracker.tick(now: now))
                // The loop's clock counts whole milliseconds: a timer may fire a hair before the
                // settle time on this clock, and the need must not be dropped for it.
                self.scheduleSettle(now: now)
            }
        } else {
            timer.stop()
        }
    }

    private func perform(_ effects: [AttentionTracker.Effect]) {
        for effect in effects {
            switch effect {
            case .clear:
                setStatus(nil)
            case let .raise(attention, notify):
                setStatus(attention.message)
                let line = EventCodec.line(attention.event(profile: profile, agent: agent, kind: kind), agent: agent, now: AttentionNotifier.now())
                record(line)
                guard notify, settings.notifies(attention.reason, kind: kind) else { continue }
                if settings.bell { toPane([0x07]) }
                if let command = settings.command, !command.isEmpty { run(command, stdin: line + "\n") }
                if settings.notifySend, let exe = resolveExecutable("notify-send", path: getenv("PATH").map { String(cString: $0) }) {
                    run([exe, "supervisor: \(profile)/\(agent)", "\(agent) \(attention.message)"], stdin: nil)
                }
            }
        }
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// The window option the status line shows (tmux/supervisor.conf), unset with nil.
    private func setStatus(_ text: String?) {
        guard let socket = tmuxSocket, let pane = getenv("TMUX_PANE").map({ String(cString: $0) }),
              let tmux = resolveExecutable("tmux", path: getenv("PATH").map { String(cString: $0) }) else { return }
        let argv = text.map { [tmux, "-S", socket, "set-option", "-w", "-t", pane, "@sv_attention", $0] }
            ?? [tmux, "-S", socket, "set-option", "-w", "-u", "-t", pane, "@sv_attention"]
        run(argv, stdin: nil)
    }

    /// Starts `argv` with `stdin` on its standard input (a pipe filled before it starts: the
    /// event is far below a pipe's capacity) and forgets it.
    private func run(_ argv: [String], stdin: String?) {
        var fds: [Int32] = [-1, -1]
        var input: Int32 = -1
        if let stdin, pipe(&fds) == 0 {
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            Posix.writeAll(fds[1], stdin)
            close(fds[1])
            input = fds[0]
        }
        defer { if input >= 0 { close(input) } }
        _ = try? ChildProcess(loop: loop, arguments: argv, stdio: [input >= 0 ? .inherit(input) : .ignore, .ignore, .ignore]) { _ in }
    }
}

/// When the shim looks (in /proc, `TerminalWait`) whether a command agent is blocked reading
/// its terminal: only once the agent has been quiet `quiet` seconds, then after longer and
/// longer quiet spells, and not at all after `maxInterval` (until output comes again), so an
/// idle agent costs nothing and an agent writing output is never probed. A lifecycle: each
/// input returns the effects; the caller owns one timer.
public struct TerminalWaitSchedule: Equatable, Sendable {
    public enum Phase: Equatable, Sendable {
        /// No agent process running.
        case off
        /// The timer is set for `armedAt`; `interval`: the quiet spell looked for.
        case watching(lastOutput: Double, armedAt: Double, interval: Double)
        /// Quiet for so long it is no longer looked at; output starts watching again.
        case dormant
        /// Found reading its terminal; output ends that.
        case waiting
    }

    public enum Effect: Equatable, Sendable {
        case arm(at: Double)
        case disarm
        /// Look in /proc now and say what was found with `probed(waiting:now:)`.
        case probe
        /// Whether it waits for a person changed.
        case waiting(Bool)
    }

    public static let quiet = 2.0
    /// Probes after 2, 6, 14, 30, 62 s of quiet, then none.
    public static let maxInterval = 32.0

    public private(set) var phase: Phase = .off
    public init() {}

    public mutating func started(now: Double) -> [Effect] {
        phase = .watching(lastOutput: now, armedAt: now + Self.quiet, interval: Self.quiet)
        return [.arm(at: now + Self.quiet)]
    }

    public mutating func stopped() -> [Effect] {
        let wasWaiting = phase == .waiting
        phase = .off
        return wasWaiting ? [.disarm, .waiting(false)] : [.disarm]
    }

    /// The agent wrote output: the hot path, so usually nothing to do (the armed timer sees it).
    public mutating func output(now: Double) -> [Effect] {
        switch phase {
        case .off:
            return []
        case let .watching(_, armedAt, _):
            if armedAt <= now + Self.quiet {
                phase = .watching(lastOutput: now, armedAt: armedAt, interval: Self.quiet)
                return []
            }
            phase = .watching(lastOutput: now, armedAt: now + Self.quiet, interval: Self.quiet) // after a backoff
            return [.arm(at: now + Self.quiet)]
        case .dormant:
            phase = .watching(lastOutput: now, armedAt: now + Self.quiet, interval: Self.quiet)
            return [.arm(at: now + Self.quiet)]
        case .waiting:
            phase = .watching(lastOutput: now, armedAt: now + Self.quiet, interval: Self.quiet)
            return [.waiting(false), .arm(at: now + Self.quiet)]
        }
    }

    /// The timer fired.
    public mutating func timer(now: Double) -> [Effect] {
        guard case let .watching(lastOutput, _, interval) = phase else { return [] }
        let due = lastOutput + interval
        if now < due {
            phase = .watching(lastOutput: lastOutput, armedAt: due, interval: interval)
            return [.arm(at: due)]
        }
        return [.probe]
    }

    public mutating func probed(waiting: Bool, now: Double) -> [Effect] {
        guard case let .watching(_, _, interval) = phase else { return [] }
        if waiting {
            phase = .waiting
            return [.waiting(true)]
        }
        let next = interval * 2
        if next > Self.maxInterval {
            phase = .dormant
            return []
        }
        phase = .watching(lastOutput: now, armedAt: now + next, interval: next)
        return [.arm(at: now + next)]
    }
}
