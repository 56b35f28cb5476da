import AgentProtocol
import Glibc
import Loop

/// One agent's host process. It runs inside the agent's tmux pane and owns the agent's
/// pseudo-terminal. Every byte the agent writes goes to the log first, then to the pane and to
/// socket subscribers; keystrokes from the pane and input from subscribers go to the agent.
/// It applies the restart policy, so restarts work with no viewer running.
public final class Shim {
    private(set) var spec: ShimSpec
    /// Where the spec came from: re-read before each start so `supervisor restart` applies
    /// settings changed since (`supervisor set`); the socket and log paths stay as they are.
    let specPath: String?
    let loop: EventLoop
    private var log: LogWriter
    private let eventsFD: Int32
    private let server: PipeStream
    private var subscribers: [ObjectIdentifier: Subscriber] = [:]
    private var children: ChildWatcher!
    private var signalWatchers: [SignalWatcher] = []

    // The pane: where the person sees the agent. Output to it may be skipped (never the log's).
    private var paneOutput: ByteStream?
    private var paneInput: TTYStream?
    private var paneBehind = false
    private var mirror: PaneMirror
    /// Above this many queued bytes the pane is "behind": stop feeding it and repaint from the
    /// screen state once it has drained, so a slow pane never slows the agent.
    static let paneHighWater = 256 * 1024
    /// A subscriber this far behind is dropped; it can reconnect and read the log.
    static let subscriberHighWater = 8 * 1024 * 1024

    private var run: AgentRun?
    private var state: AgentState
    private var tracker: RestartTracker
    private var paste = BracketedPasteTracker()
    private var eventLines = EventLineSplitter()
    private let restartTimer: LoopTimer
    private let repaintTimer: LoopTimer
    private var lastRepaint = 0.0
    static let repaintInterval = 0.05
    private let stopTimer: LoopTimer
    private var stopRequested = false
    private var startAfterStop = false
    private var exitAfterStop = false
    /// Processes of an ended run are being ended (SIGTERM sent, SIGKILL at `stopTimer`): the next
    /// start and the shim's own exit wait for them (as systemd waits for a unit's cgroup).
    private var endingStrays = false
    private var startWhenAlone = false
    private var finishWhenAlone = false
    private var notified = false
    /// Making sure the agent's container runs (Docker backend) before the agent starts.
    private var preparing = false
    private var preparingCancelled = false
    private var rows = 24, cols = 80
    /// The running agent said its end will be conclusive (a `final` event): no restart then.
    private var finalReason: String?

    /// A running agent: its terminal, pid and event pipe.
    final class AgentRun {
        let pid: pid_t
        let pty: PseudoTerminal
        let master: PipeStream
        let events: PipeStream
        /// The read end of the event pipe (owned by `events`), drained when the agent exits.
        let eventsReadFD: Int32
        let startedAt: Double
        init(pid: pid_t, pty: PseudoTerminal, master: PipeStream, events: PipeStream, eventsReadFD: Int32, startedAt: Double) {
            self.pid = pid; self.pty = pty; self.master = master; self.events = events
            self.eventsReadFD = eventsReadFD; self.startedAt = startedAt
        }
    }

    final class Subscriber {
        let connection: PipeStream
        var decoder = FrameDecoder()
        var output = false
        var events = false
        init(_ connection: PipeStream) { self.connection = connection }
    }

    public init(spec: ShimSpec, specPath: String? = nil, loop: EventLoop) throws {
        self.spec = spec
        self.specPath = specPath
        self.loop = loop
        log = try LogWriter(path: spec.logPath, maxBytes: UInt64(spec.logMaxBytes), keep: spec.logKeep)
        eventsFD = open(spec.eventsPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard eventsFD >= 0 else { throw HostingError("cannot open \(spec.eventsPath): \(String(cString: strerror(errno)))") }
        restartTimer = LoopTimer(loop: loop)
        repaintTimer = LoopTimer(loop: loop)
        stopTimer = LoopTimer(loop: loop)
        tracker = RestartTracker(policy: spec.restartPolicy)
        if let size = PseudoTerminal.size(of: 1) { rows = size.rows; cols = size.cols }
        mirror = PaneMirror(rows: rows, cols: cols)
        state = AgentState(profile: spec.profile, agent: spec.agent, kind: spec.kind, state: .starting,
                           shimPid: getpid(), agentPid: nil, since: Shim.now(), restarts: 0, runs: [],
                           lastError: nil, logPath: spec.logPath, eventsPath: spec.eventsPath,
                           socketPath: spec.socketPath, bracketedPaste: false, logBytes: log.offset)
        if let previous = try? StateFile.read(path: spec.statePath) {
            state.runs = previous.runs
            state.restarts = previous.restarts
        }

        server = PipeStream(loop: loop)
        unlink(spec.socketPath) // a stale socket from a killed shim; `up` ensured none is alive
        try server.bind(path: spec.socketPath)
        chmod(spec.socketPath, 0o600)
        try server.listen { [unowned self] connection in self.accept(connection) }

        try setUpPane()
        try watchSignals()
        // Orphans of the agent (a daemon that called setsid, a double fork) become our children
        // instead of pid 1's, so a stop or exit can find and end them.
        children = try ChildWatcher(loop: loop) { [unowned self] _ in self.strayEnded() }
        do { try ChildWatcher.becomeSubreaper() } catch { announce("\(error): processes the agent detaches may outlive it") }
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    // MARK: pane

    private func setUpPane() throws {
        if isatty(0) == 1 {
            let input = try TTYStream(loop: loop, fd: 0)
            try input.setMode(.raw)
            try input.startReading { [unowned self] result in
                switch result {
                case .data(let bytes): self.run?.master.write(bytes)
                case .eof, .error: self.paneInput?.stopReading()
                }
            }
            paneInput = input
        }
        if isatty(1) == 1 {
            paneOutput = try TTYStream(loop: loop, fd: 1)
        } else {
            paneOutput = try? PipeStream(loop: loop, fd: 1)
        }
    }

    private func writeToPane(_ bytes: UnsafeRawBufferPointer) {
        guard let pane = paneOutput, !paneBehind else { return }
        if pane.writeQueueSize > Shim.paneHighWater {
            paneBehind = true
            return
        }
        pane.write(bytes) { [weak self] _ in self?.paneDrained() }
    }

    /// Called as queued pane writes complete: once all have, repaint the pane from the screen
    /// state, which has seen every byte the pane skipped.
    private func paneDrained() {
        guard paneBehind, let pane = paneOutput, pane.writeQueueSize == 0, !repaintTimer.isActive else { return }
        // Under a flood the pane would otherwise be repainted as fast as it drains; a person
        // cannot read faster than ~20 pictures a second, and each repaint costs screen work.
        let wait = lastRepaint + Shim.repaintInterval - EventLoop.monotonicSeconds()
        if wait > 0 {
            repaintTimer.start(seconds: wait) { [weak self] in self?.repaintPane() } // repaint rate cap
        } else {
            repaintPane()
        }
    }

    private func repaintPane() {
        guard let pane = paneOutput else { return }
        paneBehind = false
        lastRepaint = EventLoop.monotonicSeconds()
        pane.write(mirror.repaint()) { [weak self] _ in self?.paneDrained() }
    }

    /// A line from the shim itself (not the agent): shown in the pane, never in the agent's log.
    private func announce(_ text: String) {
        let bytes = Array("\r\n\u{1b}[0;7m[supervisor]\u{1b}[0m \(text)\r\n".utf8)
        bytes.withUnsafeBytes { mirror.append($0, nowMilliseconds: loop.nowMilliseconds); writeToPane($0) }
    }

    // MARK: signals

    private func watchSignals() throws {
        signal(SIGPIPE, SIG_IGN)
        let resize = SignalWatcher(loop: loop)
        try resize.start(SIGWINCH) { [unowned self] _ in self.paneResized() }
        signalWatchers.append(resize)
        for signum in [SIGTERM, SIGHUP, SIGINT] {
            let watcher = SignalWatcher(loop: loop)
            try watcher.start(signum) { [unowned self] _ in self.shutdown() }
            signalWatchers.append(watcher)
        }
    }

    private func paneResized() {
        guard let size = PseudoTerminal.size(of: 1) else { return }
        rows = size.rows; cols = size.cols
        mirror.resize(rows: rows, cols: cols)
        try? run?.pty.resize(rows: rows, cols: cols)
    }

    // MARK: agent lifecycle

    public func start() {
        restartTimer.stop()
        guard run == nil, !preparing else { return }
        if endingStrays { startWhenAlone = true; return } // after the last run's processes are gone
        reloadSpec()
        stopRequested = false
        guard let container = spec.container else { spawnAgent(); return }
        // The shim (not the agent) makes sure the container runs before every start: it is the
        // one place every start goes through (up, the restart policy, `supervisor restart`,
        // command agents and built-in ones alike), so a container that died is recreated by the
        // agent's next start with no viewer or CLI involved. Asynchronous: the loop keeps serving.
        preparing = true
        preparingCancelled = false
        if state.state != .starting { setPhase(.starting) } // `restart` waits for running, not the old exit
        let lifecycle = ContainerLifecycle.onLoop(loop, executable: container.dockerExecutable, environment: processEnvironment())
        lifecycle.ensure(container) { [unowned self] result in
            switch result {
            case .success(let action):
                if let note = action.note(container.name) {
                    self.announce(note)
                    self.record(EventLine.make(.container(name: container.name, note: note, error: nil), agent: self.spec.agent, now: Shim.now()))
                }
                if action == .reused && self.spec.kind == .command {
                    // A program left by a client that was killed (docker exec forwards no
                    // signal) must not run twice.
                    lifecycle.signalCommand(container, signal: "KILL") { self.prepared() }
                } else {
                    self.prepared()
                }
            case .failure(let error):
                self.preparing = false
                if self.preparingCancelled { self.prepared(); return }
                self.state.lastError = "\(error)"
                self.announce("\(error)")
                self.record(EventLine.make(.container(name: container.name, note: nil, error: "\(error)"), agent: self.spec.agent, now: Shim.now()))
                self.notifyUp(error: "\(error)")
                self.afterExit(.exited(125), ranFor: 0)
            }
        }
    }

    private func prepared() {
        preparing = false
        if preparingCancelled {
            preparingCancelled = false
            if exitAfterStop { finish() } else { setPhase(.stopped) }
            return
        }
        spawnAgent()
    }

    private func spawnAgent() {
        let startedAt = Shim.now()
        do {
            let pty = try PseudoTerminal(rows: rows, cols: cols)
            var pipeFDs: [Int32] = [0, 0]
            guard pipe(&pipeFDs) == 0 else { throw LoopError.errno("pipe") }
            _ = fcntl(pipeFDs[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(pipeFDs[1], F_SETFD, FD_CLOEXEC)
            let pid: pid_t
            do {
                pid = try pty.spawn(executable: spec.executable, arguments: spec.arguments,
                                    environment: agentEnvironment(), directory: spec.directory,
                                    extraFDs: [(child: 3, parent: pipeFDs[1])])
            } catch {
                close(pipeFDs[0]); close(pipeFDs[1]); pty.closeMaster()
                throw error
            }
            close(pipeFDs[1]) // the agent holds the only write end: EOF when it is gone
            let master = try PipeStream(loop: loop, fd: pty.masterFD)
            let events = try PipeStream(loop: loop, fd: pipeFDs[0])
            let run = AgentRun(pid: pid, pty: pty, master: master, events: events, eventsReadFD: pipeFDs[0], startedAt: startedAt)
            self.run = run
            paste = BracketedPasteTracker()
            try master.startReading { [unowned self] result in
                if case .data(let bytes) = result { self.agentOutput(bytes) }
                else { run.master.stopReading() }
            }
            try events.startReading { [unowned self] result in
                if case .data(let bytes) = result { self.agentEvents(bytes) }
                else { run.events.stopReading() }
            }
            finalReason = nil
            state.recordRunStart(pid: pid, at: startedAt)
            state.lastError = nil
            tracker.runStarted(at: startedAt)
            setPhase(.running)
            record(EventLine.start(agent: spec.agent, pid: pid, now: startedAt))
            notifyUp(error: nil)
            // Last: an agent that already ended is reaped right here, after it was recorded as started.
            children.watch(pid) { [unowned self] exit in self.agentExited(exit, run: run) }
        } catch {
            state.lastError = "\(error)"
            announce("cannot start \(spec.executable): \(error)")
            notifyUp(error: "\(error)")
            afterExit(.exited(127), ranFor: 0)
        }
    }

    private func reloadSpec() {
        guard let specPath, let fresh = try? ShimSpec.read(path: specPath), fresh != spec else { return }
        spec.executable = fresh.executable
        spec.arguments = fresh.arguments
        spec.environment = fresh.environment
        spec.directory = fresh.directory
        spec.stopTimeout = fresh.stopTimeout
        spec.container = fresh.container
        if fresh.restartPolicy != spec.restartPolicy {
            spec.restart = fresh.restart; spec.backoffInitial = fresh.backoffInitial; spec.backoffMax = fresh.backoffMax
            spec.maxRestarts = fresh.maxRestarts; spec.restartWindow = fresh.restartWindow
            tracker = RestartTracker(policy: spec.restartPolicy)
        }
    }

    private func agentEnvironment() -> [String: String] {
        var environment = processEnvironment()
        // The agent is not a tmux client of ours: it must not drive our private server.
        environment["TMUX"] = nil
        environment["TMUX_PANE"] = nil
        if environment["TERM"] == nil { environment["TERM"] = "xterm-256color" }
        for (key, value) in spec.environment { environment[key] = value }
        environment["SUPERVISOR_EVENTS_FD"] = "3"
        environment["SUPERVISOR_PROFILE"] = spec.profile
        environment["SUPERVISOR_AGENT"] = spec.agent
        return environment
    }

    /// The hot path: log first (lossless), then the screen state, the pane, the subscribers.
    private func agentOutput(_ bytes: UnsafeRawBufferPointer) {
        let offset: UInt64
        do {
            offset = try log.write(bytes)
        } catch {
            // Losing the log is not an option we can paper over: say so where the person looks.
            state.lastError = "log write failed: \(error)"
            announce("log write failed: \(error)")
            offset = log.offset
        }
        state.logBytes = log.offset
        paste.feed(bytes)
        mirror.append(bytes, nowMilliseconds: loop.nowMilliseconds)
        writeToPane(bytes)
        if !subscribers.isEmpty {
            let frame = Frame.output(offset: offset, bytes: Array(bytes)).encode()
            for subscriber in subscribers.values where subscriber.output { send(frame, to: subscriber) }
        }
    }

    private func agentEvents(_ bytes: UnsafeRawBufferPointer) {
        for line in eventLines.feed(Array(bytes)) {
            guard let json = EventLine.normalize(line, agent: spec.agent, now: Shim.now()) else { continue }
            if json.contains("\"final\""), let event = try? OrderedJSON.parse(Array(json.utf8)), event["type"] == .string("final") {
                if case .string(let reason)? = event["reason"] { finalReason = reason } else { finalReason = "final" }
            }
            record(json)
        }
    }

    /// Appends one event line to the events file and forwards it.
    private func record(_ json: String) {
        let line = Array((json + "\n").utf8)
        line.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(eventsFD, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 { if errno == EINTR { continue }; break }
                offset += n
            }
        }
        let frame = Frame(type: .event, payload: Array(json.utf8)).encode()
        for subscriber in subscribers.values where subscriber.events { send(frame, to: subscriber) }
    }


    private func agentExited(_ exit: ProcessExit, run: AgentRun) {
        // Everything the agent wrote before exiting is still in the terminal: take it now, so
        // the log ends with the agent's last byte before anything else happens.
        drain(run)
        run.master.close()
        run.events.close()
        run.pty.closeMaster()
        self.run = nil
        endStrays()
        let status: ExitStatus
        switch exit {
        case .exited(let code): status = .exited(code)
        case .signaled(let sig): status = .signaled(sig)
        }
        state.recordRunEnd(exit: status, at: Shim.now())
        record(EventLine.exit(agent: spec.agent, status: status, restarts: state.restarts, now: Shim.now()))
        afterExit(status, ranFor: Shim.now() - run.startedAt)
    }

    private func afterExit(_ status: ExitStatus, ranFor: Double) {
        if stopRequested {
            stopRequested = false
            setPhase(.stopped)
            announce("\(spec.agent) stopped (\(describe(status)))")
            if exitAfterStop { finish(); return }
            if startAfterStop { startAfterStop = false; tracker.reset(); start() }
            return
        }
        if let reason = finalReason {
            // The agent said this end is conclusive: running the task again would only repeat it.
            if status.isFailure { state.lastError = "\(reason); not restarted (the agent ended for good)" }
            setPhase(status.isFailure ? .failed : .exited)
            announce("\(spec.agent) ended (\(describe(status))): \(reason); not restarted")
            return
        }
        switch tracker.decide(exit: status, now: Shim.now(), random: { Double.random(in: 0...1) }) {
        case .restart(let delay):
            state.restarts += 1
            setPhase(.restarting)
            announce("\(spec.agent) ended (\(describe(status))); restart \(state.restarts) in \(formatSeconds(delay))s")
            restartTimer.start(seconds: delay) { [unowned self] in self.start() } // backoff before restarting
        case .done:
            setPhase(.exited)
            announce("\(spec.agent) ended (\(describe(status)))")
        case .giveUp(let reason):
            state.lastError = reason
            setPhase(.failed)
            announce("\(spec.agent) failed: \(reason)")
        }
    }

    private func describe(_ status: ExitStatus) -> String { status.description }

    /// Reads whatever the terminal and event pipe still hold, synchronously, without blocking.
    private func drain(_ run: AgentRun) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        for (fd, isOutput) in [(run.pty.masterFD, true), (run.eventsReadFD, false)] {
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                if n > 0 {
                    buffer.withUnsafeBytes { raw in
                        let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                        if isOutput { agentOutput(chunk) } else { agentEvents(chunk) }
                    }
                } else if n < 0 && errno == EINTR {
                    continue
                } else { break }
            }
        }
    }

    public func stop(thenStart: Bool = false) {
        restartTimer.stop()
        guard let run else {
            if preparing { preparingCancelled = !thenStart; return }
            if thenStart { tracker.reset(); start() }
            else if state.state != .stopped && state.state != .exited && state.state != .failed { setPhase(.stopped) }
            return
        }
        stopRequested = true
        startAfterStop = thenStart
        setPhase(.stopping)
        let inContainer = spec.kind == .command ? spec.container : nil
        if let container = inContainer {
            // docker exec forwards no signal: the program in the container gets SIGTERM there,
            // and its client (our child) ends when it does.
            ContainerLifecycle.onLoop(loop, executable: container.dockerExecutable, environment: processEnvironment())
                .signalCommand(container, signal: "TERM")
        } else {
            // The agent leads its own session and process group: signal the whole group.
            kill(-run.pid, SIGTERM)
            kill(run.pid, SIGCONT)
        }
        signalStrays(SIGTERM)
        stopTimer.start(seconds: spec.stopTimeout) { [unowned self] in // the grace period is over
            if self.run === run {
                kill(-run.pid, SIGKILL)
                kill(run.pid, SIGKILL)
                if let container = inContainer {
                    ContainerLifecycle.onLoop(self.loop, executable: container.dockerExecutable, environment: processEnvironment())
                        .signalCommand(container, signal: "KILL")
                }
            }
            self.signalStrays(SIGKILL)
        }
    }

    // MARK: strays

    /// What the agent sent away or left behind: orphans the shim adopted as their child
    /// subreaper (with their descendants), and, while the agent runs, its descendants outside
    /// its own process group (those get the group's signal already). Never the shim's own
    /// helper commands (tmux, docker), nor what runs inside a command agent's container.
    private func strayProcesses() -> [pid_t] {
        var strays: [pid_t] = []
        for child in ChildWatcher.children(of: getpid()) where !ChildProcess.running.contains(child) {
            if let run, child == run.pid {
                guard spec.container == nil || spec.kind != .command else { continue }
                strays += ChildWatcher.descendants(of: child).filter { getpgid($0) != run.pid }
            } else {
                strays.append(child)
                strays += ChildWatcher.descendants(of: child)
            }
        }
        return strays
    }

    private func signalStrays(_ signal: Int32) {
        for pid in strayProcesses() {
            kill(pid, signal)
            if signal != SIGKILL { kill(pid, SIGCONT) }
        }
    }

    /// After the agent ended: what it left behind gets SIGTERM now (unless a stop already sent
    /// it) and SIGKILL when the stop timeout runs out, like systemd's KillMode=control-group.
    private func endStrays() {
        let strays = strayProcesses()
        guard !strays.isEmpty else { stopTimer.stop(); return }
        endingStrays = true
        announce("ending \(strays.count) process\(strays.count == 1 ? "" : "es") \(spec.agent) left behind (\(strays.map(String.init).joined(separator: " ")))")
        record(EventLine.make(.strays(pids: strays.map { Int($0) }), agent: spec.agent, now: Shim.now()))
        guard !stopTimer.isActive else { return } // a stop under way: its deadline ends them too
        signalStrays(SIGTERM)
        stopTimer.start(seconds: spec.stopTimeout) { [unowned self] in self.signalStrays(SIGKILL) } // their grace is over
    }

    /// A child the shim adopted has been reaped: once none is left, what waited for that goes on.
    private func strayEnded() {
        guard endingStrays, run == nil, strayProcesses().isEmpty else { return }
        endingStrays = false
        stopTimer.stop()
        if finishWhenAlone { finishWhenAlone = false; finish(); return }
        if startWhenAlone { startWhenAlone = false; start() }
    }

    /// Stops the agent (gracefully, then by force) and exits the shim.
    public func shutdown() {
        exitAfterStop = true
        if run == nil { if preparing { preparingCancelled = true } else { finish() } } else if !stopRequested { stop() }
    }

    private func finish() {
        if endingStrays { finishWhenAlone = true; return } // the shim goes last
        restartTimer.stop()
        // The final state first: `down` takes our closing connections as "this shim is done" and
        // SIGKILLs a shim whose state still names its pid.
        state.shimPid = 0
        persistState()
        for subscriber in subscribers.values { subscriber.connection.close() }
        subscribers = [:]
        server.close()
        unlink(spec.socketPath)
        TTYStream.resetMode()
        loop.stop()
    }

    // MARK: state

    private func setPhase(_ phase: AgentPhase) {
        state.transition(to: phase, at: Shim.now())
        state.bracketedPaste = paste.enabled
        persistState()
        record(EventLine.make(.state(ActivityState(phase.rawValue)), agent: spec.agent, now: Shim.now()))
        let frame = Frame.state(state).encode()
        for subscriber in subscribers.values { send(frame, to: subscriber) }
        updateTmuxStatus()
    }

    private func persistState() {
        // The state directory is gone when everything was cleaned up under a live shim:
        // do not bring it back.
        guard isDirectory(String(spec.statePath[..<(spec.statePath.lastIndex(of: "/") ?? spec.statePath.endIndex)])) else { return }
        state.logBytes = log.offset
        do { try StateFile.write(state, to: spec.statePath) }
        catch { announce("cannot write state: \(error)") }
    }

    /// Shows the state in tmux's status line (window option read by tmux/supervisor.conf).
    private func updateTmuxStatus() {
        guard let socket = spec.tmuxSocket, let pane = getenv("TMUX_PANE").map({ String(cString: $0) }),
              let tmux = resolveExecutable("tmux", path: getenv("PATH").map { String(cString: $0) }) else { return }
        _ = try? ChildProcess(loop: loop, arguments: [tmux, "-S", socket, "set-option", "-w", "-t", pane, "@sv_state", state.state.rawValue],
                              stdio: [.ignore, .ignore, .ignore]) { _ in }
    }

    /// Tells a waiting `up` that this agent has started (or could not).
    private func notifyUp(error: String?) {
        guard !notified, let path = spec.notifySocket else { return }
        notified = true
        let data = (try? JSONCoding.encodeBytes(StartNotice(agent: spec.agent, pid: state.agentPid, error: error))) ?? Array("{}".utf8)
        let connection = PipeStream(loop: loop)
        connection.connect(path: path) { failure in
            guard failure == nil else { connection.close(); return }
            connection.write(Array(data) + [0x0a]) { _ in connection.close() }
        }
    }

    // MARK: subscribers

    private func accept(_ connection: PipeStream) {
        let subscriber = Subscriber(connection)
        let id = ObjectIdentifier(connection)
        subscribers[id] = subscriber
        // The events file has one writer, this loop: its end now is where the frames begin.
        let eventsEnd = lseek(eventsFD, 0, SEEK_END)
        let hello = ShimHello(profile: spec.profile, agent: spec.agent, shimPid: getpid(), logBytes: log.offset, state: state,
                              eventsBytes: eventsEnd >= 0 ? UInt64(eventsEnd) : nil)
        send(Frame.hello(hello).encode(), to: subscriber)
        do {
            try connection.startReading { [unowned self] result in
                switch result {
                case .data(let bytes):
                    do {
                        for frame in try subscriber.decoder.feed(Array(bytes)) { self.handle(frame, from: subscriber) }
                    } catch {
                        self.drop(subscriber)
                    }
                case .eof, .error: self.drop(subscriber)
                }
            }
        } catch { drop(subscriber) }
    }

    private func drop(_ subscriber: Subscriber) {
        subscribers[ObjectIdentifier(subscriber.connection)] = nil
        subscriber.connection.close()
    }

    private func send(_ bytes: [UInt8], to subscriber: Subscriber) {
        // A slow viewer is dropped, never waited for: the log has everything it missed.
        if subscriber.connection.writeQueueSize > Shim.subscriberHighWater { drop(subscriber); return }
        subscriber.connection.write(bytes)
    }

    private func handle(_ frame: Frame, from subscriber: Subscriber) {
        switch frame.type {
        case .subscribe:
            let request = try? frame.decodeSubscribe()
            subscriber.output = request?.output ?? false
            subscriber.events = request?.events ?? false
            acknowledge(subscriber, error: nil)
        case .input:
            if let run { run.master.write(frame.payload) }
            acknowledge(subscriber, error: run == nil ? "\(spec.agent) is not running" : nil)
        case .paste:
            guard let run else { acknowledge(subscriber, error: "\(spec.agent) is not running"); return }
            let text = (try? frame.decodePaste()) ?? ""
            run.master.write(BracketedPasteTracker.pasteBytes(text: text, bracketed: paste.enabled))
            // What a person sent (`supervisor send`, the dashboard), in a built-in agent's record
            // of its conversation (it goes to the model, and into its session, anyway). Not for
            // any other program: the text may answer a password prompt that does not echo.
            if spec.kind.isBuiltIn {
                record(EventLine.make(AgentEvent.user(text: text, source: .send, truncated: false).capped(), agent: spec.agent, now: Shim.now()))
            }
            acknowledge(subscriber, error: nil)
        case .control:
            guard let request = try? frame.decodeControl() else {
                acknowledge(subscriber, error: "malformed control request"); return
            }
            switch request.op {
            case .stop: stop()
            case .start: tracker.reset(); start()
            case .restart: stop(thenStart: true)
            case .shutdown: acknowledge(subscriber, error: nil); shutdown(); return
            case .status: break
            }
            acknowledge(subscriber, error: nil)
        case .resize:
            break // the pane owns the size
        default:
            acknowledge(subscriber, error: "unexpected frame type \(frame.type)")
        }
    }

    private func acknowledge(_ subscriber: Subscriber, error: String?) {
        // The state goes first so the client has it when the ack arrives.
        send(Frame.state(state).encode(), to: subscriber)
        send(Frame.ack(ok: error == nil, error: error).encode(), to: subscriber)
    }

    /// Runs the shim until it is shut down. Returns the process exit status for the shim.
    public static func main(specPath: String) -> Int32 {
        let spec: ShimSpec
        do { spec = try ShimSpec.read(path: specPath) } catch {
            fputs("supervisor shim: \(error)\n", stderr)
            return 2
        }
        let loop = EventLoop()
        let shim: Shim
        do { shim = try Shim(spec: spec, specPath: specPath, loop: loop) } catch {
            fputs("supervisor shim: \(spec.agent): \(error)\n", stderr)
            return 2
        }
        shim.start()
        loop.run()
        _ = shim
        return 0
    }
}
