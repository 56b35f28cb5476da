import Foundation
import Hosting
import Loop

/// The live view `up` shows on a terminal until the ncurses dashboard lands: one line per agent
/// with its state and last line of output. Quitting it never stops an agent.
final class PlainStatusView {
    let record: ProfileRecord
    private let loop = EventLoop()
    private var watcher: ProfileWatcher!
    private var lastLine: [String: String] = [:]
    private var partial: [String: [UInt8]] = [:]
    private var strippers: [String: TerminalTextStripper] = [:]
    private var dirty = true
    private var attached = false
    private var quit = false
    private var input: TTYStream?
    private let frameTimer: LoopTimer
    private let clock: LoopTimer

    init(record: ProfileRecord) {
        self.record = record
        frameTimer = LoopTimer(loop: loop)
        clock = LoopTimer(loop: loop)
    }

    func run() throws {
        watcher = ProfileWatcher(loop: loop, record: record, output: true)
        watcher.onChange = { [unowned self] _ in self.markDirty() }
        watcher.onOutput = { [unowned self] agent, _, bytes in self.output(agent, bytes) }
        let tty = try TTYStream(loop: loop, fd: 0)
        input = tty
        try tty.setMode(.raw)
        try tty.startReading { [unowned self] result in
            if case .data(let bytes) = result { self.key(Array(bytes)) }
        }
        var signals: [SignalWatcher] = []
        for signum in [SIGINT, SIGTERM, SIGHUP] {
            let watcher = SignalWatcher(loop: loop)
            try watcher.start(signum) { [unowned self] _ in self.quit = true; self.loop.stop() }
            signals.append(watcher)
        }
        let resize = SignalWatcher(loop: loop)
        try resize.start(SIGWINCH) { [unowned self] _ in self.markDirty() }
        signals.append(resize)
        clock.start(milliseconds: 1000, repeatMilliseconds: 1000) { [unowned self] in self.markDirty() } // uptimes tick
        write("\u{1b}[?1049h\u{1b}[?25l")
        watcher.start()
        draw()
        while !quit { loop.runOnce() }
        watcher.stop()
        signals.forEach { $0.close() }
        write("\u{1b}[?25h\u{1b}[?1049l")
        TTYStream.resetMode()
        print("left the view; agents keep running (supervisor status \(record.name), supervisor down \(record.name))")
    }

    private func write(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }

    private func output(_ agent: String, _ bytes: [UInt8]) {
        var stripper = strippers[agent] ?? TerminalTextStripper()
        var buffer = (partial[agent] ?? []) + stripper.feed(bytes)
        strippers[agent] = stripper
        if let newline = buffer.lastIndex(of: 0x0a) {
            let complete = buffer[..<newline]
            if let line = complete.split(separator: 0x0a).last(where: { !$0.allSatisfy { $0 == 0x20 } }) {
                lastLine[agent] = String(decoding: line, as: UTF8.self)
            }
            buffer = Array(buffer[(newline + 1)...])
        }
        partial[agent] = Array(buffer.suffix(4096))
        markDirty()
    }

    /// Frames are capped at 10 per second: output can arrive far faster than anyone reads.
    private func markDirty() {
        dirty = true
        guard !frameTimer.isActive, !attached else { return }
        frameTimer.start(milliseconds: 100) { [unowned self] in self.draw() } // frame cap
    }

    private func key(_ bytes: [UInt8]) {
        guard let byte = bytes.first else { return }
        switch byte {
        case UInt8(ascii: "q"), 3: quit = true
        case UInt8(ascii: "1")...UInt8(ascii: "9"):
            let index = Int(byte - UInt8(ascii: "1"))
            if index < record.agents.count { attach(record.agents[index].name) }
        default: break
        }
    }

    private func attach(_ agent: String) {
        guard let tmuxPath = resolveExecutable("tmux", path: ProcessInfo.processInfo.environment["PATH"]) else { return }
        let tmux = Tmux(executable: tmuxPath, socket: record.tmuxSocket, config: record.tmuxConfig)
        attached = true
        input?.stopReading()
        write("\u{1b}[?25h\u{1b}[?1049l")
        TTYStream.resetMode()
        let argv = tmux.attachCommand(session: record.name, window: agent, environment: ProcessInfo.processInfo.environment)
        let done: (ProcessExit) -> Void = { [unowned self] _ in
            self.attached = false
            try? self.input?.setMode(.raw)
            try? self.input?.startReading { [unowned self] result in
                if case .data(let bytes) = result { self.key(Array(bytes)) }
            }
            self.write("\u{1b}[?1049h\u{1b}[?25l")
            self.markDirty()
        }
        do {
            _ = try ChildProcess(loop: loop, arguments: argv, environment: Tmux.cleanEnvironment(ProcessInfo.processInfo.environment),
                                 stdio: [.inherit(0), .inherit(1), .inherit(2)], onExit: done)
        } catch { done(.exited(127)) }
    }

    private func draw() {
        guard dirty, !attached else { return }
        dirty = false
        let size = PseudoTerminal.size(of: 1) ?? (rows: 24, cols: 80)
        let now = Date().timeIntervalSince1970
        var lines: [String] = []
        let statuses = record.agents.map { agent -> (ProfileRecord.Agent, AgentState?) in (agent, watcher.states[agent.name]) }
        let running = statuses.filter { $0.1?.state == .running }.count
        lines.append("\u{1b}[1msupervisor\u{1b}[0m · \(record.name) · \(record.agents.count) agents, \(running) running")
        lines.append("")
        for (index, (agent, state)) in statuses.enumerated() {
            let phase = watcher.unreachable.contains(agent.name) && !(state?.state == .exited || state?.state == .failed || state?.state == .stopped)
                ? "unreachable" : state?.state.rawValue ?? "starting"
            let color: String
            switch phase {
            case "running": color = "32"
            case "failed", "unreachable": color = "31"
            case "restarting", "stopping", "starting": color = "33"
            default: color = "37"
            }
            var detail = ""
            if let state {
                if let pid = state.agentPid { detail += "pid \(pid)  " }
                detail += "for \(formatDuration(now - state.since))  "
                if state.restarts > 0 { detail += "restarts \(state.restarts)  " }
                if let exit = state.runs.last?.exit, !state.state.isActive { detail += "last \(exit)  " }
            }
            lines.append("\(index + 1) \u{1b}[1m\(agent.name.padding(toLength: 16, withPad: " ", startingAt: 0))\u{1b}[0m \u{1b}[\(color)m\(phase.padding(toLength: 11, withPad: " ", startingAt: 0))\u{1b}[0m \(detail)")
            if let line = lastLine[agent.name] {
                lines.append("   \u{1b}[2m│ \(String(line.prefix(max(0, size.cols - 5))))\u{1b}[0m")
            }
        }
        lines.append("")
        lines.append("\u{1b}[2mq quit (agents keep running) · 1-9 attach to an agent (C-b d or F12 comes back)\u{1b}[0m")
        var screen = "\u{1b}[H"
        for line in lines.prefix(size.rows) { screen += line + "\u{1b}[K\r\n" }
        screen += "\u{1b}[J"
        write(screen)
    }
}
