import AgentTranscript
import TerminalUI
import Foundation
import Glibc
import Hosting
import Loop
import VTScreen

/// How `supervisor up`/`supervisor dashboard` configure the dashboard.
public struct DashboardOptions {
    public var environment: [String: String]
    /// The profile's state directory (`<SUPERVISOR_HOME>/profiles/<name>`): stderr goes to
    /// `dashboard.stderr` there while the screen is ours.
    public var stateDir: String
    /// Cycles an agent's context mode and persists it (as `supervisor set`); returns a message.
    public var cycleContext: ((String) throws -> String)?

    public init(environment: [String: String], stateDir: String, cycleContext: ((String) throws -> String)? = nil) {
        self.environment = environment
        self.stateDir = stateDir
        self.cycleContext = cycleContext
    }
}

/// The full-screen dashboard of one profile, driven by a libuv loop. Quitting it never stops an
/// agent. Public entry point: `Dashboard(record:options:).run()`.
public final class Dashboard {
    public let record: ProfileRecord
    let options: DashboardOptions
    let loop = EventLoop()
    private var watcher: ProfileWatcher!
    private var screen: Screen!
    private var state: DashboardState
    private var agents: [AgentSlot] = []
    private var timeline = Timeline()
    /// The open diff view (`d`), drawn instead of the other views while open.
    private var diffViewer: DiffViewer?
    private let diffCache = DiffCache()
    private var inputPoll: Poll?
    private var signals: [SignalWatcher] = []
    private let frameTimer: LoopTimer
    private let tickTimer: LoopTimer
    private let messageTimer: LoopTimer
    static let messageSeconds = 6.0
    private var quit = false
    private var suspended = false
    private var tmux: Tmux?

    // Dirtiness.
    private var layoutDirty = true
    private var chromeDirty = true
    private var rects: [Rect] = []
    private var pageFirst = 0
    private var lastTotals: String = ""
    /// How many agents need a person (the badge in the status bar).
    private var lastNeeded = 0
    /// The search match shown in the focus view: its line (of `focusLines`) and columns.
    private var searchHit: (line: Int, columns: Range<Int>)?
    private var tickDueAt: Double?
    /// When output frames are due; key frames are drawn at once (FrameScheduler).
    private var frames = FrameScheduler()
    private var skipBodies = false
    private var ringBell = false
    /// The focused agent's pane is sized to the focus area (and given back on leaving).
    private var focusSizing = FocusSizing.idle

    /// Share of one core the terminal emulation of all tiles may use. The budget is in time,
    /// not bytes: libvterm's cost per byte grows with the screen size (it moves the whole
    /// screen on every scrolled line), so a byte budget is too much for large panes and too
    /// little for small ones.
    var feedCPUShare = 0.12
    /// Measured seconds of emulation per byte (moving average), starting from a typical value.
    private var feedCostPerByte = 1.0 / (8 * 1024 * 1024)

    final class AgentSlot {
        let index: Int
        let entry: ProfileRecord.Agent
        let feed: AgentFeed
        var activity = AgentActivity()
        var headerDirty = true
        var bodyDirty = true
        var model: AgentTileModel?
        var recentEvents: Set<String> = []
        var recentOrder: [String] = []
        var cursor: (Int, Int) = (-1, -1)
        /// A built-in agent's conversation, rendered from its events.
        let transcript: TranscriptView?

        init(index: Int, entry: ProfileRecord.Agent, feed: AgentFeed) {
            self.index = index; self.entry = entry; self.feed = feed
            transcript = entry.kind.isBuiltIn ? TranscriptView(cols: 80, rows: 24) : nil
        }

        /// True once the agent has ended (exited, failed, stopped, gone).
        var ended: Bool { !(model?.state.isActive ?? true) }

        func view(switched: Bool) -> AgentView {
            AgentView.shown(builtIn: transcript != nil, fullScreen: feed.screen.isAltScreen, ended: ended, switched: switched)
        }

        /// Takes an event's record into the conversation view.
        func addToTranscript(_ record: EventRecord) {
            if transcript?.add(record) ?? false { bodyDirty = true }
        }

        /// Live events repeat lines read from the file when both overlap: skip those.
        func isNewEvent(_ line: String) -> Bool {
            if recentEvents.contains(line) { return false }
            recentEvents.insert(line)
            recentOrder.append(line)
            if recentOrder.count > 512 { recentEvents.remove(recentOrder.removeFirst()) }
            return true
        }
    }

    public init(record: ProfileRecord, options: DashboardOptions) {
        self.record = record
        self.options = options
        state = DashboardState(agentCount: record.agents.count)
        frameTimer = LoopTimer(loop: loop)
        tickTimer = LoopTimer(loop: loop)
        messageTimer = LoopTimer(loop: loop)
    }

    // MARK: Running

    public func run() throws {
        setlocale(LC_ALL, "")
        let env = options.environment
        if let exe = resolveExecutable("tmux", path: env["PATH"]) {
            tmux = Tmux(executable: exe, socket: record.tmuxSocket, config: record.tmuxConfig)
        }
        let theme = Dashboard.loadTheme(environment: env)
        let sizes = paneSizes()
        for (i, entry) in record.agents.enumerated() {
            let size = sizes[entry.name] ?? (rows: 24, cols: 80)
            let logPath = entry.logPath
            let feed = AgentFeed(rows: size.rows, cols: size.cols) { from, to in
                guard to > from, let r = try? LogReader.read(path: logPath, from: from, maxBytes: Int(to - from)) else { return [] }
                return r.bytes
            }
            let slot = AgentSlot(index: i, entry: entry, feed: feed)
            // Picture from the end of the log, so a dashboard opened hours later shows the same.
            let end = (try? LogReader.segments(path: logPath))?.last?.end ?? 0
            feed.replay(logEnd: end)
            loadEvents(slot)
            agents.append(slot)
        }
        timeline.add(contentsOf: agents.flatMap { _ in [TimelineEvent]() })

        watcher = ProfileWatcher(loop: loop, record: record, output: true)
        watcher.onHello = { [unowned self] name, hello in
            guard let slot = self.slot(name) else { return }
            slot.feed.streamStarts(at: hello.logBytes)
            slot.bodyDirty = true
            self.requestFrame()
        }
        watcher.onOutput = { [unowned self] name, offset, bytes in
            guard let slot = self.slot(name), slot.feed.output(offset: offset, bytes: bytes) else { return }
            slot.bodyDirty = true
            // A command agent that writes again no longer waits for input (its shim stops saying so too).
            if slot.activity.attention?.reason == .input && slot.entry.kind == .command { slot.activity.attention = nil; slot.headerDirty = true }
            self.requestFrame()
            self.scheduleTick()
        }
        watcher.onChange = { [unowned self] name in
            guard let slot = self.slot(name) else { return }
            slot.headerDirty = true
            self.requestFrame()
            self.scheduleTick()
        }
        watcher.onEvent = { [unowned self] name, line in
            guard let slot = self.slot(name), slot.isNewEvent(line), let event = TimelineEvent.parse(line, agent: name) else { return }
            slot.activity.apply(event)
            slot.addToTranscript(event.record)
            self.timeline.add(event)
            slot.headerDirty = true
            if self.state.mode == .timeline { self.chromeDirty = true }
            self.requestFrame()
        }

        // Signals before initscr, so ncurses leaves SIGWINCH to us.
        for signum in [SIGINT, SIGTERM, SIGHUP] {
            let w = SignalWatcher(loop: loop)
            try w.start(signum) { [unowned self] _ in self.quit = true; self.loop.stop() }
            signals.append(w)
        }
        let winch = SignalWatcher(loop: loop)
        try winch.start(SIGWINCH) { [unowned self] _ in self.terminalResized() }
        signals.append(winch)

        try? makeDirectories(options.stateDir)
        TerminalGuard.install(stderrPath: options.stateDir + "/dashboard.stderr")
        screen = Screen(theme: theme, colorEnabled: !Theme.colorDisabled(environment: env))
        screen.start()
        defer {
            screen.stop()
            TerminalGuard.restore()
        }
        for warning in theme.warnings { FileHandle.standardError.write(Data("theme: \(warning)\n".utf8)) }

        let poll = try Poll(loop: loop, fd: 0)
        try poll.start(.readable) { [unowned self] _, _ in self.keysReady() }
        inputPoll = poll

        watcher.start()
        draw(frames.outputFrame(now: EventLoop.monotonicSeconds()))
        scheduleTick()
        while !quit { loop.runOnce() }

        applyFocusSizing(leaving: true)
        watcher.stop()
        poll.close()
        signals.forEach { $0.close() }
        frameTimer.close()
        tickTimer.close()
        messageTimer.close()
        screen.stop()
        TerminalGuard.restore()
        print("left the dashboard; the agents keep running (supervisor status \(record.name), supervisor down \(record.name))")
    }

    private func slot(_ name: String) -> AgentSlot? { agents.first { $0.entry.name == name } }

    static func loadTheme(environment: [String: String]) -> Theme {
        guard let path = Theme.locate(environment: environment, exists: { access($0, R_OK) == 0 }) else { return .builtIn }
        guard let data = FileManager.default.contents(atPath: path) else {
            var theme = Theme.builtIn
            theme.warnings = ["cannot read \(path); using the built-in colours"]
            return theme
        }
        return Theme.parse(String(decoding: data, as: UTF8.self), source: path)
    }

    /// Every agent pane's size, by one tmux call (the shim's pty follows its pane).
    private func paneSizes() -> [String: (rows: Int, cols: Int)] {
        guard let tmux, let result = try? tmux.run(["list-panes", "-s", "-t", "=\(record.name)", "-F", "#{window_name} #{pane_width} #{pane_height}"],
                                                    environment: options.environment), result.succeeded else { return [:] }
        var sizes: [String: (rows: Int, cols: Int)] = [:]
        for line in result.output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 3, let w = Int(parts[1]), let h = Int(parts[2]) { sizes[String(parts[0])] = (h, w) }
        }
        return sizes
    }

    private func refreshPaneSizes() {
        let sizes = paneSizes()
        for slot in agents {
            if let size = sizes[slot.entry.name] { slot.feed.resize(rows: size.rows, cols: size.cols); slot.bodyDirty = true }
        }
    }

    private func loadEvents(_ slot: AgentSlot) {
        guard let handle = FileHandle(forReadingAtPath: slot.entry.eventsPath) else { return }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let maxBytes: UInt64 = 8 << 20
        if size > maxBytes { try? handle.seek(toOffset: size - maxBytes) } else { try? handle.seek(toOffset: 0) }
        guard let data = try? handle.readToEnd() else { return }
        var lines = data.split(separator: 0x0a)
        if size > maxBytes, !lines.isEmpty { lines.removeFirst() }
        var events: [TimelineEvent] = []
        for raw in lines {
            let line = String(decoding: raw, as: UTF8.self)
            _ = slot.isNewEvent(line)
            if let event = TimelineEvent.parse(line, agent: slot.entry.name) {
                slot.activity.apply(event)
                slot.addToTranscript(event.record)
                events.append(event)
            }
        }
        timeline.add(contentsOf: events)
    }

    // MARK: Input

    private func keysReady() {
        guard !suspended else { return }
        for key in screen.readKeys() {
            handle(key)
            if quit || suspended { break }
        }
    }

    private func handle(_ key: Key) {
        if key == .resize { terminalResized(); return }
        let page = max(1, screen.height - 4)
        if let viewer = diffViewer {
            if viewer.handle(key, page: page) == .close { diffViewer = nil; layoutDirty = true }
            chromeDirty = true
            requestFrame(urgent: true)
            return
        }
        let result = state.handle(key, columns: columns(), page: page, kinds: timeline.kinds)
        if result.changes.contains(.mode) || result.changes.contains(.filter) { layoutDirty = true }
        if result.changes.contains(.selection) || result.changes.contains(.mode) { searchHit = nil }
        if result.changes.contains(.selection) {
            if state.mode == .tiles, let first = pageOf(state.selected), first != pageFirst { layoutDirty = true }
            for slot in agents { slot.headerDirty = true }
            if state.mode == .focus { layoutDirty = true }
        }
        if result.changes.contains(.scroll) { chromeDirty = true; if state.mode == .focus { agents[state.selected].bodyDirty = true } }
        if !result.changes.isEmpty { chromeDirty = true }
        if let command = result.command { perform(command) }
        if result.changes.contains(.mode) || result.changes.contains(.selection) { applyFocusSizing() }
        requestFrame(urgent: true)
    }

    /// Sizes the focused agent's pane to the focus area, and gives other panes their size back.
    private func applyFocusSizing(leaving: Bool = false) {
        guard let screen else { return }
        let focused = !leaving && state.mode == .focus && agents.indices.contains(state.selected) ? state.selected : nil
        let area = FocusSizing.area(width: screen.width, height: screen.height)
        var sizes: [String: (rows: Int, cols: Int)]?
        let (next, effects) = focusSizing.next(focused: focused, area: area) { [unowned self] i in
            if sizes == nil { sizes = self.paneSizes() }
            return sizes?[self.agents[i].entry.name].map { PaneSize(rows: $0.rows, cols: $0.cols) }
        }
        focusSizing = next
        guard let tmux, !effects.isEmpty else { return }
        for effect in effects {
            let (agent, size, restore): (Int, PaneSize, Bool)
            switch effect {
            case let .resize(a, to): (agent, size, restore) = (a, to, false)
            case let .restore(a, to): (agent, size, restore) = (a, to, true)
            }
            let target = "=\(record.name):=\(agents[agent].entry.name)"
            var argv = ["resize-window", "-t", target, "-x", "\(size.cols)", "-y", "\(size.rows)"]
            // resize-window pins the window's size; back to following its clients afterwards.
            if restore { argv += [";", "set-option", "-w", "-t", target, "-u", "window-size"] }
            _ = try? tmux.run(argv, environment: options.environment)
            agents[agent].feed.resize(rows: size.rows, cols: size.cols)
            agents[agent].bodyDirty = true
        }
    }

    private func columns() -> Int {
        guard let first = rects.first else { return 1 }
        return max(1, rects.filter { $0.y == first.y }.count)
    }

    private func pageOf(_ index: Int) -> Int? {
        let perPage = TileLayout.capacity(width: screen.width, height: max(0, screen.height - 2))
        guard perPage > 0 else { return nil }
        return TileLayout.page(count: agents.count, perPage: perPage, selected: index).first
    }

    private func perform(_ command: Command) {
        switch command {
        case .quit:
            quit = true
            loop.stop()
        case .attach(let i):
            guard let tmux else { say("tmux is not installed"); return }
            let env = options.environment
            let argv = tmux.attachCommand(session: record.name, window: agents[i].entry.name, environment: env)
            // Attached, the pane follows the person's terminal: give it its own size first.
            applyFocusSizing(leaving: true)
            runInTerminal(argv, environment: argv.contains("switch-client") ? env : Tmux.cleanEnvironment(env)) { [unowned self] in
                self.refreshPaneSizes()
                self.applyFocusSizing()
            }
        case .openLog(let i):
            let pager = (options.environment["PAGER"].flatMap { $0.isEmpty ? nil : $0 } ?? "less -R")
                .split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            var env = options.environment
            if env["LESS"] == nil { env["LESS"] = "-R" }
            let entry = agents[i].entry
            guard entry.kind.isBuiltIn else {
                runInTerminal(pager + [entry.logPath], environment: env) {}
                return
            }
            // A built-in agent: its conversation, rendered from its events (as `supervisor logs`).
            let path = options.stateDir + "/transcript-\(entry.name).txt"
            let colour = env["NO_COLOR"] == nil
            guard FileManager.default.createFile(atPath: path, contents: Data(Self.transcript(eventsPath: entry.eventsPath, colour: colour).utf8)) else {
                say("cannot write \(path)")
                return
            }
            runInTerminal(pager + [path], environment: env) { try? FileManager.default.removeItem(atPath: path) }
        case .send(let i, let text):
            let name = agents[i].entry.name
            say(watcher.send(.paste(text), to: name) ? "sent \(plural(text.count, "character")) to \(name)" : "\(name): its shim cannot be reached")
        case .restart(let i), .stop(let i):
            let op: ControlOp
            if case .restart = command { op = .restart } else { op = .stop }
            let entry = agents[i].entry
            if watcher.send(.control(op), to: entry.name) {
                say("\(op.rawValue) \(entry.name)…")
            } else {
                // The shim is gone: bring it back (restart) or record the stop, as the CLI does.
                do {
                    let outcome = try AgentControl(record: record, environment: options.environment).perform(op, on: entry)
                    say("\(entry.name): \(outcome)")
                } catch { say("\(entry.name): \(error)") }
            }
        case .cycleContext(let i):
            guard let cycle = options.cycleContext else { say("context mode cannot be changed here"); return }
            do { say(try cycle(agents[i].entry.name)) } catch { say("\(agents[i].entry.name): \(error)") }
        case .search(let query, let forward):
            search(query, forward: forward)
        case .openDiff(let i):
            let worktrees = Worktrees(paths: SupervisorPaths(environment: options.environment), environment: options.environment)
            diffViewer = DiffViewer(agent: agents[i].entry.name, profile: record.name, worktrees: worktrees, cache: diffCache, loop: loop) {
                [unowned self] in self.chromeDirty = true; self.requestFrame(urgent: true)
            }
            layoutDirty = true
        }
    }

    /// A notice in the help line; it goes at the next key or after `messageSeconds`.
    private func say(_ message: String) {
        state.message = message
        chromeDirty = true
        messageTimer.start(seconds: Dashboard.messageSeconds) { [unowned self] in // the notice expires
            guard self.state.message == message else { return }
            self.state.message = nil
            self.chromeDirty = true
            self.requestFrame()
        }
    }

    /// An agent's conversation as text, from the last 32 MiB of its events file.
    static func transcript(eventsPath: String, colour: Bool) -> String {
        guard let handle = FileHandle(forReadingAtPath: eventsPath) else { return "no events yet at \(eventsPath)\n" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let maxBytes: UInt64 = 32 << 20
        try? handle.seek(toOffset: size > maxBytes ? size - maxBytes : 0)
        guard let data = try? handle.readToEnd() else { return "" }
        var lines = data.split(separator: 0x0A)
        if size > maxBytes, !lines.isEmpty { lines.removeFirst() }
        let records = lines.compactMap { EventRecord(line: String(decoding: $0, as: UTF8.self)) }
        return TranscriptRenderer.render(records, options: .init(colour: colour))
    }

    /// Suspends curses and gives the terminal to a child (tmux attach, a pager), then restores.
    private func runInTerminal(_ argv: [String], environment: [String: String], then: @escaping () -> Void) {
        suspended = true
        inputPoll?.stop()
        frameTimer.stop()
        screen.suspend()
        let resume: (ProcessExit) -> Void = { [unowned self] _ in
            self.suspended = false
            self.screen.resume()
            then()
            try? self.inputPoll?.start(.readable) { [unowned self] _, _ in self.keysReady() }
            self.layoutDirty = true
            self.requestFrame(urgent: true)
        }
        do {
            _ = try ChildProcess(loop: loop, arguments: argv, environment: environment,
                                 stdio: [.inherit(0), .inherit(1), .inherit(TerminalGuard.terminalStderr)], onExit: resume)
        } catch {
            resume(.exited(127))
            say("cannot run \(argv.first ?? "?"): \(error)")
        }
    }

    private func terminalResized() {
        guard let size = PseudoTerminal.size(of: 1) ?? PseudoTerminal.size(of: 0) else { return }
        screen.resize(rows: size.rows, cols: size.cols)
        applyFocusSizing()
        layoutDirty = true
        requestFrame(urgent: true)
    }

    // MARK: Search (focus view)

    private func focusLines(_ slot: AgentSlot) -> [String] {
        let s = viewScreen(slot, area: Dashboard.inside(ScreenLayout(width: screen.width, height: screen.height).content))
        var lines = s.isAltScreen ? [] : s.scrollbackLines()
        let text = s.text()
        let bottom = s.isAltScreen ? s.rows - 1 : min(s.rows - 1, max(s.cursor.row, lastNonBlank(text)))
        lines += text.prefix(bottom + 1)
        return lines
    }

    private func lastNonBlank(_ text: [String]) -> Int {
        text.lastIndex(where: { !$0.isEmpty }) ?? 0
    }

    private func search(_ query: String, forward: Bool) {
        let slot = agents[state.selected]
        slot.feed.feed(budget: Int.max)
        let lines = focusLines(slot)
        let view = max(1, screen.height - 3)
        let currentBottom = lines.count - 1 - state.scroll
        let from = searchHit?.line ?? min(lines.count, currentBottom + 1)
        guard let hit = TextSearch.find(query, in: lines, from: from, forward: forward) else {
            say("\(slot.entry.name): not found: \(query)")
            return
        }
        searchHit = (hit, TextSearch.columns(of: query, in: lines[hit]) ?? 0..<0)
        // Put the hit in the middle of the view where possible.
        state.scroll = max(0, lines.count - 1 - hit - view / 2)
        state.clampScroll(maxScroll: max(0, lines.count - view))
        slot.bodyDirty = true
        say("\(slot.entry.name): match at line \(hit + 1) of \(lines.count) · n older, N newer")
    }

    // MARK: Frames

    /// Asks for a frame. A key's (urgent) is drawn at once and light; output frames come when
    /// `frames` says (at most ~30/s, fewer when they are expensive). Nothing is drawn while
    /// nothing is dirty.
    private func requestFrame(urgent: Bool = false) {
        guard !suspended else { return }
        let now = EventLoop.monotonicSeconds()
        if urgent {
            // An output frame already scheduled stays; one that is due follows this frame.
            draw(frames.keyFrame(now: now))
            return
        }
        guard !frameTimer.isActive else { return }
        frameTimer.start(milliseconds: UInt64(frames.outputDelay(now: now) * 1000)) { [unowned self] in // frame cap
            self.draw(self.frames.outputFrame(now: EventLoop.monotonicSeconds()))
        }
    }

    private func draw(_ frame: FrameScheduler.Frame) {
        guard !suspended, let screen else { return }
        let started = EventLoop.monotonicSeconds()
        // A key frame skips feeding the agents' screens (the expensive part); tile bodies
        // waiting for output stay dirty for the next output frame.
        switch frame {
        case .key:
            skipBodies = true
        case .output(let seconds):
            skipBodies = false
            feedScreens(seconds: seconds)
        }
        let layout = ScreenLayout(width: screen.width, height: screen.height)
        if layoutDirty {
            screen.erase()
            chromeDirty = true
            for slot in agents { slot.headerDirty = true; slot.bodyDirty = true }
        }
        defer { layoutDirty = false }
        guard layout.fits else {
            if layoutDirty {
                let notice = "too small: need \(ScreenLayout.minWidth)x\(ScreenLayout.minHeight) (have \(layout.width)x\(layout.height))"
                screen.text(notice, y: 0, x: 0, maxWidth: layout.width, style: UIStyle(role: .error, bold: true))
                screen.present()
            }
            finishFrame(started, frame)
            return
        }
        let now = Date().timeIntervalSince1970
        var models: [AgentTileModel] = []
        for slot in agents {
            // On a profile with several engines a tile says where the agent's container runs: [goal@big].
            let kind = slot.entry.engine.map { $0 == EngineEndpoint.defaultName ? slot.entry.kind.rawValue : "\(slot.entry.kind.rawValue)@\($0)" } ?? slot.entry.kind.rawValue
            let model = AgentTileModel(index: slot.index, name: slot.entry.name, kind: kind,
                                       state: watcher.states[slot.entry.name], activity: slot.activity,
                                       unreachable: watcher.unreachable.contains(slot.entry.name), waitingHeuristic: slot.entry.kind == .command && slot.activity.attention?.reason == .input, now: now)
            if model != slot.model {
                // The bell rings once when an agent comes to need a person (not for what the
                // dashboard finds when it opens).
                if let old = slot.model, !old.needsPerson, model.needsPerson { ringBell = true }
                slot.model = model
                slot.headerDirty = true
            }
            models.append(model)
        }
        state.listOrder = AgentList.order(models)
        if ringBell { screen.bell(); ringBell = false }
        let totals = statusText(models)
        let needed = models.filter(\.needsPerson).count
        if needed != lastNeeded { lastNeeded = needed; chromeDirty = true } // the badge
        if totals != lastTotals { lastTotals = totals; chromeDirty = true }

        if let viewer = diffViewer {
            if layoutDirty || viewer.dirty { viewer.draw(screen, layout.content) }
        } else if state.showHelp {
            if layoutDirty || chromeDirty { drawHelp(layout) }
        } else {
            switch state.mode {
            case .tiles: drawTiles(layout)
            case .focus: drawFocus(layout)
            case .list: drawList(layout)
            case .timeline: if layoutDirty || chromeDirty { drawTimeline(layout) }
            }
        }
        if chromeDirty { drawChrome(layout) }
        chromeDirty = false
        screen.present()
        finishFrame(started, frame)
    }

    private func finishFrame(_ started: Double, _ frame: FrameScheduler.Frame) {
        if case .output = frame { frames.outputFrameEnded(cost: EventLoop.monotonicSeconds() - started) }
        // Output that arrived while feeding was over budget still waits: draw it soon.
        if agents.contains(where: { $0.feed.pendingCount > 0 || (skipBodies && $0.bodyDirty) }) { requestFrame() }
    }

    /// Feeds every agent's pending output within the budget for the time since the last frame.
    private func feedScreens(seconds: Double) {
        let busy = agents.filter { $0.feed.pendingCount > 0 }
        guard !busy.isEmpty else { return }
        let allowed = feedCPUShare * max(seconds, FrameScheduler.minInterval)
        let total = max(16 * 1024, Int(allowed / feedCostPerByte))
        let share = max(4 * 1024, total / busy.count)
        let started = EventLoop.monotonicSeconds()
        var fed = 0
        for slot in busy {
            let focused = state.mode == .focus && slot.index == state.selected
            fed += slot.feed.feed(budget: focused ? max(share, 256 * 1024) : share)
            if let _ = slot.feed.screen.takeDamage() { slot.bodyDirty = true }
            let c = slot.feed.screen.cursor
            if (c.row, c.col) != slot.cursor { slot.cursor = (c.row, c.col); slot.bodyDirty = true }
        }
        if fed >= 4096 {
            let cost = (EventLoop.monotonicSeconds() - started) / Double(fed)
            feedCostPerByte = feedCostPerByte * 0.7 + cost * 0.3
        }
    }

    private func statusText(_ models: [AgentTileModel]) -> String {
        Totals(tiles: models, activities: agents.map(\.activity)).text
    }

    private func drawChrome(_ layout: ScreenLayout) {
        let bar = UIStyle(role: .status, onStatusBar: true, bold: true)
        screen.fill(layout.statusBar, style: UIStyle(onStatusBar: true))
        var x = screen.text(" supervisor · \(record.name) · ", y: 0, x: 0, maxWidth: layout.width, style: bar)
        x += screen.text(lastTotals, y: 0, x: x, maxWidth: layout.width - x, style: UIStyle(role: .status, onStatusBar: true))
        let needed = lastNeeded
        if needed > 0 {
            let flag = " \(needed) \(needed == 1 ? "NEEDS" : "NEED") YOU · o list "
            let w = flag.count
            if layout.width - w > x { screen.text(flag, y: 0, x: layout.width - w, maxWidth: w, style: UIStyle(role: .waiting, reverse: true)) }
        }
        let help: String
        if let prompt = state.prompt {
            help = prompt.label { [unowned self] in self.agents.indices.contains($0) ? self.agents[$0].entry.name : "?" } + prompt.text + "▏"
        } else if let message = state.message {
            help = message
        } else if diffViewer != nil {
            help = DiffViewer.help
        } else {
            switch state.mode {
            case .tiles: help = HelpText.tiles
            case .list: help = HelpText.list
            case .focus: help = HelpText.focus
            case .timeline:
                let agent = state.timelineAgent.map { agents[$0].entry.name } ?? "all agents"
                help = "[\(agent) · \(state.timelineKind ?? "all events")] " + HelpText.timeline
            }
        }
        screen.fill(layout.helpLine, style: UIStyle(onStatusBar: true))
        screen.text(" " + help, y: layout.helpLine.y, x: 0, maxWidth: layout.width,
                    style: UIStyle(role: state.prompt != nil ? .user : .status, onStatusBar: true))
    }

    private func drawTiles(_ layout: ScreenLayout) {
        let perPage = max(1, TileLayout.capacity(width: layout.content.width, height: layout.content.height))
        let page = TileLayout.page(count: agents.count, perPage: perPage, selected: state.selected)
        if layoutDirty || page.first != pageFirst {
            pageFirst = page.first
            let c = layout.content
            rects = TileLayout.compute(count: page.count, width: c.width, height: c.height).map {
                Rect(x: $0.x + c.x, y: $0.y + c.y, width: $0.width, height: $0.height)
            }
            if !layoutDirty { screen.fill(layout.content) }
            for slot in agents { slot.headerDirty = true; slot.bodyDirty = true }
        }
        for (n, rect) in rects.enumerated() {
            let slot = agents[pageFirst + n]
            if slot.headerDirty { drawFrame(slot, rect: rect) }
            if slot.bodyDirty && (!skipBodies || layoutDirty) {
                drawBody(slot, rect: Dashboard.inside(rect), scroll: 0)
                slot.bodyDirty = false
            }
            slot.headerDirty = false
        }
        if agents.count > rects.count, layoutDirty || chromeDirty {
            let note = " page \(pageFirst / perPage + 1)/\((agents.count + perPage - 1) / perPage) "
            screen.text(note, y: layout.helpLine.y - 0, x: max(0, layout.width - note.count), maxWidth: note.count, style: UIStyle(role: .accent, reverse: true))
        }
    }

    /// The tile's border with its title in the top edge; the selected tile's border stands out.
    private func drawFrame(_ slot: AgentSlot, rect: Rect) {
        guard let model = slot.model else { return }
        let selected = slot.index == state.selected
        screen.box(rect, style: UIStyle(role: selected ? .accent : .muted, bold: selected))
        var x = rect.x + 1
        let end = rect.maxX - 1
        if selected { x += screen.text("▶", y: rect.y, x: x, maxWidth: end - x, style: UIStyle(role: .accent, bold: true)) }
        for piece in TileTitle.compose(model, width: max(0, end - x - 2)) {
            x += screen.text(" ", y: rect.y, x: x, maxWidth: end - x)
            x += screen.text(piece.text, y: rect.y, x: x, maxWidth: end - x,
                             style: UIStyle(role: piece.role, bold: piece.chip || piece.role == .header, reverse: piece.chip))
        }
        if x < end { screen.text(" ", y: rect.y, x: x, maxWidth: end - x) }
    }

    /// The area inside a tile's border.
    static func inside(_ rect: Rect) -> Rect {
        Rect(x: rect.x + 1, y: rect.y + 1, width: max(0, rect.width - 2), height: max(0, rect.height - 2))
    }

    /// The screen an agent's view draws from: its terminal, or its conversation laid out for
    /// `area` (the conversation is as wide as the view, so it wraps where the view ends).
    private func viewScreen(_ slot: AgentSlot, area: Rect) -> VirtualScreen {
        if slot.view(switched: state.switchedViews.contains(slot.index)) == .transcript, let transcript = slot.transcript {
            transcript.resize(cols: area.width, rows: area.height)
            return transcript.screen
        }
        return slot.feed.screen
    }

    private func drawBody(_ slot: AgentSlot, rect: Rect, scroll: Int) {
        let vt = viewScreen(slot, area: rect)
        let colored = screen.colorEnabled
        let blank: (Int) -> Cell = { _ in Cell(text: "", width: 1) }
        // An agent that ended after a full-screen interface: its last full screen, from the top.
        if vt === slot.feed.screen, slot.ended, !vt.isAltScreen, let last = slot.feed.lastFullScreen {
            for r in 0..<rect.height {
                let cells = r < last.count ? last[r] : []
                screen.cells(r < last.count ? { cells[$0] } : blank, count: min(cells.count, rect.width), y: rect.y + r, x: rect.x,
                             width: rect.width, colored: colored)
            }
            return
        }
        if scroll == 0 || vt.isAltScreen {
            let cursor = vt.cursor
            let first = Crop.firstRow(screenRows: vt.rows, areaHeight: rect.height, cursorRow: cursor.row, lastUsedRow: cursor.row,
                                      fullScreen: vt.isAltScreen)
            for r in 0..<rect.height {
                let row = first + r
                if row < vt.rows {
                    screen.cells({ vt.cell(row: row, col: $0) }, count: min(vt.cols, rect.width), y: rect.y + r, x: rect.x, width: rect.width,
                                 colored: colored, highlight: false, marked: marked(line: (vt.isAltScreen ? 0 : vt.scrollbackCount) + row))
                } else {
                    screen.cells(blank, count: 0, y: rect.y + r, x: rect.x, width: rect.width, colored: colored)
                }
            }
            return
        }
        // Scrolled back: scrollback lines then the screen down to the cursor.
        let sb = vt.scrollbackCells()
        let bottom = min(vt.rows - 1, vt.cursor.row)
        let total = sb.count + bottom + 1
        let end = max(0, total - scroll)
        let start = max(0, end - rect.height)
        for r in 0..<rect.height {
            let line = start + r
            if line < end {
                if line < sb.count {
                    let cells = sb[line]
                    screen.cells({ cells[$0] }, count: min(cells.count, rect.width), y: rect.y + r, x: rect.x, width: rect.width, colored: colored,
                                 marked: marked(line: line))
                } else {
                    let row = line - sb.count
                    screen.cells({ vt.cell(row: row, col: $0) }, count: min(vt.cols, rect.width), y: rect.y + r, x: rect.x, width: rect.width,
                                 colored: colored, marked: marked(line: line))
                }
            } else {
                screen.cells(blank, count: 0, y: rect.y + r, x: rect.x, width: rect.width, colored: colored)
            }
        }
    }

    /// The columns of the search match on `line` (of the focused view's lines), if any.
    private func marked(line: Int) -> Range<Int>? {
        guard state.mode == .focus, let hit = searchHit, hit.line == line else { return nil }
        return hit.columns
    }

    private func drawFocus(_ layout: ScreenLayout) {
        let slot = agents[state.selected]
        let c = layout.content
        rects = []
        if layoutDirty || slot.headerDirty { drawFrame(slot, rect: c) }
        if layoutDirty || slot.bodyDirty {
            let body = Dashboard.inside(c)
            let vt = viewScreen(slot, area: body)
            if !vt.isAltScreen {
                let total = vt.scrollbackCount + min(vt.rows - 1, vt.cursor.row) + 1
                state.clampScroll(maxScroll: max(0, total - body.height))
            } else {
                state.scroll = 0
            }
            drawBody(slot, rect: body, scroll: state.scroll)
            if state.scroll > 0 {
                let note = " scrolled back \(plural(state.scroll, "line")) · End returns "
                screen.text(note, y: c.maxY - 1, x: max(0, c.maxX - 1 - note.count), maxWidth: note.count, style: UIStyle(role: .accent, reverse: true))
            }
        }
        slot.headerDirty = false
        slot.bodyDirty = false
        for other in agents where other !== slot { other.headerDirty = false; other.bodyDirty = false }
    }

    private var listFirst = 0

    /// The list of agents on the left, the selected agent's live preview on the right.
    private func drawList(_ layout: ScreenLayout) {
        let (list, preview) = AgentList.split(layout.content)
        let selectedSlot = agents.indices.contains(state.selected) ? agents[state.selected] : nil
        let listChanged = layoutDirty || chromeDirty || agents.contains { $0.headerDirty }
        if listChanged {
            let nameWidth = agents.map { TextWidth.columns($0.entry.name) }.max() ?? 6
            screen.text(AgentList.heading(width: list.width, nameWidth: nameWidth), y: list.y, x: list.x, maxWidth: list.width,
                        style: UIStyle(role: .muted, bold: true))
            let height = list.height - 1
            let order = state.listOrder
            let row = order.firstIndex(of: state.selected) ?? 0
            listFirst = AgentList.firstVisible(selectedRow: row, count: order.count, height: height, current: listFirst)
            let stateX = list.x + AgentList.stateColumn(nameWidth: nameWidth)
            for r in 0..<height {
                let y = list.y + 1 + r
                let n = listFirst + r
                guard n < order.count, let model = agents[order[n]].model else {
                    screen.fill(Rect(x: list.x, y: y, width: list.width, height: 1))
                    continue
                }
                let selected = order[n] == state.selected
                let text = AgentList.line(AgentList.Row(model: model, lastActivity: agents[order[n]].activity.lastAction),
                                          width: list.width, nameWidth: nameWidth)
                screen.text(text, y: y, x: list.x, maxWidth: list.width,
                            style: UIStyle(role: model.needsPerson ? .waiting : .text, reverse: selected))
                let label = model.state.label
                screen.text(label, y: y, x: stateX, maxWidth: min(11, list.maxX - stateX),
                            style: UIStyle(role: model.state.role, bold: true, reverse: selected))
            }
            if order.count > height {
                let note = " \(listFirst + 1)-\(min(order.count, listFirst + height)) of \(order.count) "
                screen.text(note, y: list.y, x: max(list.x, list.maxX - note.count), maxWidth: note.count, style: UIStyle(role: .accent, reverse: true))
            }
        }
        guard let slot = selectedSlot, preview.width >= 4, preview.height >= 3 else { return }
        if listChanged || slot.headerDirty { drawFrame(slot, rect: preview) }
        if listChanged || slot.bodyDirty {
            drawBody(slot, rect: Dashboard.inside(preview), scroll: 0)
        }
        for other in agents { other.headerDirty = false; if other !== slot { other.bodyDirty = false } }
        slot.bodyDirty = false
    }

    private func drawTimeline(_ layout: ScreenLayout) {
        let c = layout.content
        screen.fill(c)
        let agentName = state.timelineAgent.map { agents[$0].entry.name }
        let events = timeline.filtered(agent: agentName, kind: state.timelineKind)
        let height = c.height
        let maxScroll = max(0, events.count - height)
        if state.timelineScroll > maxScroll { state.timelineScroll = maxScroll }
        let end = events.count - state.timelineScroll
        let start = max(0, end - height)
        let offset = Int(TimeZone.current.secondsFromGMT())
        let nameWidth = min(16, agents.map { $0.entry.name.count }.max() ?? 8)
        if events.isEmpty {
            screen.text("no events yet", y: c.y, x: 1, maxWidth: c.width - 1, style: UIStyle(role: .muted))
        }
        for (row, event) in events[start..<end].enumerated() {
            let role: Theme.Role
            switch event.event {
            case .exit, .invalid, .error, .final: role = .error
            case .state: role = .busy
            case .tool, .toolCall, .toolResult, .command, .commandOutput, .code, .block, .blockOutput: role = .tool
            case .tokens, .perf, .budget, .context: role = .muted
            case .message, .reply, .user: role = .text
            default: role = .header
            }
            screen.text(Timeline.format(event, utcOffset: offset, agentWidth: nameWidth), y: c.y + row, x: 1, maxWidth: c.width - 1, style: UIStyle(role: role))
        }
    }

    private func drawHelp(_ layout: ScreenLayout) {
        let c = layout.content
        screen.fill(c)
        for (i, line) in HelpText.full.enumerated() where i < c.height {
            screen.text(line, y: c.y + i, x: 2, maxWidth: c.width - 2, style: UIStyle(role: i == 0 ? .header : .text, bold: i == 0))
        }
    }

    // MARK: The slow clock: uptimes

    /// One timer for everything slow: ticks each second only while a visible uptime shows
    /// seconds; otherwise it sleeps. (Whether a command agent waits for input is its shim's
    /// `attention` event: the shim looks in /proc, with or without a dashboard.)
    private func scheduleTick() {
        let now = EventLoop.monotonicSeconds()
        let clock = agents.contains(where: { $0.model?.uptimeShowsSeconds ?? false })
        let due: Double? = clock ? 1.0 : nil
        guard let due else { tickTimer.stop(); tickDueAt = nil; return }
        if tickTimer.isActive, let at = tickDueAt, at <= now + due + 0.001 { return }
        tickDueAt = now + due
        tickTimer.start(seconds: due) { [unowned self] in self.tickDueAt = nil; self.tick() } // uptime seconds
    }

    private func tick() {
        for slot in agents where slot.model?.uptimeShowsSeconds ?? false { slot.headerDirty = true }
        requestFrame()
        scheduleTick()
    }
}
