import Glibc
import Loop
import enum AgentHost.Secrets

/// Where an agent's actions happen: the local machine (a working directory) or, with the Docker
/// backend, the agent's own container. Every tool reaches the box only through `argv(...)`, so
/// the Docker backend plugs in by wrapping argv in `docker exec`. The agent process itself (and
/// its API key) always stays on the host.
public protocol Box: AnyObject {
    /// For messages and the system prompt ("local directory /x", "container sv-p-a").
    var description: String { get }
    /// The workspace as the agent process on the host sees it (file tools use this path).
    var hostWorkspace: String { get }
    /// The same directory as commands inside the box see it.
    var boxWorkspace: String { get }
    /// The argv that runs `arguments` inside the box in `directory` (a box path; nil = the
    /// workspace) with extra environment. `interactive` keeps stdin open; `tty` allocates a
    /// terminal inside the box (docker exec -t); locally the caller supplies the terminal.
    func argv(_ arguments: [String], directory: String?, environment: [String: String], interactive: Bool, tty: Bool) -> [String]
    /// Environment and directory for the host-side process that runs `argv(...)`.
    func hostProcessEnvironment(_ extra: [String: String]) -> [String: String]
    var hostProcessDirectory: String { get }
    /// What the host-side program's own message (the docker CLI's) means for the agent when it
    /// could not reach the box at all ("engine 'b' (tcp://...) does not answer: ..."); nil when
    /// it says something else.
    func unreachable(_ message: String) -> String?
}

extension Box {
    public func unreachable(_ message: String) -> String? { nil }
}

/// The local backend: commands run on this machine, in the agent's working directory.
public final class LocalBox: Box {
    public let hostWorkspace: String
    public var boxWorkspace: String { hostWorkspace }
    public var description: String { "local directory \(hostWorkspace)" }
    public var hostProcessDirectory: String { hostWorkspace }
    private let baseEnvironment: [String: String]
    /// Variables the agent process has but commands must not see (API keys, our own plumbing).
    private let withheld: Set<String>

    public init(workspace: String, environment: [String: String], withheld: Set<String>) {
        hostWorkspace = workspace
        baseEnvironment = environment
        self.withheld = withheld.union(["SUPERVISOR_EVENTS_FD"])
    }

    public func argv(_ arguments: [String], directory: String?, environment: [String: String], interactive: Bool, tty: Bool) -> [String] {
        guard let directory, directory != hostWorkspace else { return arguments }
        // Locally the directory is applied by the spawner; keep argv as is and let
        // hostProcessDirectory be overridden by the caller when it differs.
        return ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory] + arguments
    }

    public func hostProcessEnvironment(_ extra: [String: String]) -> [String: String] {
        // No credential of the agent's reaches the commands it runs (the goal's and the coder's
        // shells): its key and every variable named like a secret.
        var environment = baseEnvironment.filter { !withheld.contains($0.key) && !Secrets.isSecretName($0.key) }
        for (key, value) in extra { environment[key] = value }
        return environment
    }
}

/// What a one-shot command in a box did.
public struct CommandResult: Equatable {
    public var exit: ProcessExit?
    /// Output (stdout and stderr interleaved as they came), capped: head and tail kept.
    public var output: String
    public var truncatedBytes: Int
    public var timedOut: Bool
    public var duration: Double

    /// "exit 0", "exit 2", "killed after 30s timeout", "signal 9 (Killed)".
    public var statusText: String {
        if timedOut { return "killed after timeout" }
        return exit.map { "\($0)" } ?? "unknown"
    }
}

/// Keeps the first and last `limit / 2` bytes of a stream, counting what it left out.
public struct HeadTailBuffer {
    public let limit: Int
    private var head: [UInt8] = []
    private var tail: [UInt8] = []
    private var tailStart = 0
    public private(set) var dropped = 0

    public init(limit: Int) { self.limit = max(limit, 2) }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes[...]
        let headRoom = limit / 2 - head.count
        if headRoom > 0 {
            head.append(contentsOf: rest.prefix(headRoom))
            rest = rest.dropFirst(headRoom)
        }
        guard !rest.isEmpty else { return }
        tail.append(contentsOf: rest)
        let keep = limit - limit / 2
        if tail.count - tailStart > keep {
            let excess = tail.count - tailStart - keep
            tailStart += excess
            dropped += excess
            if tailStart > keep { tail.removeFirst(tailStart); tailStart = 0 }
        }
    }

    public var text: String {
        let kept = tail[tailStart...]
        if dropped == 0 { return String(decoding: head + kept, as: UTF8.self) }
        return String(decoding: head, as: UTF8.self) + "\n[... \(dropped) bytes left out ...]\n" + String(decoding: kept, as: UTF8.self)
    }
}

/// Runs one command in a box to completion on the agent's loop: output captured (capped),
/// killed with its whole process group after `timeout` seconds. It keeps itself alive (its
/// handles' callbacks hold it) until the completion has run.
public final class BoxCommand {
    private var process: ChildProcess?
    private let timer: LoopTimer
    private var buffer: HeadTailBuffer
    private var exit: ProcessExit?
    private var openStreams = 2
    /// The host-side program's stderr (the docker CLI's own messages), kept short.
    private var hostErrors: [UInt8] = []
    private let box: Box
    private var timedOut = false
    private let started = EventLoop.monotonicSeconds()
    private let completion: (CommandResult) -> Void

    @discardableResult
    public init(loop: EventLoop, box: Box, shellCommand: String, timeout: Double, outputLimit: Int = 30_000,
                environment: [String: String] = [:], completion: @escaping (CommandResult) -> Void) {
        self.completion = completion
        buffer = HeadTailBuffer(limit: outputLimit)
        timer = LoopTimer(loop: loop)
        let out = PipeStream(loop: loop)
        let err = PipeStream(loop: loop)
        self.box = box
        // stderr joins stdout so the model sees them interleaved as a person would; what is left
        // on the host side's stderr is the docker CLI's own word (an engine that does not answer).
        let argv = box.argv(["bash", "-c", "exec 2>&1\n" + shellCommand], directory: nil, environment: environment, interactive: false, tty: false)
        do {
            process = try ChildProcess(loop: loop, arguments: argv, environment: box.hostProcessEnvironment(environment),
                                       directory: box.hostProcessDirectory,
                                       stdio: [.ignore, .pipe(out, childReads: false), .pipe(err, childReads: false)],
                                       newSession: true) { [self] exit in
                self.exit = exit
                self.finishIfDone()
            }
        } catch {
            out.close(); err.close()
            completion(CommandResult(exit: .exited(127), output: "\(error)", truncatedBytes: 0, timedOut: false, duration: 0))
            timer.close()
            return
        }
        try? out.startReading { [self] result in
            switch result {
            case .data(let bytes): self.buffer.append(bytes)
            case .eof, .error:
                out.close()
                self.openStreams -= 1
                self.finishIfDone()
            }
        }
        try? err.startReading { [self] result in
            switch result {
            case .data(let bytes): if self.hostErrors.count < 4096 { self.hostErrors += bytes }
            case .eof, .error:
                err.close()
                self.openStreams -= 1
                self.finishIfDone()
            }
        }
        let pid = process!.pid
        timer.start(seconds: timeout) { [self] in // the command's time is up
            self.timedOut = true
            kill(-pid, SIGKILL)
        }
    }

    /// Kills the command's whole process group now (the agent is stopping); the completion
    /// still runs, reporting the signal.
    public func terminate() {
        guard exit == nil, let pid = process?.pid, pid > 0 else { return }
        kill(-pid, SIGKILL)
    }

    private func finishIfDone() {
        guard exit != nil, openStreams == 0 else { return }
        timer.close()
        process?.close()
        var output = buffer.text
        if let exit, exit != .exited(0), let problem = box.unreachable(String(decoding: hostErrors, as: UTF8.self)) {
            output += (output.isEmpty ? "" : "\n") + problem
        }
        completion(CommandResult(exit: exit, output: output, truncatedBytes: buffer.dropped, timedOut: timedOut,
                                 duration: EventLoop.monotonicSeconds() - started))
    }
}
