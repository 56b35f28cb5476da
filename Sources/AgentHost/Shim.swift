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
    /// The agent's keys as the launcher handed them over (`ShimKeys`), kept for every restart.
    private let secrets: [String: String]
    let loop: EventLoop
    private var log: LogWriter
    /// The events file: rotated with the log (same `max_bytes` and `keep`), so an agent that
    /// writes many events cannot fill the disk with it.
    private var events: LogWriter
    /// Output bytes that could not go into the log (a full disk) since the last gap record.
    private var lostBytes: UInt64 = 0
    private var lostReason = ""
    /// When the log file was last checked for removal from outside (loop milliseconds).
    private var logCheckedAt: UInt64 = 0
    private let server: PipeStream
    private var subscribers: [ObjectIdentifier: Subscriber] = [:]
    /// Output gathered for the subscribers while the pty hands a burst over in pieces.
    private var outputBatch = OutputBatch()
    private let outputBatchTimer: LoopTimer
    private var connectionSerial = 0
    /// Whether this shim has set the window's `@sv_state` (see `updateTmuxStatus`).
    private var tmuxStatusSet = false
    private var children: ChildWatcher!
    private var signalWatchers: [SignalWatcher] = []

    // The pane: where the person sees the agent. Output to it may be skipped (never the log's).
    private var paneOutput: ByteStream?
    private var paneInput: TTYStream?
    /// Whether output goes to the pane as it is or as repaints from the screen state (`mirror`).
    private var paneFlow = PaneFlow()
    private var mirror: PaneMirror
    /// A subscriber this far behind is dropped; it can reconnect and read the log.
    static let subscriberHighWater = 8 * 1024 * 1024
    /// What all subscribers together may have queued: past it, the one that is furthest behind
    /// is dropped (200 stalled readers once held 1.7 GiB).
    static let totalSubscriberHighWater = 16 * 1024 * 1024
    /// Connections served at once; more are closed at accept. Kept well inside the descriptor
    /// limit, so that no number of clients can make an agent's start fail with EMFILE.
    static let maxConnections: Int = {
        var limit = rlimit()
        let soft = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Int(clamping: limit.rlim_cur) : 1024
        return max(4, min(64, (soft - 32) / 4))
    }()
    /// Returns freed heap to the system once dropped connections' buffers are released.
    private let trimTimer: LoopTimer

    private var run: AgentRun?
    private var state: AgentState
    private var paste = BracketedPasteTracker()
    private var eventLines = EventLineSplitter()
    private let restartTimer: LoopTimer
    private let repaintTimer: LoopTimer
    private let stopTimer: LoopTimer
    /// Start, stop, restart, container preparation, strays and exit: one pure state machine;
    /// the shim performs the effects it returns.
    private var lifecycle: ShimLifecycle
    private var rows = 24, cols = 80
    /// The running agent said its end will be conclusive (a `final` event): no restart then.
    private var finalReason: String?
    /// When to look whether a command agent waits for someone to type (Attention.swift).
    private var terminalWait = TerminalWaitSchedule()
    private lazy var terminalWaitTimer = LoopTimer(loop: loop)
    /// Tells a person when the agent needs them (Attention.swift), from the events recorded here.
    /// Its bell goes straight to the pane: a repaint (after a flood) would not ring it.
    private lazy var attention = AttentionNotifier(spec: spec, loop: loop, record: { [unowned self] in self.record($0) },
                                                   toPane: { [unowned self] bytes in self.paneOutput?.write(bytes) })

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
        /// Order of acceptance (the oldest connection goes first when there are too many).
        let serial: Int
        init(_ connection: PipeStream, serial: Int) { self.connection = connection; self.serial = serial }
    }

    public init(spec: ShimSpec, specPath: String? = nil, loop: EventLoop, secrets: [String: String] = [:]) throws {
        self.spec = spec
        self.secrets = secrets
        self.specPath = specPath
        self.loop = loop
        log = try LogWriter(path: spec.logPath, maxBytes: UInt64(spec.logMaxBytes), keep: spec.logKeep)
        events = try LogWriter(path: spec.eventsPath, maxBytes: UInt64(spec.logMaxBytes), keep: spec.logKeep, tracksOffsets: false)
        restartTimer = LoopTimer(loop: loop)
        repaintTimer = LoopTimer(loop: loop)
        outputBatchTimer = LoopTimer(loop: loop)
        stopTimer = LoopTimer(loop: loop)
        trimTimer = LoopTimer(loop: loop)
        lifecycle = ShimLifecycle(agent: spec.agent, policy: spec.restartPolicy, usesContainer: spec.container != nil,
                                  movable: spec.placeAgain != nil)
        if let size = PseudoTerminal.size(of: 1) { rows = size.rows; cols = size.cols }
        mirror = PaneMirror(rows: rows, cols: cols)
        state = AgentState(profile: spec.profile, agent: spec.agent, kind: spec.kind, state: .starting,
                           shimPid: getpid(), agentPid: nil, since: Shim.now(), restarts: 0, runs: [],
                           lastError: nil, logPath: spec.logPath, eventsPath: spec.eventsPath,
                           socketPath: spec.socketPath, bracketedPaste: false, logBytes: log.offset)
        let previous = try? StateFile.read(path: spec.statePath)
        if let previous {
            state.runs = previous.runs
            state.restarts = previous.restarts
        }
        // A shim that exits records shimPid 0: a pid left there means the last one was killed.
        let previousShimDied = (previous?.shimPid ?? 0) > 0

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
        if previousShimDied { endLeftovers() }
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
        guard let pane = paneOutput else { return }
        performPane(paneFlow.output(count: bytes.count, queued: pane.writeQueueSize, now: loopSeconds), bytes)
    }

    private func performPane(_ effect: PaneFlow.Effect?, _ output: UnsafeRawBufferPointer? = nil) {
        guard let effect, let pane = paneOutput else { return }
        switch effect {
        case .write:
            if let output { pane.write(output) { [weak self] _ in self?.paneWritten() } }
        case .repaint:
            pane.write(mirror.repaint()) { [weak self] _ in self?.paneWritten() }
        case .scheduleRepaint(let after):
            repaintTimer.start(seconds: after) { [weak self] in // the pane's next repaint is due
                guard let self else { return }
                self.performPane(self.paneFlow.timerFired(now: self.loopSeconds))
            }
        }
    }

    private func paneWritten() {
        guard let pane = paneOutput else { return }
        performPane(paneFlow.drained(queued: pane.writeQueueSize, now: loopSeconds))
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

    /// The shim's first start of its agent.
    public func start() { handle(.start(byPerson: false)) }

    /// Feeds the lifecycle one input and performs what it says, in order.
    private func handle(_ input: ShimLifecycle.Input) {
        switch input {
        case .start, .restart: reloadSpec() // `supervisor set` and profile changes apply at each start
        default: break
        }
        for effect in lifecycle.handle(input) { perform(effect) }
    }

    private func perform(_ effect: ShimLifecycle.Effect) {
        switch effect {
        case .prepareContainer: prepareContainer()
        case .placeAgain: placeAgain()
        case .spawn: spawnAgent()
        case .sendStop: sendStop()
        case .endStrays: signalLeftovers()
        case .phase(let phase, let error):
            if let error { state.lastError = error }
            setPhase(phase)
        case .countRestart: state.restarts += 1
        case .resetRestartCount: state.restarts = 0
        case .scheduleRestart(let delay):
            restartTimer.start(seconds: delay) { [unowned self] in self.handle(.backoffOver) } // the restart backoff
        case .cancelRestart: restartTimer.stop()
        case .notifyUp(let error): notifyUp(error: error)
        case .announce(let text): announce(text)
        case .exit: finish()
        }
    }

    /// The shim (not the agent) makes sure the container runs before every start: it is the
    /// one place every start goes through (up, the restart policy, `supervisor restart`,
    /// command agents and built-in ones alike), so a container that died is recreated by the
    /// agent's next start with no viewer or CLI involved. Asynchronous: the loop keeps serving.
    private func prepareContainer() {
        guard let container = spec.container else { handle(.prepared(error: nil)); return }
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
                    lifecycle.signalCommand(container, signal: "KILL") { self.handle(.prepared(error: nil)) }
                } else {
                    self.handle(.prepared(error: nil))
                }
            case .failure(let error):
                self.record(EventLine.make(.container(name: container.name, note: nil, error: "\(error)"), agent: self.spec.agent, now: Shim.now()))
                guard self.lifecycle.movable else { self.handle(.prepared(error: "\(error)")); return }
                // Is it the engine (then the agent may move) or the container?
                self.probeEngine(container) { down in
                    if let down { self.handle(.engineDown(error: down)) } else { self.handle(.prepared(error: "\(error)")) }
                }
            }
        }
    }

    /// `docker info` on the container's engine, the question placement asks too: nil when it
    /// answers, else "engine 'NAME' (ADDRESS) does not answer: WHY".
    private func probeEngine(_ container: ContainerSpec, completion: @escaping (String?) -> Void) {
        runSubprocessAsync(loop: loop, arguments: container.dockerCommand + ["info", "--format", "{{.MemTotal}}"],
                           environment: Secrets.removed(from: processEnvironment()), timeout: EngineEndpoint.questionTimeout) { result in
            completion(result.succeeded ? nil : (container.engine ?? .default).notAnswering(firstLine(result.errorOutput, or: "docker info failed")))
        }
    }

    /// The supervisor places the agent on an engine that answers (`place-again`: the profile's
    /// placement rule, the record, the spec and launch config rewritten, a new workspace volume
    /// seeded from the host) while this loop keeps serving; the shim records the `placement`
    /// event it reports and starts the agent there.
    private func placeAgain() {
        guard let command = spec.placeAgain, !command.isEmpty else { handle(.placed(error: "\(spec.agent) cannot be placed again (no place-again command in its spec)")); return }
        runSubprocessAsync(loop: loop, arguments: command, environment: Secrets.removed(from: processEnvironment()),
                           timeout: Shim.placeAgainTimeout) { [unowned self] result in
            guard result.succeeded else {
                var why = firstLine(result.errorOutput, or: "place-again failed (\(result.exit))")
                if why.hasPrefix("supervisor: ") { why.removeFirst("supervisor: ".count) }
                self.handle(.placed(error: "cannot place \(self.spec.agent) again: \(why)"))
                return
            }
            let report: PlacementReport
            switch PlacementReport.decode(Array(result.output.utf8)) {
            case .success(let decoded): report = decoded
            case .failure(let error):
                self.handle(.placed(error: "cannot place \(self.spec.agent) again: \(error)"))
                return
            }
            if let note = report.note {
                self.announce(note)
                self.record(EventLine.make(.placement(engine: report.engine, note: note), agent: self.spec.agent, now: Shim.now()))
            }
            self.reloadSpec()
            self.handle(.placed(error: nil))
        }
    }

    /// Placing again seeds a workspace volume from the host: a large tree takes a while.
    static let placeAgainTimeout: Double = 600

    private func spawnAgent() {
        checkLogFile()
        let startedAt = Shim.now()
        do {
            let pty = try PseudoTerminal(rows: rows, cols: cols)
            var pipeFDs: [Int32] = [0, 0]
            guard pipe(&pipeFDs) == 0 else { throw PosixError.errno("pipe") }
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
            // `start` first: the `running` state it causes follows it, in time order.
            record(EventLine.start(agent: spec.agent, pid: pid, now: startedAt))
            handle(.spawned(at: startedAt, error: nil))
            // In a container the agent's terminal is read by `docker run -it` all the time: no sign of a wait.
            if spec.kind == .command && spec.container == nil { performTerminalWait(terminalWait.started(now: loopSeconds)) }
            // Last: an agent that already ended is reaped right here, after it was recorded as started.
            children.watch(pid) { [unowned self] exit in self.agentExited(exit, run: run) }
        } catch {
            handle(.spawned(at: startedAt, error: "\(spec.executable): \(error)"))
        }
    }

    private func reloadSpec() {
        guard let specPath, let fresh = try? ShimSpec.read(path: specPath), fresh != spec else { return }
        spec.executable = fresh.executable
        spec.arguments = fresh.arguments
        spec.environment = fresh.environment
        spec.passEnvironment = fresh.passEnvironment
        spec.withheldEnvironment = fresh.withheldEnvironment
        spec.directory = fresh.directory
        spec.stopTimeout = fresh.stopTimeout
        spec.container = fresh.container
        spec.placeAgain = fresh.placeAgain
        lifecycle.movable = fresh.placeAgain != nil
        if fresh.restartPolicy != spec.restartPolicy {
            spec.restart = fresh.restart; spec.backoffInitial = fresh.backoffInitial; spec.backoffMax = fresh.backoffMax
            spec.maxRestarts = fresh.maxRestarts; spec.restartWindow = fresh.restartWindow
            lifecycle.replacePolicy(spec.restartPolicy)
        }
    }

    private func agentEnvironment() -> [String: String] {
        // Secrets reach only the agents that need them: a command agent gets what its `pass_env`
        // lists, a built-in agent its own API key variable, nothing else named like a secret.
        let passed = Set(spec.passEnvironment ?? [])
        let withheld = Set(spec.withheldEnvironment ?? [])
        var environment = processEnvironment().filter {
            passed.contains($0.key) || !(Secrets.isSecretName($0.key) || withheld.contains($0.key))
        }
        // What the launcher handed over (`ShimKeys`): the tmux server that started us has none.
        for name in spec.passEnvironment ?? [] { if let value = secrets[name] { environment[name] = value } }
        // The agent is not a tmux client of ours: it must not drive our private server.
        environment["TMUX"] = nil
        environment["TMUX_PANE"] = nil
        if environment["TERM"] == nil { environment["TERM"] = "xterm-256color" }
        for (key, value) in spec.environment { environment[key] = value }
        environment["SUPERVISOR_EVENTS_FD"] = "3"
        environment["SUPERVISOR_PROFILE"] = spec.profile
        environment["SUPERVISOR_AGENT"] = spec.agent
        environment["SUPERVISOR_AGENT_DIR"] = FileIO.parentDirectory(of: spec.statePath)
        return environment
    }

    /// The hot path: log first (lossless), then the screen state, the pane, the subscribers.
    private func agentOutput(_ bytes: UnsafeRawBufferPointer) {
        if loop.nowMilliseconds &- logCheckedAt >= 1000 { checkLogFile() }
        if lostBytes > 0 { writeGapRecord() }
        let written = log.append(bytes)
        if let error = written.error { outputLost(UInt64(bytes.count - written.written), error) }
        state.logBytes = log.offset
        paste.feed(bytes)
        mirror.append(bytes, nowMilliseconds: loop.nowMilliseconds)
        writeToPane(bytes)
        if terminalWait.phase != .off { performTerminalWait(terminalWait.output(now: loopSeconds)) }
        // Subscribers get what the log has, at its offsets: a live follower and a reader of the
        // log see the same bytes and the same gaps.
        if written.written > 0 && subscribers.values.contains(where: { $0.output }) {
            if !outputBatch.continues(at: written.offset) { sendOutputBatch() }
            switch outputBatch.add(offset: written.offset, UnsafeRawBufferPointer(rebasing: bytes[0..<written.written]), readCount: bytes.count) {
            case .send: sendOutputBatch()
            case .wait(let startTimer):
                if startTimer { outputBatchTimer.start(milliseconds: outputBatch.maxDelayMilliseconds) { [unowned self] in self.sendOutputBatch() } }
            }
        }
    }

    /// Sends the gathered output; called before anything else goes to the subscribers, so that
    /// they see output, events and states in the order they happened.
    private func sendOutputBatch() {
        outputBatchTimer.stop()
        guard let (offset, bytes) = outputBatch.take() else { return }
        let frame = Frame.output(offset: offset, bytes: bytes).encode()
        for subscriber in subscribers.values where subscriber.output { send(frame, to: subscriber) }
    }

    /// Output the log could not take (the disk is full): dropped, never blocking the agent,
    /// and counted so the log gets a gap record once it can; `status` shows it meanwhile.
    private func outputLost(_ count: UInt64, _ error: PosixError) {
        let first = lostBytes == 0
        lostBytes += count
        lostReason = error.reason
        state.lastError = "log write failed (\(lostReason)): \(lostBytes) bytes of output lost so far"
        if first {
            announce("log write failed (\(lostReason)): output is being lost until there is room")
            persistState()
        }
    }

    /// Marks the place in the log where output was lost, as a line of its own, and says so
    /// in an event; nothing is written when the disk is still full (the count grows instead).
    private func writeGapRecord() {
        let marker = Array("\r\n[supervisor: \(lostBytes) bytes of output lost here: \(lostReason)]\r\n".utf8)
        // Only a whole marker: on a disk with a few bytes free a torn one would be noise.
        guard let written = marker.withUnsafeBytes({ log.appendWhole($0) }) else { return }
        let lost = lostBytes
        lostBytes = 0
        state.lastError = "log write failed (\(lostReason)): \(lost) bytes of output lost (marked in the log)"
        // (`record` sends the gathered output first.)
        record(EventLine.make(.gap(bytes: Int(lost), offset: Int(written.offset), reason: lostReason), agent: spec.agent, now: Shim.now()))
        let frame = Frame.output(offset: written.offset, bytes: marker).encode()
        for subscriber in subscribers.values where subscriber.output { send(frame, to: subscriber) }
        persistState()
    }

    /// A log (or events file) removed or renamed from outside is opened anew at its path,
    /// checked at most once a second while output flows and at every start.
    private func checkLogFile() {
        logCheckedAt = loop.nowMilliseconds
        if log.reopenIfRemoved() {
            announce("the log file was removed or moved away; writing a new \(spec.logPath)")
            record(EventLine.make(.log(note: "log file removed or moved from outside; reopened", offset: Int(log.baseOffset)),
                                  agent: spec.agent, now: Shim.now()))
        }
        _ = events.reopenIfRemoved()
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
        // An event that does not fit on a full disk still reaches the subscribers.
        _ = line.withUnsafeBytes { events.append($0) }
        sendOutputBatch()
        let frame = Frame(type: .event, payload: Array(json.utf8)).encode()
        for subscriber in subscribers.values where subscriber.events { send(frame, to: subscriber) }
        attention.observe(json, now: Shim.now())
    }


    private func agentExited(_ exit: ProcessExit, run: AgentRun) {
        // Everything the agent wrote before exiting is still in the terminal: take it now, so
        // the log ends with the agent's last byte before anything else happens.
        drain(run)
        run.master.close()
        run.events.close()
        run.pty.closeMaster()
        self.run = nil
        performTerminalWait(terminalWait.stopped())
        let strays = announceStrays()
        let status: ExitStatus
        switch exit {
        case .exited(let code): status = .exited(code)
        case .signaled(let sig): status = .signaled(sig)
        }
        let now = Shim.now()
        state.recordRunEnd(exit: status, at: now)
        record(EventLine.exit(agent: spec.agent, status: status, restarts: state.restarts, now: now))
        handle(.exited(status, at: now, random: Double.random(in: 0..<1), strays: strays, final: finalReason))
    }

    /// The loop's clock in seconds (cached per loop iteration: cheap on the hot path).
    private var loopSeconds: Double { Double(loop.nowMilliseconds) / 1000 }

    private func performTerminalWait(_ effects: [TerminalWaitSchedule.Effect]) {
        for effect in effects {
            switch effect {
            case .arm(let at):
                terminalWaitTimer.start(seconds: max(0, at - loopSeconds)) { [unowned self] in
                    self.performTerminalWait(self.terminalWait.timer(now: self.loopSeconds))
                }
            case .disarm:
                terminalWaitTimer.stop()
            case .probe:
                guard let pid = run?.pid else { continue }
                performTerminalWait(terminalWait.probed(waiting: TerminalWait.probe(agentPid: pid), now: loopSeconds))
            case .waiting(let waiting):
                attention.terminal(waiting: waiting, now: Shim.now())
            }
        }
    }

    /// Reads whatever the terminal and event pipe still hold, synchronously, without blocking.
    private func drain(_ run: AgentRun) {
        Posix.drain(run.pty.masterFD) { agentOutput($0) }
        Posix.drain(run.eventsReadFD) { agentEvents($0) }
    }

    /// Stops the agent (a person's `stop`, or `restart` when `thenStart`).
    public func stop(thenStart: Bool = false) { handle(thenStart ? .restart : .stop) }

    /// SIGTERM to the agent's process group (in its container for a command agent on the
    /// Docker backend) and to what it detached; SIGKILL to what remains after `stop_timeout`.
    private func sendStop() {
        guard let run else { return }
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

    /// After the agent ended: names what it left behind (pane line, `strays` event) and says
    /// whether there is any. With none, a stop's SIGKILL deadline has nothing left to do.
    private func announceStrays() -> Bool {
        let strays = strayProcesses()
        guard !strays.isEmpty else { stopTimer.stop(); return false }
        announce("ending \(strays.count) process\(strays.count == 1 ? "" : "es") \(spec.agent) left behind (\(strays.map(String.init).joined(separator: " ")))")
        record(EventLine.make(.strays(pids: strays.map { Int($0) }), agent: spec.agent, now: Shim.now()))
        return true
    }

    /// What the ended agent left gets SIGTERM now (unless a stop already sent it) and SIGKILL
    /// when the stop timeout runs out, like systemd's KillMode=control-group.
    private func signalLeftovers() {
        guard !stopTimer.isActive else { return } // a stop under way: its deadline ends them too
        signalStrays(SIGTERM)
        stopTimer.start(seconds: spec.stopTimeout) { [unowned self] in self.signalStrays(SIGKILL) } // their grace is over
    }

    /// A child the shim adopted has been reaped: once none is left, what waited for that goes on.
    private func strayEnded() {
        guard run == nil, strayProcesses().isEmpty else { return }
        switch lifecycle.state {
        case .endingStrays, .backingOff(straysLeft: true):
            stopTimer.stop()
            handle(.straysGone)
        default: break
        }
    }

    /// Stops the agent (gracefully, then by force) and exits the shim.
    public func shutdown() { handle(.shutdown) }

    private func finish() {
        restartTimer.stop()
        // The final state first: `down` takes our closing connections as "this shim is done" and
        // SIGKILLs a shim whose state still names its pid.
        state.shimPid = 0
        persistState()
        sendOutputBatch()
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
        record(EventLine.make(.state(ActivityState(phase.rawValue)), agent: spec.agent, now: Shim.now())) // gathered output first
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
        // Unset reads as running (tmux/supervisor.conf): the first start costs no tmux client.
        if !tmuxStatusSet && (state.state == .running || state.state == .starting) { return }
        tmuxStatusSet = true
        guard let socket = spec.tmuxSocket, let pane = getenv("TMUX_PANE").map({ String(cString: $0) }),
              let tmux = resolveExecutable("tmux", path: getenv("PATH").map { String(cString: $0) }) else { return }
        _ = try? ChildProcess(loop: loop, arguments: [tmux, "-S", socket, "set-option", "-w", "-t", pane, "@sv_state", state.state.rawValue],
                              stdio: [.ignore, .ignore, .ignore]) { _ in }
    }

    /// Tells a waiting `up` that this agent has started (or could not).
    private func notifyUp(error: String?) {
        guard let path = spec.notifySocket else { return }
        let notice: NotifyMessage = error.map { .failed(agent: spec.agent, error: $0) } ?? .started(agent: spec.agent, pid: state.agentPid)
        sendNotice(NotifyProtocol.encode(notice), to: path, attempts: 100)
    }

    /// Delivers a start notice; a listener whose backlog is full (hundreds of shims starting at
    /// once) is tried again shortly, for up to ~5 s, while `up` waits for it.
    private func sendNotice(_ bytes: [UInt8], to path: String, attempts: Int) {
        let connection = PipeStream(loop: loop)
        connection.connect(path: path) { [unowned self] failure in
            guard failure == nil else {
                connection.close()
                guard attempts > 1 else { return }
                let retry = LoopTimer(loop: self.loop)
                retry.start(milliseconds: 50) { [unowned self] in // the listener's backlog was full
                    retry.close()
                    self.sendNotice(bytes, to: path, attempts: attempts - 1)
                }
                return
            }
            connection.write(bytes) { _ in connection.close() }
        }
    }

    // MARK: subscribers

    private func accept(_ connection: PipeStream) {
        if subscribers.count >= Shim.maxConnections {
            // Full: the newest client (likely a person's command) is served and the oldest
            // connection that never subscribed (else the oldest of all) makes room.
            let byAge = subscribers.values.sorted { $0.serial < $1.serial }
            if let oldest = byAge.first(where: { !$0.output && !$0.events }) ?? byAge.first { drop(oldest) }
        }
        connectionSerial += 1
        let subscriber = Subscriber(connection, serial: connectionSerial)
        let id = ObjectIdentifier(connection)
        subscribers[id] = subscriber
        // The events file has one writer, this loop: its end now is where the frames begin. So
        // is the log's: what was gathered goes first, to those subscribed before.
        sendOutputBatch()
        let hello = ShimHello(profile: spec.profile, agent: spec.agent, shimPid: getpid(), logBytes: log.offset, state: state,
                              eventsBytes: events.fileSize)
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
        let queued = subscriber.connection.writeQueueSize
        subscribers[ObjectIdentifier(subscriber.connection)] = nil
        subscriber.connection.close()
        // Its queued writes are freed as the close completes, on a later loop turn.
        if queued > 1024 * 1024 && !trimTimer.isActive {
            trimTimer.start(milliseconds: 100) { EventLoop.releaseFreedMemory() } // after the close has freed them
        }
    }

    private func send(_ bytes: [UInt8], to subscriber: Subscriber) {
        // A slow viewer is dropped, never waited for: the log has everything it missed.
        let queued = subscriber.connection.writeQueueSize
        if queued > Shim.subscriberHighWater { drop(subscriber); return }
        if queued > Shim.subscriberHighWater / 8 {
            let total = subscribers.values.reduce(0) { $0 + $1.connection.writeQueueSize }
            if total > Shim.totalSubscriberHighWater,
               let furthest = subscribers.values.max(by: { $0.connection.writeQueueSize < $1.connection.writeQueueSize }) {
                drop(furthest)
                if furthest === subscriber { return }
            }
        }
        subscriber.connection.write(bytes)
    }

    private func handle(_ frame: Frame, from subscriber: Subscriber) {
        switch frame.type {
        case .subscribe:
            sendOutputBatch() // what was gathered before belongs to those subscribed before
            let request = try? frame.decodeSubscribe()
            subscriber.output = request?.output ?? false
            subscriber.events = request?.events ?? false
            acknowledge(subscriber, error: nil)
        case .input:
            if let run { run.master.write(frame.payload) }
            acknowledge(subscriber, error: run == nil ? "\(spec.agent) is not running" : nil)
        case .paste:
            guard let run else { acknowledge(subscriber, error: "\(spec.agent) is not running"); return }
            // Text that is not UTF-8 would type garbage (or, decoded as "", a bare Enter): refuse it.
            guard let text = try? frame.decodePaste() else { acknowledge(subscriber, error: "paste text is not UTF-8"); return }
            run.master.write(BracketedPasteTracker.pasteBytes(text: text, bracketed: paste.enabled))
            // What a person sent (`supervisor send`, the dashboard), in a built-in agent's record
            // of its conversation (it goes to the model, and into its session, anyway). Not for
            // any other program: the text may answer a password prompt that does not echo. An
            // answer to a permission question is no message: the coder records it itself.
            if spec.kind.isBuiltIn, PermissionReply.parse(text) == nil {
                record(EventLine.make(AgentEvent.user(text: text, source: .send, truncated: false).capped(), agent: spec.agent, now: Shim.now()))
            }
            acknowledge(subscriber, error: nil)
        case .control:
            guard let request = try? frame.decodeControl() else {
                acknowledge(subscriber, error: "malformed control request"); return
            }
            switch request.op {
            case .stop: handle(.stop)
            case .start: handle(.start(byPerson: true))
            case .restart: handle(.restart)
            case .shutdown: acknowledge(subscriber, error: nil); shutdown(); return
            case .status: break
            }
            acknowledge(subscriber, error: nil)
        case .resize:
            // The pane owns the size: a well-formed request is acknowledged and changes nothing.
            do { _ = try frame.decodeResize(); acknowledge(subscriber, error: nil) }
            catch { acknowledge(subscriber, error: "\(error)") }
        default:
            acknowledge(subscriber, error: "unexpected frame type \(frame.type)")
        }
    }

    private func acknowledge(_ subscriber: Subscriber, error: String?) {
        sendOutputBatch()
        // The state goes first so the client has it when the ack arrives.
        send(Frame.state(state).encode(), to: subscriber)
        send(Frame.ack(ok: error == nil, error: error).encode(), to: subscriber)
    }

    /// The environment entry every process of this agent inherits: what a crashed shim's agent
    /// detached (and no subreaper adopted) is found by it at the next start or `down`.
    public static func leftoverMark(agentDirectory: String) -> String { "SUPERVISOR_AGENT_DIR=" + agentDirectory }

    /// Ends what an earlier shim of this agent left running when it died (kill -9 of the
    /// shim: its agent's detached processes went to pid 1, still marked).
    private func endLeftovers() {
        let mark = Shim.leftoverMark(agentDirectory: FileIO.parentDirectory(of: spec.statePath))
        let leftovers = ProcFS.processes(markedWith: mark, excluding: [getpid()])
        guard !leftovers.isEmpty else { return }
        for pid in leftovers { kill(pid, SIGKILL) }
        announce("ended \(leftovers.count) process\(leftovers.count == 1 ? "" : "es") a previous run of \(spec.agent) left behind")
        record(EventLine.make(.strays(pids: leftovers.map { Int($0) }), agent: spec.agent, now: Shim.now()))
    }

    /// Runs the shim until it is shut down. Returns the process exit status for the shim.
    public static func main(specPath: String) -> Int32 {
        let spec: ShimSpec
        do { spec = try ShimSpec.read(path: specPath) } catch {
            fputs("supervisor shim: \(error)\n", stderr)
            return 2
        }
        let loop = EventLoop()
        var secrets: [String: String] = [:]
        if let socket = spec.notifySocket, let names = spec.passEnvironment, !names.isEmpty {
            switch ShimKeys.fetch(socket: socket, agent: spec.agent, names: names, loop: loop, timeout: 30) {
            case .success(let keys): secrets = keys
            case .failure(let problem): fputs("supervisor shim: \(spec.agent): starting without its keys: \(problem)\n", stderr)
            }
        }
        let shim: Shim
        do { shim = try Shim(spec: spec, specPath: specPath, loop: loop, secrets: secrets) } catch {
            fputs("supervisor shim: \(spec.agent): \(error)\n", stderr)
            return 2
        }
        shim.start()
        loop.run()
        _ = shim
        return 0
    }
}
