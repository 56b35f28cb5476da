import Foundation
import Glibc
import Hosting
import Loop

/// How a command in the shell session ended.
public enum ShellStatus: Codable, Equatable, CustomStringConvertible {
    /// It finished with this exit status.
    case exited(Int)
    /// Still running after the timeout: moved to the background (`job` is bash's "[1]+ cmd &"),
    /// or, when it could not be suspended, interrupted.
    case stillRunning(seconds: Double, job: String?, interrupted: Bool)
    /// It was blocked reading the terminal (waiting for interactive input) and was interrupted.
    case waitingForInput
    /// The shell itself ended or stopped responding (the goal runner starts a new one, or ends
    /// the run when none can be started).
    case shellExited(String)
    /// It was interrupted (Ctrl-C, then killed if it did not stop) for this reason (the time
    /// budget ran out).
    case interrupted(String)
    /// It was not run: the model's answer stopped at `max_tokens` before the command was complete.
    case cutOff(maxTokens: Int)

    public var description: String {
        switch self {
        case .exited(let code): return "exit status \(code)"
        case .stillRunning(let s, let job, let interrupted):
            let secs = String(format: "%.0f", s)
            if interrupted { return "still running after \(secs)s; it could not be moved to the background, so it was interrupted (Ctrl-C)" }
            return "still running after \(secs)s; moved to the background" + (job.map { " as \($0)" } ?? "") + " and left running"
        case .waitingForInput:
            return "it was waiting for interactive input (reading the terminal), so it was interrupted (Ctrl-C); use non-interactive options or give the input with a pipe or here-document"
        case .shellExited(let why): return "the shell ended (\(why))"
        case .interrupted(let why): return "interrupted (Ctrl-C): \(why)"
        case .cutOff(let n):
            return "NOT RUN: your answer was cut off at max_tokens (\(n) tokens) before the command was complete, so nothing ran. Answer with shorter commands: write a big file in several smaller commands (cat > f <<'EOF' ... EOF, then cat >> f <<'EOF' ... EOF), one step at a time"
        }
    }

    public var isSuccess: Bool { self == .exited(0) }
}

/// What the shell session reports for one command.
public struct ShellOutcome: Equatable {
    public var status: ShellStatus
    /// Cleaned output (see `OutputCleaner`), including output of background jobs that arrived
    /// since the previous command (after a note).
    public var output: String
    public var duration: Double
    /// The shell's working directory after the command (nil if unknown).
    public var cwd: String?
}

public struct ShellSessionOptions {
    /// A command still running after this many seconds is suspended and moved to the background.
    public var commandTimeout: Double = 60
    /// Output quiet for this long: check whether the command waits for terminal input.
    public var quietCheck: Double = 1.0
    /// How long to wait for the shell after Ctrl-Z / Ctrl-C before escalating.
    public var grace: Double = 3
    public var rows = 50
    public var cols = 160
    /// Captured output kept per command (head and tail).
    public var outputLimit = 200_000
    /// Inspect and signal the shell's processes from inside the box (small `bash` probes run
    /// through `box.argv`, reading the box's /proc) instead of through this host's /proc and
    /// pids. nil: inside the box for every box but `LocalBox` (in a container the host-side
    /// process on the terminal is the `docker exec` client, not the command).
    public var inBoxProcesses: Bool?
    /// Seconds an in-box probe or signal may take.
    public var probeTimeout: Double = 10
    public init() {}
}

/// One persistent bash per agent, in a pseudo-terminal, started through the box (`interactive`,
/// `tty`), so `cd`, `export` and background jobs persist like in a real terminal.
///
/// Completion is exact: each command is sent as a `$'...'`-quoted variable and run with
/// `eval` between two sentinels carrying a random nonce (`__SV_BEGIN_<n>__` and
/// `__SV_END_<n>_<status>__ <pwd>`); the prompt (PS1) is a per-session marker, so the session
/// also knows when bash is back at its prompt after an interrupt. The sentinels are printed with
/// printf formats, so the typed text never contains them; they and the prompt are removed from
/// what anyone sees.
public final class ShellSession {
    public let box: Box
    public var options: ShellSessionOptions
    /// Raw bytes from the terminal, markers removed (for the agent's view of the terminal).
    public var onDisplay: ((String) -> Void)?
    /// Says (through the callback, once) whether the terminal's foreground process is blocked
    /// reading the terminal. Default: /proc inspection of the foreground process group, on this
    /// host for a local box, inside the box otherwise (see `ShellSessionOptions.inBoxProcesses`).
    public var inputProbe: ((ShellSession, @escaping (Bool) -> Void) -> Void)?
    /// The shell ended by itself while no command ran (killed, or its box went away); not
    /// called for `terminate()`/`close()` or while a command runs (that command reports it).
    public var onEnded: ((String) -> Void)?

    private let loop: EventLoop
    private let environment: [String: String]
    private let sessionNonce = ShellSession.nonce()
    private var promptMarker: String { "__SV_PROMPT_\(sessionNonce)__" }

    private var pty: PseudoTerminal?
    private var master: PipeStream?
    private var children: ChildWatcher?
    /// The host-side process on the terminal: bash locally, the `docker exec` client otherwise.
    public private(set) var shellPID: pid_t = 0
    /// The shell's pid as the box sees it (`$$`, reported when the shell starts).
    public private(set) var boxShellPID: Int?
    /// Whether processes are inspected and signalled inside the box (see the option).
    public var usesInBoxProcesses: Bool { options.inBoxProcesses ?? !(box is LocalBox) }
    private var probing = false
    private var stripper = TerminalTextStripper()
    private var pendingLine = ""

    private enum Phase { case stopped, starting, idle, busy }
    private var phase: Phase = .stopped
    private var startCompletion: ((Error?) -> Void)?
    private var job: Job?
    /// Output that arrived while no command ran (background jobs).
    private var idleOutput: [String] = []
    private var idleOutputChars = 0
    /// The session of the shell that ended last, until `endLeftovers()`.
    private var endedSession: (pid: pid_t, boxPID: Int?)?
    /// What the shell's start printed (the box's error when it cannot start, e.g. docker's "No
    /// such container"), for the start error.
    private var startOutput: [String] = []

    private let quietTimer: LoopTimer
    private let timeoutTimer: LoopTimer
    private let graceTimer: LoopTimer
    public private(set) var cwd: String?

    private final class Job {
        let nonce = ShellSession.nonce()
        let command: String
        let completion: (ShellOutcome) -> Void
        let started = EventLoop.monotonicSeconds()
        var buffer: HeadTailLines
        var stage = ShellJobStage.sent(prompts: 0)
        var exitCode: Int?
        var cwd: String?
        var linesSent = 0
        var hidden: Bool
        init(command: String, hidden: Bool, limit: Int, completion: @escaping (ShellOutcome) -> Void) {
            self.command = command; self.hidden = hidden; self.completion = completion
            buffer = HeadTailLines(limit: limit)
        }
    }

    public init(loop: EventLoop, box: Box, environment: [String: String] = [:], options: ShellSessionOptions = ShellSessionOptions()) {
        self.loop = loop
        self.box = box
        self.environment = environment
        self.options = options
        quietTimer = LoopTimer(loop: loop)
        timeoutTimer = LoopTimer(loop: loop)
        graceTimer = LoopTimer(loop: loop)
    }

    static func nonce() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<12).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
    }

    public var isRunning: Bool { phase == .idle || phase == .busy || phase == .starting }
    public var slavePath: String? { pty?.slavePath }

    // MARK: Starting

    /// Starts bash (in `directory`, a box path; nil = the workspace). `completion` runs once bash
    /// is at its first prompt, or with the error.
    public func start(directory: String? = nil, completion: @escaping (Error?) -> Void) {
        guard phase == .stopped else { completion(nil); return }
        var env = ["TERM": "dumb", "PAGER": "cat", "GIT_PAGER": "cat", "SYSTEMD_PAGER": "", "MANPAGER": "cat",
                   "DEBIAN_FRONTEND": "noninteractive", "HISTFILE": "/dev/null", "LC_ALL": "C.UTF-8",
                   ShellSession.sessionMarkerVariable: "1"]
        for (k, v) in environment { env[k] = v }
        let argv = box.argv(["bash", "--noprofile", "--norc", "--noediting", "-i"], directory: directory, environment: env,
                            interactive: true, tty: true)
        let hostEnv = box.hostProcessEnvironment(env)
        do {
            guard let executable = argv[0].contains("/") ? argv[0] : resolveExecutable(argv[0], path: hostEnv["PATH"] ?? "/usr/bin:/bin") else {
                throw HostingError("cannot find \(argv[0]) to start the shell")
            }
            let pty = try PseudoTerminal(rows: options.rows, cols: options.cols)
            let master = try PipeStream(loop: loop, fd: pty.masterFD)
            if children == nil { children = try ChildWatcher(loop: loop) }
            let pid = try pty.spawn(executable: executable, arguments: argv, environment: hostEnv, directory: box.hostProcessDirectory)
            self.pty = pty
            self.master = master
            shellPID = pid
            boxShellPID = nil
            phase = .starting
            startCompletion = completion
            stripper = TerminalTextStripper()
            pendingLine = ""
            startOutput = []
            try master.startReading { [weak self] result in
                guard let self else { return }
                switch result {
                case .data(let bytes): self.received(bytes)
                case .eof, .error: self.master?.stopReading()
                }
            }
            children!.watch(pid) { [weak self] exit in self?.shellEnded(pid: pid, exit: exit) }
            // \124 is "T": the typed line never contains the printed prompt marker. The shell
            // reports its own pid (as the box sees it) for in-box probes and signals.
            let marker = "__SV_PROMP\\124_\(sessionNonce)__"
            let initLine = "stty -echo 2>/dev/null; set +H; unset PROMPT_COMMAND; printf '\\n__SV_PI%s_%s__\\n' D $$; PS0=''; PS2=''; PS1='\\n\(marker)\\n'\n"
            master.write(initLine)
            graceTimer.start(seconds: max(options.grace, 10)) { [weak self] in
                guard let self, self.phase == .starting else { return } // the shell never showed its prompt
                self.failStart(HostingError("the shell did not start (no prompt within 10s)"))
            }
        } catch {
            completion(error)
        }
    }

    private func failStart(_ error: Error) {
        let c = startCompletion
        startCompletion = nil
        terminate()
        c?(error)
    }

    // MARK: Running commands

    /// Runs `command` (any shell text, may be several lines) in the session. Starts the shell
    /// first if it is not running. One command at a time.
    public func run(_ command: String, completion: @escaping (ShellOutcome) -> Void) {
        run(command, hidden: false, completion: completion)
    }

    private func run(_ command: String, hidden: Bool, completion: @escaping (ShellOutcome) -> Void) {
        precondition(job == nil, "one command at a time")
        if phase == .stopped {
            start(directory: cwd) { [weak self] error in
                guard let self else { return }
                if let error {
                    completion(ShellOutcome(status: .shellExited("no new shell could be started: \(error)"), output: "", duration: 0, cwd: self.cwd))
                } else {
                    self.run(command, hidden: hidden, completion: completion)
                }
            }
            return
        }
        let job = Job(command: command, hidden: hidden, limit: options.outputLimit, completion: completion)
        self.job = job
        phase = .busy
        var lines = ShellSession.quotedAssignment(variable: "__sv_b", command)
        lines.append("printf '\\n__SV_BEGIN_%s__\\n' \(job.nonce); eval \"$__sv_b\"; printf '\\n__SV_END_%s_%s__ %s\\n' \(job.nonce) \"$?\" \"$PWD\"")
        job.linesSent = lines.count
        master?.write(lines.joined(separator: "\n") + "\n")
        timeoutTimer.start(seconds: options.commandTimeout) { [weak self] in self?.timedOut() }
    }

    /// `name=$'...'` lines (then `name+=$'...'`) that set a bash variable to exactly `text`, each
    /// line short enough for the terminal's line buffer and free of control characters.
    static func quotedAssignment(variable: String, _ text: String, chunkBytes: Int = 512) -> [String] {
        let bytes = Array(text.utf8)
        var lines: [String] = []
        var index = 0
        repeat {
            var end = min(index + chunkBytes, bytes.count)
            while end < bytes.count, end > index, bytes[end] & 0xC0 == 0x80 { end -= 1 } // keep characters whole
            var out: [UInt8] = []
            for b in bytes[index..<end] {
                switch b {
                case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
                case UInt8(ascii: "'"): out += Array("\\'".utf8)
                case 0..<0x20, 0x7F: out += Array(String(format: "\\x%02x", b).utf8)
                default: out.append(b)
                }
            }
            let quoted = String(decoding: out, as: UTF8.self)
            lines.append("\(variable)\(index == 0 ? "=" : "+=")$'\(quoted)'")
            index = end
        } while index < bytes.count
        return lines
    }

    private func timedOut() {
        // An interrupt under way (the command waited for input) goes on: no Ctrl-Z on top.
        guard let job, job.exitCode == nil, !job.stage.isInterrupting else { return }
        job.stage = .suspending(stoppedLine: nil)
        master?.write("\u{1A}") // Ctrl-Z: stop the foreground job so it can go on in the background
        graceTimer.start(seconds: options.grace) { [weak self] in
            guard let self, let job = self.job, !job.stage.isBackgrounding else { return }
            // Not suspended (it ignores SIGTSTP, or the shell itself is busy): interrupt it.
            self.interrupt(job, for: .stillRunning(seconds: EventLoop.monotonicSeconds() - job.started, job: nil, interrupted: true))
        }
    }

    private func interrupt(_ job: Job, for status: ShellStatus) {
        job.stage = .interrupting(status)
        quietTimer.stop()
        master?.write("\u{03}") // Ctrl-C
        graceTimer.start(seconds: options.grace) { [weak self] in
            guard let self, self.job === job else { return }
            // Still no prompt: kill the terminal's foreground process group (not the shell).
            self.killForegroundGroup()
            self.graceTimer.start(seconds: self.options.grace) { [weak self] in
                guard let self, self.job === job else { return }
                // The shell itself does not answer: end it; the next command gets a new one.
                self.finish(status: .shellExited("it stopped responding and was ended"))
                self.terminate()
            }
        }
    }

    /// Interrupts the running command (Ctrl-C; its foreground group is killed, then the shell
    /// ended, if it does not stop within the grace periods, as for a command that cannot be
    /// moved to the background); it reports `.interrupted(reason)`. False when no command runs
    /// or it is already being interrupted or moved to the background.
    @discardableResult
    public func interruptCommand(reason: String) -> Bool {
        guard let job, !job.stage.isInterrupting, !job.stage.isBackgrounding else { return false }
        timeoutTimer.stop()
        interrupt(job, for: .interrupted(reason))
        return true
    }

    /// Whether a command runs.
    public var isBusy: Bool { job != nil }

    private static func quietCheckApplies(_ job: Job) -> Bool {
        job.stage == .running && job.exitCode == nil
    }

    private func armQuietCheck() {
        guard let job, ShellSession.quietCheckApplies(job), !probing else { return }
        quietTimer.start(seconds: options.quietCheck) { [weak self] in
            guard let self, let job = self.job, ShellSession.quietCheckApplies(job), !self.probing else { return }
            self.probing = true
            let probe = self.inputProbe ?? { session, answer in session.probeForegroundReadsTerminal(answer) }
            probe(self) { [weak self] waiting in
                guard let self else { return }
                self.probing = false
                guard self.job === job, ShellSession.quietCheckApplies(job) else { return }
                if waiting {
                    self.interrupt(job, for: .waitingForInput)
                } else {
                    self.armQuietCheck() // still busy: look again after another quiet period
                }
            }
        }
    }

    // MARK: Output

    private func received(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: stripper.feed(bytes), as: UTF8.self)
        guard !text.isEmpty else { return }
        pendingLine += text
        var display = ""
        while let nl = pendingLine.firstIndex(of: "\n") {
            let line = String(pendingLine[..<nl])
            pendingLine.removeSubrange(...nl)
            if handleMarker(line) { continue }
            handleLine(line)
            display += line + "\n"
        }
        // A partial line (a prompt like "Password: ") is shown as it comes only when it cannot
        // be the start of a marker.
        if !pendingLine.isEmpty && !pendingLine.hasPrefix("_") && !"__SV_".hasPrefix(pendingLine) {
            // shown when complete; partial output stays in pendingLine for the capture
        }
        if !display.isEmpty && phase != .starting { onDisplay?(display) }
        if job?.stage == .running { armQuietCheck() }
    }

    /// Handles a sentinel or prompt line; false for ordinary output.
    private func handleMarker(_ line: String) -> Bool {
        guard line.hasPrefix("__SV_") else { return false }
        if line == promptMarker { prompt(); return true }
        if phase == .starting, line.hasPrefix("__SV_PID_"), line.hasSuffix("__") {
            boxShellPID = Int(line.dropFirst("__SV_PID_".count).dropLast(2))
            return true
        }
        guard let job else { return false }
        if line == "__SV_BEGIN_\(job.nonce)__" {
            if job.stage.isSent { job.stage = .running }
            armQuietCheck()
            return true
        }
        let endPrefix = "__SV_END_\(job.nonce)_"
        if line.hasPrefix(endPrefix) {
            let rest = line.dropFirst(endPrefix.count)
            if let close = rest.range(of: "__") {
                job.exitCode = Int(rest[..<close.lowerBound])
                let pwd = rest[close.upperBound...].dropFirst()
                if !pwd.isEmpty { job.cwd = String(pwd) }
            }
            quietTimer.stop()
            return true
        }
        return false
    }

    private func handleLine(_ line: String) {
        if let job, !job.stage.isSent {
            if job.stage.takeJobControlLine(line) { return }
            job.buffer.append(line)
        } else if phase == .starting {
            // Not the echo of the line that sets the shell up.
            if startOutput.count < 20, !line.contains("stty -echo"), !line.trimmingCharacters(in: .whitespaces).isEmpty {
                startOutput.append(line)
            }
        } else if phase == .idle || phase == .busy {
            guard idleOutputChars < options.outputLimit else { return }
            idleOutput.append(line)
            idleOutputChars += line.utf8.count + 1
        }
    }

    private func prompt() {
        switch phase {
        case .starting:
            phase = .idle
            graceTimer.stop()
            let c = startCompletion
            startCompletion = nil
            idleOutput = []
            idleOutputChars = 0
            c?(nil)
        case .busy:
            guard let job else { return }
            switch job.stage.prompt(linesSent: job.linesSent, exitCode: job.exitCode, elapsed: EventLoop.monotonicSeconds() - job.started) {
            case .wait: break
            case .sendBackground:
                // Suspended: let it go on in the background; its prompt ends the command.
                graceTimer.stop()
                master?.write("bg\n")
            case .finish(let status): finish(status: status)
            }
        case .idle, .stopped:
            break
        }
    }

    private func finish(status: ShellStatus) {
        guard let job else { return }
        self.job = nil
        phase = master == nil ? .stopped : .idle
        quietTimer.stop()
        timeoutTimer.stop()
        graceTimer.stop()
        if let c = job.cwd { cwd = c }
        var output = job.buffer.text
        if !pendingLine.isEmpty && !pendingLine.hasPrefix("__SV_") {
            output += (output.isEmpty ? "" : "\n") + pendingLine // a prompt without a line end ("Password: ")
            pendingLine = ""
        }
        if !idleOutput.isEmpty && !job.hidden {
            let before = OutputCleaner.cleanStripped(idleOutput.joined(separator: "\n"))
            if !before.isEmpty { output = "[output from background jobs since the previous command:]\n" + before + "\n[output of this command:]\n" + output }
        }
        if !job.hidden { idleOutput = []; idleOutputChars = 0 }
        job.completion(ShellOutcome(status: status, output: OutputCleaner.cleanStripped(output),
                                    duration: EventLoop.monotonicSeconds() - job.started, cwd: job.cwd ?? cwd))
    }

    private func shellEnded(pid: pid_t, exit: ProcessExit) {
        guard pid == shellPID else { return }
        // What the shell wrote before it ended may still be in the terminal (why it ended at
        // start, say): read it before closing, or the reason is lost to a race.
        if let fd = pty?.masterFD, master != nil { Posix.drain(fd) { received($0) } }
        master?.close()
        master = nil
        pty = nil
        shellPID = 0
        if phase == .starting {
            phase = .stopped
            let c = startCompletion
            startCompletion = nil
            graceTimer.stop()
            var said = startOutput
            if !pendingLine.isEmpty && !pendingLine.hasPrefix("__SV_") && !pendingLine.contains("stty -echo") { said.append(pendingLine) }
            let cleaned = OutputCleaner.cleanStripped(said.joined(separator: "\n"))
            // The docker CLI could not reach the engine: say which engine, not only its words.
            let text = box.unreachable(cleaned) ?? cleaned.split(separator: "\n").suffix(5).joined(separator: "; ")
            c?(HostingError("the shell ended at start (\(exit))" + (text.isEmpty ? "" : ": " + String(text.prefix(500)))))
            return
        }
        endedSession = (pid, boxShellPID)
        let wasIdle = phase == .idle
        phase = .stopped
        if job != nil { finish(status: .shellExited("\(exit)")) } else if wasIdle { onEnded?("\(exit)") }
    }

    /// Kills what is left of the session of a shell that ended by itself (its background jobs
    /// have their own process groups but stay in its session, and a killed shell does not hang
    /// them up), on this host or inside the box, as `close()` does. For a new shell that starts
    /// clean, and so that nothing outlives a shell the agent gave up on.
    public func endLeftovers() {
        guard let ended = endedSession else { return }
        endedSession = nil
        if usesInBoxProcesses, let boxPID = ended.boxPID { runInBox(ShellSession.inBoxKillSessionScript(shellPID: boxPID)) }
        for member in ShellSession.processes(inSession: ended.pid) { kill(member, SIGKILL) }
    }

    // MARK: Foreground inspection

    /// Answers whether the foreground process group reads the terminal: from this host's /proc
    /// for a local box, else with a probe run inside the box.
    public func probeForegroundReadsTerminal(_ answer: @escaping (Bool) -> Void) {
        guard usesInBoxProcesses else { answer(foregroundReadsTerminal()); return }
        guard let pid = boxShellPID else { answer(false); return }
        BoxCommand(loop: loop, box: box, shellCommand: ShellSession.inBoxProbeScript(shellPID: pid), timeout: options.probeTimeout,
                   outputLimit: 64_000) { result in
            answer(result.exit == .exited(0) && ShellSession.probeSaysReading(result.output))
        }
    }

    /// Whether a process of the terminal's foreground process group is blocked reading the
    /// terminal (`/proc/<pid>/syscall` shows read on a descriptor that is this terminal, or
    /// `/proc/<pid>/wchan` is `n_tty_read`/`wait_woken` with the terminal on stdin). Local: the
    /// pty's foreground group on this host.
    public func foregroundReadsTerminal() -> Bool {
        guard let pty else { return false }
        let group = tcgetpgrp(pty.masterFD)
        guard group > 0 else { return false }
        for pid in ShellSession.processes(inGroup: group) where ShellSession.readsTerminal(pid: pid, terminal: pty.slavePath) {
            return true
        }
        return false
    }

    /// The probe run inside the box (bash; reads only the box's /proc): the shell's terminal
    /// and foreground group (`T<tab>tpgid<tab>terminal`), then one line per member of that group
    /// (`P<tab>pid<tab>syscall<tab>wchan<tab>fd 0 target<tab>target of the syscall's fd`).
    static func inBoxProbeScript(shellPID: Int) -> String {
        """
        s=\(shellPID)
        read -r st < /proc/$s/stat || exit 3
        set -- ${st##*) }
        tp=$6
        printf 'T\\t%s\\t%s\\n' "$tp" "$(readlink /proc/$s/fd/0 2>/dev/null)"
        [ "$tp" -gt 0 ] 2>/dev/null || exit 0
        for d in /proc/[0-9]*; do
          st=; read -r st 2>/dev/null < $d/stat
          [ -n "$st" ] || continue
          set -- ${st##*) }
          [ "$3" = "$tp" ] || continue
          sc=; read -r sc 2>/dev/null < $d/syscall
          w=; read -r w 2>/dev/null < $d/wchan
          set -- $sc
          a=
          case "$2" in 0x*) a=$(readlink $d/fd/$(($2)) 2>/dev/null);; esac
          printf 'P\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "${d#/proc/}" "$sc" "$w" "$(readlink $d/fd/0 2>/dev/null)" "$a"
        done
        """
    }

    /// Reads the in-box probe's output with the same rules as the local check.
    static func probeSaysReading(_ output: String) -> Bool {
        var terminal: String?
        for line in output.split(separator: "\n", omittingEmptySubsequences: true) {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if f.first == "T" {
                guard f.count >= 3, !f[2].isEmpty else { return false }
                terminal = f[2]
            } else if f.first == "P", f.count >= 6, let terminal {
                let syscall = f[2], fd0 = f[4], argTarget = f[5]
                let argFD = syscall.split(separator: " ").dropFirst().first.flatMap { Int($0.dropFirst(2), radix: 16) }
                if readsTerminal(syscall: syscall.isEmpty ? nil : syscall, wchan: f[3], terminal: terminal, fdTarget: { fd in
                    if fd == argFD && !argTarget.isEmpty { return argTarget }
                    if fd == 0 && !fd0.isEmpty { return fd0 }
                    return nil
                }) { return true }
            }
        }
        return false
    }

    static func processes(inGroup group: pid_t) -> [pid_t] { ProcFS.processes().filter { ProcFS.stat($0)?.processGroup == group } }
    static func processes(inSession session: pid_t) -> [pid_t] { ProcFS.processes().filter { ProcFS.stat($0)?.session == session } }

    static func readsTerminal(pid: pid_t, terminal: String) -> Bool {
        readsTerminal(syscall: ProcFS.text(pid, "syscall"), wchan: ProcFS.text(pid, "wchan") ?? "", terminal: terminal) { fd in
            ProcFS.descriptorTarget(pid, fd: fd)
        }
    }

    /// The decision, from what /proc says of one process: `syscall` is /proc/<pid>/syscall (nil
    /// when unreadable), `fdTarget` reads /proc/<pid>/fd/<n>.
    static func readsTerminal(syscall: String?, wchan: String, terminal: String, fdTarget: (Int) -> String?) -> Bool {
        func isTerminal(fd: Int) -> Bool {
            guard let target = fdTarget(fd) else { return false }
            return target == terminal || target == "/dev/tty"
        }
        // The one reading of /proc's syscall and wchan (`TerminalWait`), also for what the
        // in-box script printed; only "which terminal" is this session's own question.
        if let call = syscall.flatMap({ TerminalWait.parseSyscall($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
            return TerminalWait.readSyscalls.contains(call.number) && isTerminal(fd: call.firstArgument)
        }
        return TerminalWait.ttyReadWaits.contains(wchan.trimmingCharacters(in: .whitespacesAndNewlines)) && isTerminal(fd: 0)
    }

    // MARK: Signals inside the box

    /// Bash that kills the shell's terminal foreground process group (when it is not the
    /// shell's own) inside the box.
    static func inBoxKillForegroundScript(shellPID: Int) -> String {
        """
        s=\(shellPID)
        read -r st < /proc/$s/stat || exit 0
        set -- ${st##*) }
        tp=$6
        if [ "$tp" -gt 1 ] 2>/dev/null && [ "$tp" != "$s" ]; then kill -KILL -- -$tp; fi
        exit 0
        """
    }

    /// Bash that kills, inside the box, every process of the shell's session (the shell, its
    /// foreground command and its background jobs, which have their own process groups but stay
    /// in the session), with their process groups; twice, for children forked meanwhile.
    static func inBoxKillSessionScript(shellPID: Int) -> String {
        """
        s=\(shellPID)
        [ "$s" -gt 1 ] 2>/dev/null || exit 0
        for pass in 1 2; do
          for d in /proc/[0-9]*; do
            st=; read -r st 2>/dev/null < $d/stat
            [ -n "$st" ] || continue
            set -- ${st##*) }
            [ "$4" = "$s" ] || continue
            kill -STOP -- -$3 2>/dev/null; kill -KILL -- -$3 2>/dev/null; kill -KILL ${d#/proc/} 2>/dev/null
          done
        done
        exit 0
        """
    }

    /// Set in every session shell's environment: how `inBoxReapScript` finds shells that an
    /// agent killed with SIGKILL left behind in its container.
    public static let sessionMarkerVariable = "SUPERVISOR_SHELL_SESSION"

    /// Bash that kills, inside the box, every session whose leader is a session shell (has
    /// `sessionMarkerVariable` in its environment), with all its processes. For the start of an
    /// agent that owns its box: a container's shell does not end with the `docker exec` client
    /// (the engine keeps its terminal open), so after a SIGKILL of the agent its shell and jobs
    /// would otherwise live on.
    public static var inBoxReapScript: String { inBoxReapScript(variable: sessionMarkerVariable, value: "1") }

    /// Bash that kills, inside the box, every session whose leader has `variable=value` in its
    /// environment (any value when `value` is nil), with all its processes (their process groups
    /// too, twice, for children forked meanwhile). `variable` and `value` are `[A-Za-z0-9_]`.
    static func inBoxReapScript(variable: String, value: String?) -> String {
        let pattern = "\(variable)=" + (value ?? "*")
        return """
        for d in /proc/[0-9]*; do
          st=; read -r st 2>/dev/null < $d/stat
          [ -n "$st" ] || continue
          set -- ${st##*) }
          [ "$4" = "${d#/proc/}" ] || continue
          found=
          while IFS= read -r -d '' v; do case "$v" in \(pattern)) found=1;; esac; done 2>/dev/null < $d/environ
          [ -n "$found" ] || continue
          s=${d#/proc/}
          for pass in 1 2; do
            for e in /proc/[0-9]*; do
              st=; read -r st 2>/dev/null < $e/stat
              [ -n "$st" ] || continue
              set -- ${st##*) }
              [ "$4" = "$s" ] || continue
              kill -STOP -- -$3 2>/dev/null; kill -KILL -- -$3 2>/dev/null; kill -KILL ${e#/proc/} 2>/dev/null
            done
          done
        done
        """
    }

    /// Bash that hangs up the shell inside the box (bash passes SIGHUP on to its jobs).
    static func inBoxHangUpScript(shellPID: Int) -> String {
        "s=\(shellPID); [ \"$s\" -gt 1 ] 2>/dev/null || exit 0; kill -HUP $s 2>/dev/null; kill -CONT $s 2>/dev/null; exit 0"
    }

    private func killForegroundGroup() {
        if usesInBoxProcesses {
            guard let pid = boxShellPID else { return }
            BoxCommand(loop: loop, box: box, shellCommand: ShellSession.inBoxKillForegroundScript(shellPID: pid),
                       timeout: options.probeTimeout) { _ in }
            return
        }
        if let fd = pty?.masterFD {
            let group = tcgetpgrp(fd)
            if group > 0 && group != shellPID { kill(-group, SIGKILL) }
        }
    }

    /// The in-box clean-up of the last `close()` or `terminate()` (nil when none ran or it
    /// finished); `onCleanedUp` runs once it finished.
    private var cleanup: BoxCommand?
    public private(set) var cleanupPending = false
    public var onCleanedUp: (() -> Void)?

    private func runInBox(_ script: String) {
        cleanupPending = true
        cleanup = BoxCommand(loop: loop, box: box, shellCommand: script, timeout: options.probeTimeout) { [weak self] _ in
            guard let self else { return }
            self.cleanup = nil
            self.cleanupPending = false
            self.onCleanedUp?()
        }
    }

    // MARK: Ending

    /// Ends the shell: SIGHUP (bash passes it on to its jobs), the terminal closed. Inside a
    /// box the hang-up goes to the box's shell (the host-side process is only the client).
    public func terminate() {
        quietTimer.stop(); timeoutTimer.stop(); graceTimer.stop()
        if usesInBoxProcesses, let pid = boxShellPID { runInBox(ShellSession.inBoxHangUpScript(shellPID: pid)) }
        if shellPID > 0 {
            kill(shellPID, SIGHUP)
            kill(shellPID, SIGCONT)
        }
        master?.close()
        master = nil
        pty = nil
        boxShellPID = nil
        if phase != .busy { phase = .stopped }
    }

    /// Ends the shell and frees every handle. Nothing of the session outlives the agent: every
    /// process of the shell's session is killed, inside the box when the box has its own
    /// processes (that clean-up finishes on the loop; see `cleanupPending`/`onCleanedUp`).
    public func close() {
        let pid = shellPID
        let boxPID = boxShellPID
        if usesInBoxProcesses, let boxPID { runInBox(ShellSession.inBoxKillSessionScript(shellPID: boxPID)) }
        boxShellPID = nil
        terminate()
        if job != nil { finish(status: .shellExited("the agent stopped")) }
        shellPID = 0
        if pid > 0 {
            // Background jobs have their own process groups but stay in the shell's session.
            for member in ShellSession.processes(inSession: pid) { kill(member, SIGKILL) }
            kill(-pid, SIGKILL)
        }
        children?.close()
        children = nil
        quietTimer.close(); timeoutTimer.close(); graceTimer.close()
    }
}

/// Keeps the first and last lines of a long output (count-limited by bytes).
struct HeadTailLines {
    let limit: Int
    private var head: [String] = []
    private var headBytes = 0
    private var tail: [String] = []
    private var tailBytes = 0
    private var dropped = 0

    init(limit: Int) { self.limit = limit }

    mutating func append(_ line: String) {
        let n = line.utf8.count + 1
        if headBytes + n <= limit / 2 { head.append(line); headBytes += n; return }
        tail.append(line); tailBytes += n
        while tailBytes > limit / 2, tail.count > 1 {
            tailBytes -= tail[0].utf8.count + 1
            tail.removeFirst()
            dropped += 1
        }
    }

    var text: String {
        var lines = head
        if dropped > 0 { lines.append("[... \(dropped) lines left out ...]") }
        return (lines + tail).joined(separator: "\n")
    }
}
