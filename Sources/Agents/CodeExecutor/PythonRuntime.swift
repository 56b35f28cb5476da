import Foundation
import Glibc
import LLM
import Loop

/// One persistent `python3` per conversation, started in the agent's box (`box.argv`), driven
/// over `RuntimeFrame`s on its stdin/stdout. Blocks run one at a time; variables and imports
/// survive between them. A block that outlives its timeout gets an `interrupt` frame (the
/// runtime's reader thread sends SIGINT to its own main thread) and, locally, SIGINT too, and
/// reports KeyboardInterrupt; if the runtime does not answer within `grace` seconds it is killed
/// with its bash() children and the next block starts a fresh one. A runtime that dies is
/// likewise replaced at the next block.
///
/// In a container (`usesInBoxProcesses`) the host-side process is only the `docker exec` client,
/// which passes no signal on (a SIGINT ends the client and leaves python running): the runtime
/// is interrupted only through its frame, and killed inside the box: the runtime is a session
/// leader there and bash() commands stay in its session (in their own process groups), so
/// ShellSession's in-box session kill ends all of it. A runtime's session is also killed in the
/// box when the runtime dies by itself (its bash() children would outlive it), and the first
/// start in a container first kills runtimes an earlier, SIGKILLed agent left there (found by
/// `markerVariable` in their environment).
public final class PythonRuntime {
    public struct Options {
        public var python = "python3"
        /// RLIMIT_AS for the runtime (and what it starts), bytes; nil: no limit.
        public var memoryLimit: Int?
        /// Characters of stdout/stderr kept per block (head and tail).
        public var outputLimit = 20_000
        /// Characters streamed live per block and stream.
        public var liveLimit = 65_536
        /// Seconds to wait for the result after an interrupt before killing the runtime.
        public var grace = 3.0
        /// Seconds to wait for the `ready` frame.
        public var startTimeout = 30.0
        /// Kill and inspect the runtime's processes inside the box (through `box.argv`) instead
        /// of through this host's pids. nil: inside the box for every box but `LocalBox`.
        public var inBoxProcesses: Bool?
        /// Before the first start, kill every runtime left in the box (a session leader with
        /// `markerVariable` set). nil: only for a `DockerBox` (the agent owns its container;
        /// locally other agents' runtimes share the machine).
        public var reapLeftovers: Bool?
        /// Seconds an in-box kill may take.
        public var boxCommandTimeout = 10.0
        public init() {}
    }

    public let loop: EventLoop
    public let box: Box
    public var options: Options
    /// Live output of the running block: ("stdout" | "stderr" | "stray", text).
    public var onOutput: ((String, String) -> Void)?
    /// Python version of the running runtime.
    public private(set) var pythonVersion: String?
    public private(set) var pid: Int32?
    /// The runtime's pid as the box sees it (from its `ready` frame).
    public private(set) var boxPID: Int?
    /// Runtimes started so far (a new one after each crash or kill).
    public private(set) var generation = 0

    private var process: ChildProcess?
    private var input: PipeStream?
    private var output: PipeStream?
    private var errors: PipeStream?
    private var decoder = RuntimeFrameDecoder()
    private var ready = false
    private var startWaiters: [(String?) -> Void] = []
    private var startTimer: LoopTimer?
    private var nextID = 0
    private var current: Running?
    private var stray = HeadTailBuffer(limit: 8_000)
    /// Process groups of bash() commands in flight (they run in their own sessions).
    private var children: Set<Int32> = []
    private var killing = false
    private var wasKilling = false
    private var exitStatus: ProcessExit?
    private var drainTimer: LoopTimer?
    private var restartAfterExit = false
    /// Set in the runtime's environment (value: a nonce per start), so runtimes can be found in
    /// the box even when their pid is unknown.
    public static let markerVariable = "SUPERVISOR_EXEC_RUNTIME"
    private var marker = ""
    private var reaped = false
    private var reaping = false
    /// In-box kills under way; the agent waits for them before it exits (`cleanupPending`).
    private var boxCommandsPending = 0
    public var cleanupPending: Bool { boxCommandsPending > 0 }
    /// Runs each time the in-box kills under way have all finished.
    public var onCleanedUp: (() -> Void)?

    private final class Running {
        let id: Int
        let completion: (BlockResult) -> Void
        let timer: LoopTimer
        var interrupted = false
        var killedAfterInterrupt = false
        /// The exec request went to the runtime (before that it waits for a runtime to start).
        var sent = false
        let started = EventLoop.monotonicSeconds()
        init(id: Int, timer: LoopTimer, completion: @escaping (BlockResult) -> Void) {
            self.id = id; self.timer = timer; self.completion = completion
        }
    }

    public init(loop: EventLoop, box: Box, options: Options = Options()) {
        self.loop = loop
        self.box = box
        self.options = options
    }

    public var isStarted: Bool { process != nil }
    /// Whether the runtime's processes are killed inside the box (see `Options.inBoxProcesses`).
    public var usesInBoxProcesses: Bool { options.inBoxProcesses ?? !(box is LocalBox) }
    public var isBusy: Bool { current != nil }

    /// Starts the runtime if it is not running; `completion(nil)` once it is ready, or an error.
    public func start(_ completion: @escaping (String?) -> Void) {
        if ready && !killing { completion(nil); return }
        startWaiters.append(completion)
        // A runtime being killed (/restart, a kill after a timeout) is replaced once it is gone.
        if killing { restartAfterExit = true; return }
        guard process == nil, !reaping else { return }
        completeExit()
        if !reaped {
            reaped = true
            if usesInBoxProcesses && (options.reapLeftovers ?? (box is DockerBox)) {
                reaping = true
                runInBox(ShellSession.inBoxReapScript(variable: Self.markerVariable, value: nil)) { [weak self] in
                    guard let self else { return }
                    self.reaping = false
                    if !self.startWaiters.isEmpty { self.spawn() }
                }
                return
            }
        }
        spawn()
    }

    private func spawn() {
        guard process == nil else { return }
        var config: [String: JSONValue] = [
            "output_limit": .number(Double(options.outputLimit)),
            "live_limit": .number(Double(options.liveLimit)),
        ]
        if let limit = options.memoryLimit { config["memory_limit"] = .number(Double(limit)) }
        marker = ShellSession.nonce()
        let extra = ["PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
                     Self.markerVariable: marker]
        let argv = box.argv([options.python, "-u", "-c", PythonRuntimeScript.source, JSONValue.object(config).serialized()],
                            directory: nil, environment: extra, interactive: true, tty: false)
        let stdin = PipeStream(loop: loop), stdout = PipeStream(loop: loop), stderr = PipeStream(loop: loop)
        decoder = RuntimeFrameDecoder()
        do {
            // Own session: the pane's Ctrl-C reaches the agent, which decides what to interrupt.
            process = try ChildProcess(loop: loop, arguments: argv, environment: box.hostProcessEnvironment(extra),
                                       directory: box.hostProcessDirectory,
                                       stdio: [.pipe(stdin, childReads: true), .pipe(stdout, childReads: false),
                                               .pipe(stderr, childReads: false)],
                                       newSession: true) { [weak self] exit in self?.exited(exit) }
        } catch {
            stdin.close(); stdout.close(); stderr.close()
            failStart("cannot start \(options.python): \(error)")
            return
        }
        generation += 1
        pid = process?.pid
        boxPID = nil
        input = stdin; output = stdout; errors = stderr
        let gen = generation
        try? stdout.startReading { [weak self] r in
            guard let self, gen == self.generation else { return }
            switch r {
            case .data(let bytes):
                do {
                    for frame in try self.decoder.feed(bytes) { self.handle(frame) }
                } catch {
                    self.stray.appendText("\n[\(error)]\n")
                    self.hardKill()
                }
            case .eof, .error:
                stdout.close()
            }
        }
        try? stderr.startReading { [weak self] r in
            guard let self, gen == self.generation else { return }
            switch r {
            case .data(let bytes):
                self.stray.append(bytes)
                self.onOutput?("stray", String(decoding: bytes, as: UTF8.self))
            case .eof, .error:
                stderr.close()
                if self.errors === stderr { self.errors = nil }
                if self.exitStatus != nil { self.completeExit() }
            }
        }
        let timer = LoopTimer(loop: loop)
        startTimer = timer
        // Reason: a runtime that never says ready (python missing in the box, hung import).
        timer.start(seconds: options.startTimeout) { [weak self] in
            guard let self, !self.ready else { return }
            self.stray.appendText("\n[the runtime did not start within \(Int(self.options.startTimeout))s]\n")
            self.hardKill()
        }
    }

    /// Runs `code` (starting the runtime first when needed). `completion` runs exactly once, on
    /// the loop.
    public func execute(code: String, name: String, timeout: Double, completion: @escaping (BlockResult) -> Void) {
        precondition(current == nil, "one block at a time")
        nextID += 1
        let id = nextID
        let timer = LoopTimer(loop: loop)
        let running = Running(id: id, timer: timer, completion: completion)
        current = running
        stray = HeadTailBuffer(limit: 8_000)
        start { [weak self] error in
            guard let self, self.current === running else { return }
            if let error {
                var r = BlockResult(status: .crashed)
                r.error = error
                self.finish(r)
                return
            }
            running.sent = true
            self.send(["op": "exec", "id": .number(Double(id)), "code": .string(code), "name": .string(name)])
            // Reason: the block's time limit (block_timeout).
            timer.start(seconds: max(timeout, 0.001)) { [weak self] in self?.interrupt(reason: .timeout) }
        }
    }

    public enum InterruptReason { case timeout, person }

    /// Interrupts the running block (KeyboardInterrupt); kills the runtime if it does not answer
    /// within `grace` seconds.
    public func interrupt(reason: InterruptReason = .person) {
        guard let running = current, ready, !running.interrupted else { return }
        running.interrupted = true
        // In a container SIGINT would only end the docker exec client: there the frame alone
        // interrupts (the runtime signals itself).
        if !usesInBoxProcesses { process?.kill(SIGINT) }
        send(["op": "interrupt", "id": .number(Double(running.id))])
        // Reason: grace period for the runtime to report the interrupted block.
        running.timer.start(seconds: options.grace) { [weak self] in
            guard let self, self.current === running else { return }
            running.killedAfterInterrupt = true
            self.hardKill()
        }
    }

    /// Stops the runtime (and its bash() children) now; a running block completes as killed.
    public func close() {
        // Still clearing leftovers before the first start: no runtime is started afterwards
        // for a block that waits (the agent is stopping); one sent later starts it.
        if process == nil && reaping { failStart("the runtime was stopped") }
        hardKill()
    }

    // MARK: Internals

    private func send(_ value: JSONValue) {
        input?.write(RuntimeFrame.encode(value))
    }

    private func handle(_ frame: JSONValue) {
        switch frame["type"]?.stringValue {
        case "ready":
            ready = true
            boxPID = frame["pid"]?.intValue
            pythonVersion = frame["python"]?.stringValue
            startTimer?.close()
            startTimer = nil
            let waiters = startWaiters
            startWaiters = []
            waiters.forEach { $0(nil) }
        case "output":
            guard let running = current, frame["id"]?.intValue == running.id else { return }
            onOutput?(frame["stream"]?.stringValue ?? "stdout", frame["text"]?.stringValue ?? "")
        case "child":
            guard let pid = frame["pid"]?.intValue.map(Int32.init) else { return }
            if frame["running"]?.boolValue == true { children.insert(pid) } else { children.remove(pid) }
        case "result":
            guard let running = current, frame["id"]?.intValue == running.id else { return }
            let result = BlockResult(frame: frame)
            // Output the block wrote straight to its descriptors went into the stderr pipe before
            // this frame was sent; the poll that saw this frame saw those bytes too. Finish on the
            // next loop turn so they are read first.
            running.timer.start(milliseconds: 0) { [weak self] in
                guard let self, self.current === running else { return }
                var r = result
                r.strayOutput = self.stray.text
                self.finish(r)
            }
        default:
            break
        }
    }

    private func finish(_ result: BlockResult) {
        guard let running = current else { return }
        current = nil
        running.timer.close()
        var r = result
        if r.duration == 0 { r.duration = EventLoop.monotonicSeconds() - running.started }
        running.completion(r)
    }

    private func hardKill() {
        guard let process, !killing else { return }
        killing = true
        killRuntimeProcesses()
        kill(-process.pid, SIGKILL)
        input?.close()
    }

    /// Kills what the runtime started (and the runtime itself): its session and its bash()
    /// process groups, inside the box or on this host. The host-side process is not touched.
    private func killRuntimeProcesses() {
        if usesInBoxProcesses {
            // Pids in `children` are the box's: never signalled from this host.
            children = []
            if let boxPID, boxPID > 1 {
                runInBox(ShellSession.inBoxKillSessionScript(shellPID: boxPID))
            } else if !marker.isEmpty {
                // Not ready yet (pid unknown): find it by this start's marker.
                runInBox(ShellSession.inBoxReapScript(variable: Self.markerVariable, value: marker))
            }
            return
        }
        guard let pid else { return }
        for group in children { kill(-group, SIGKILL) }
        children = []
        // bash() commands have their own process groups in the runtime's session.
        for member in ShellSession.processes(inSession: pid) { kill(member, SIGKILL) }
    }

    /// Runs `script` in the box (an in-box kill), counted by `cleanupPending`. (A BoxCommand
    /// keeps itself alive until its completion has run.)
    private func runInBox(_ script: String, then: (() -> Void)? = nil) {
        boxCommandsPending += 1
        BoxCommand(loop: loop, box: box, shellCommand: script, timeout: options.boxCommandTimeout) { [weak self] _ in
            guard let self else { return }
            self.boxCommandsPending -= 1
            then?()
            if self.boxCommandsPending == 0 { self.onCleanedUp?() }
        }
    }

    private func exited(_ exit: ProcessExit) {
        wasKilling = killing
        exitStatus = exit
        process?.close()
        process = nil
        input?.close(); input = nil
        output?.close(); output = nil
        ready = false
        startTimer?.close()
        startTimer = nil
        // A runtime that died by itself leaves its bash() commands running: end them (a kill
        // under way already covers them).
        if !killing { killRuntimeProcesses() }
        killing = false
        children = []
        pid = nil
        boxPID = nil
        guard errors != nil else { completeExit(); return }
        // stderr may still hold the runtime's last words (a fatal error, a C library's message):
        // wait for its end, at most a second (a leftover grandchild may hold it open).
        let timer = LoopTimer(loop: loop)
        drainTimer = timer
        // Reason: bound the wait for the dead runtime's stderr to close.
        timer.start(seconds: 1) { [weak self] in self?.completeExit() }
    }

    private func completeExit() {
        guard let exit = exitStatus else { return }
        exitStatus = nil
        drainTimer?.close(); drainTimer = nil
        errors?.close(); errors = nil
        // The docker CLI's words when it could not reach the engine: said with the engine's name.
        let lastWords = box.unreachable(stray.text) ?? stray.text
        if restartAfterExit {
            restartAfterExit = false
            let waiters = startWaiters
            startWaiters = []
            for w in waiters { start(w) }
        } else if !startWaiters.isEmpty {
            failStart("the python runtime exited before it was ready (\(exit))" + (lastWords.isEmpty ? "" : ":\n" + lastWords))
        }
        guard let running = current, running.sent else { return }
        var result = BlockResult(status: running.killedAfterInterrupt ? .killed : .crashed)
        result.strayOutput = lastWords
        if running.killedAfterInterrupt {
            result.errorType = "KeyboardInterrupt"
            result.error = "the block did not stop within \(formatSeconds(options.grace)) after the interrupt; the runtime was killed"
        } else {
            result.error = wasKilling ? "the runtime was stopped" : "the python runtime died (\(exit))"
        }
        finish(result)
    }

    private func failStart(_ message: String) {
        let waiters = startWaiters
        startWaiters = []
        waiters.forEach { $0(message) }
    }
}

extension HeadTailBuffer {
    mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }
    mutating func appendText(_ text: String) { append(Array(text.utf8)) }
}

func formatSeconds(_ s: Double) -> String {
    if s == s.rounded() && s < 1e9 { return "\(Int(s))s" }
    return String(format: "%.2fs", s)
}

