import AgentHost
import Glibc
import Loop

/// Runs a short helper command from an argv array to completion on a private loop (used by the
/// CLI, never inside a shim's or viewer's loop). With a `timeout` (seconds) a command still
/// running then is killed and reported as exit 124 with "timed out" on its error output.
/// `input`: a descriptor the command reads as its standard input (nil: none).
public func runSubprocess(_ arguments: [String], environment: [String: String]? = nil, timeout: Double? = nil,
                          input: Int32? = nil) throws -> SubprocessResult {
    let loop = EventLoop()
    defer { loop.close() }
    let out = PipeStream(loop: loop), err = PipeStream(loop: loop)
    var exit: ProcessExit?
    var stdout: [UInt8] = [], stderr: [UInt8] = []
    var openStreams = 2
    let process = try ChildProcess(loop: loop, arguments: arguments, environment: environment,
                                   stdio: [input.map { .inherit($0) } ?? .ignore, .pipe(out, childReads: false), .pipe(err, childReads: false)]) { exit = $0 }
    try out.startReading { result in
        switch result {
        case .data(let bytes): stdout.append(contentsOf: bytes)
        case .eof, .error: openStreams -= 1; out.close()
        }
    }
    try err.startReading { result in
        switch result {
        case .data(let bytes): stderr.append(contentsOf: bytes)
        case .eof, .error: openStreams -= 1; err.close()
        }
    }
    var timedOut = false
    let timer = LoopTimer(loop: loop)
    if let timeout {
        timer.start(seconds: timeout) {
            timedOut = true
            process.kill(SIGKILL)
        }
    }
    // After a timeout, a grandchild (ssh for an ssh:// engine) may still hold the pipes open.
    while exit == nil || (openStreams > 0 && !timedOut) { loop.runOnce() }
    if openStreams > 0 { out.close(); err.close() }
    timer.close()
    process.close()
    if timedOut {
        return SubprocessResult(exit: .exited(124), output: String(decoding: stdout, as: UTF8.self),
                                errorOutput: "timed out after \(Int(timeout ?? 0)) s")
    }
    return SubprocessResult(exit: exit!, output: String(decoding: stdout, as: UTF8.self),
                            errorOutput: String(decoding: stderr, as: UTF8.self))
}

/// Replaces this process with another program (for `attach`: the terminal becomes tmux's).
public func execReplacing(_ arguments: [String], environment: [String: String]) -> Never {
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    execve(arguments[0], argv, envp)
    fputs("supervisor: cannot run \(arguments[0]): \(String(cString: strerror(errno)))\n", stderr)
    Glibc.exit(2)
}
