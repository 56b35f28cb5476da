import Glibc
import Hosting
import LLM
import Loop
import Profile

/// What went wrong talking to an MCP server (shown to the model as a tool error).
public struct MCPError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One tool an MCP server offers (from `tools/list`).
public struct MCPToolInfo: Equatable {
    public var name: String
    public var description: String
    public var inputSchema: JSONValue
}

/// What `tools/call` returned, reduced to text for the model.
public struct MCPCallResult: Equatable {
    public var text: String
    public var isError: Bool
}

/// The client side of one MCP server over stdio (newline-delimited JSON-RPC 2.0), on the
/// agent's loop. The server is started from argv through the agent's box (inside the container
/// on the Docker backend); its stderr goes to `logFile`. Every request has a timeout; a server
/// that exits or writes something that is not JSON-RPC fails the requests waiting on it with a
/// message that says so, never the agent.
///
/// Sequence: `start` (spawn, `initialize`, `notifications/initialized`, `tools/list` following
/// `nextCursor`), then `callTool` any number of times, then `close`.
public final class MCPClient {
    public static let protocolVersion = "2025-06-18"
    /// Versions whose tool messages we understand (a server may answer with an older one).
    public static let knownVersions: Set<String> = ["2025-06-18", "2025-03-26", "2024-11-05"]

    public let spec: MCPServerSpec
    public let loop: EventLoop
    public let box: Box
    public let logFile: String?
    public private(set) var tools: [MCPToolInfo] = []
    public private(set) var serverInfo: String?
    public private(set) var negotiatedVersion: String?
    /// Why the server is not usable (nil while it runs).
    public private(set) var failure: String?

    private var process: ChildProcess?
    private var stdin: PipeStream?
    private var stdout: PipeStream?
    private var lineBuffer: [UInt8] = []
    private var nextID = 1
    private var pending: [Int: Pending] = [:]
    private var exited: ProcessExit?
    private var closed = false
    /// The server came up once: when it exits later, the next call starts it again.
    private var startedOnce = false
    private var restartTimes: [Double] = []
    private var restartWaiters: [(MCPError?) -> Void] = []
    /// A server that exits this often within `restartWindow` seconds stays down.
    public static let maxRestarts = 3
    public static let restartWindow = 600.0
    /// Told each time the server is started again after it exited (for the agent's notices).
    public var onRestart: ((String) -> Void)?
    /// Longest line accepted from the server (a runaway server cannot eat the memory).
    public var maxLineBytes = 64 << 20

    private struct Pending {
        let method: String
        let timer: LoopTimer
        let completion: (Result<JSONValue, MCPError>) -> Void
    }

    public init(spec: MCPServerSpec, loop: EventLoop, box: Box, logFile: String?) {
        self.spec = spec
        self.loop = loop
        self.box = box
        self.logFile = logFile
    }

    public var isRunning: Bool { process != nil && exited == nil && failure == nil && !closed }
    /// The server's process is still there (also after `close`, until it exits).
    public var processAlive: Bool { process != nil && exited == nil }

    // MARK: Starting

    /// Starts the server and learns its tools; `completion` runs once, on the loop.
    public func start(_ completion: @escaping (Result<[MCPToolInfo], MCPError>) -> Void) {
        do { try spawn() } catch {
            fail("cannot start the MCP server \(spec.name) (\(spec.command.joined(separator: " "))): \(error)")
            completion(.failure(MCPError(failure!)))
            return
        }
        let params: JSONValue = [
            "protocolVersion": .string(Self.protocolVersion),
            "capabilities": .object([:]),
            "clientInfo": ["name": "supervisor-coder", "version": "1.0"],
        ]
        // A server's start (python, npx, uvx, a container) is slower than its answers: initialize
        // waits at least `initializeTimeout`, whatever the per-call timeout.
        request("initialize", params, timeout: max(spec.timeout, Self.initializeTimeout)) { [self] result in
            switch result {
            case .failure(let e):
                completion(.failure(e))
            case .success(let r):
                guard let version = r["protocolVersion"]?.stringValue else {
                    completion(.failure(MCPError("the MCP server \(spec.name) answered initialize without a protocolVersion")))
                    return
                }
                guard Self.knownVersions.contains(version) else {
                    let message = "the MCP server \(spec.name) speaks protocol version \(version); supported: \(Self.knownVersions.sorted().joined(separator: ", "))"
                    fail(message)
                    completion(.failure(MCPError(message)))
                    return
                }
                negotiatedVersion = version
                if let info = r["serverInfo"], let name = info["name"]?.stringValue {
                    serverInfo = name + (info["version"]?.stringValue.map { " " + $0 } ?? "")
                }
                notify("notifications/initialized", nil)
                listTools(cursor: nil, into: []) { result in
                    if case .success(let tools) = result { self.tools = tools; self.startedOnce = true }
                    completion(result)
                }
            }
        }
    }

    private func listTools(cursor: String?, into found: [MCPToolInfo], pages: Int = 0,
                           _ completion: @escaping (Result<[MCPToolInfo], MCPError>) -> Void) {
        guard pages < 100 else {
            completion(.failure(MCPError("the MCP server \(spec.name) sent more than 100 pages of tools")))
            return
        }
        var params: JSONValue? = nil
        if let cursor { params = ["cursor": .string(cursor)] }
        request("tools/list", params) { [self] result in
            switch result {
            case .failure(let e): completion(.failure(e))
            case .success(let r):
                guard let list = r["tools"]?.arrayValue else {
                    completion(.failure(MCPError("the MCP server \(spec.name) answered tools/list without a tools array")))
                    return
                }
                var all = found
                for t in list {
                    guard let name = t["name"]?.stringValue, !name.isEmpty else { continue }
                    var schema = t["inputSchema"] ?? ["type": "object"]
                    if schema.objectValue == nil { schema = ["type": "object"] }
                    if schema["type"] == nil, var o = schema.objectValue { o["type"] = "object"; schema = .object(o) }
                    all.append(MCPToolInfo(name: name, description: t["description"]?.stringValue ?? t["title"]?.stringValue ?? "",
                                           inputSchema: schema))
                }
                if let next = r["nextCursor"]?.stringValue, !next.isEmpty {
                    listTools(cursor: next, into: all, pages: pages + 1, completion)
                } else {
                    completion(.success(all))
                }
            }
        }
    }

    private func spawn() throws {
        // A write to a server that has gone must be an error, not SIGPIPE for the agent.
        signal(SIGPIPE, SIG_IGN)
        let input = PipeStream(loop: loop), output = PipeStream(loop: loop)
        var errFD: Int32 = -1
        if let logFile {
            errFD = open(logFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        }
        defer { if errFD >= 0 { Glibc.close(errFD) } }
        if errFD >= 0 {
            let line = "--- \(Self.timestamp()) starting \(spec.command.joined(separator: " "))\n"
            Posix.writeAll(errFD, line)
        }
        var directory: String?
        if let cwd = spec.cwd { directory = cwd.hasPrefix("/") ? cwd : box.boxWorkspace + "/" + cwd }
        let argv = box.argv(spec.command, directory: directory, environment: spec.env, interactive: true, tty: false)
        do {
            process = try ChildProcess(loop: loop, arguments: argv, environment: box.hostProcessEnvironment(spec.env),
                                       directory: box.hostProcessDirectory,
                                       stdio: [.pipe(input, childReads: true), .pipe(output, childReads: false),
                                               errFD >= 0 ? .inherit(errFD) : .ignore],
                                       newSession: true) { [weak self] exit in
                self?.processExited(exit)
            }
        } catch {
            input.close(); output.close()
            throw error
        }
        stdin = input
        stdout = output
        try output.startReading { [weak self] result in
            guard let self else { return }
            switch result {
            case .data(let bytes): self.received(bytes)
            case .eof, .error:
                // The process's exit (soon) says why; requests fail then.
                output.close()
            }
        }
    }

    private func processExited(_ exit: ProcessExit) {
        exited = exit
        process?.close()
        guard !closed else { return }
        var message = "the MCP server \(spec.name) exited (\(exit))"
        if let tail = logTail(), !tail.isEmpty { message += "; the end of its stderr:\n" + tail }
        else if let logFile { message += "; its stderr is in \(logFile)" }
        fail(message)
    }

    private var needsRestart: Bool { startedOnce && !closed && failure != nil && (process == nil || exited != nil) }

    /// Starts the server again; `done` gets nil once it answers, or why it stays down. Calls
    /// arriving meanwhile wait for the same restart.
    private func restart(_ done: @escaping (MCPError?) -> Void) {
        restartWaiters.append(done)
        guard restartWaiters.count == 1 else { return }
        func finish(_ error: MCPError?) {
            let waiters = restartWaiters
            restartWaiters = []
            waiters.forEach { $0(error) }
        }
        let now = EventLoop.monotonicSeconds()
        restartTimes = restartTimes.filter { now - $0 < Self.restartWindow }
        guard restartTimes.count < Self.maxRestarts else {
            finish(MCPError("the MCP server \(spec.name) was restarted \(restartTimes.count) times in \(Int(Self.restartWindow / 60)) minutes and is not started again; last: \(failure ?? "it exited")"))
            return
        }
        restartTimes.append(now)
        let why = failure ?? "it exited"
        stdin?.close(); stdout?.close()
        stdin = nil; stdout = nil; process = nil; exited = nil; failure = nil; lineBuffer = []
        onRestart?("restarting the MCP server \(spec.name) (\(oneLine(why, width: 200)))")
        start { result in
            switch result {
            case .success: finish(nil)
            case .failure(let e): finish(e)
            }
        }
    }

    /// Marks the server unusable and fails every waiting request.
    private func fail(_ message: String) {
        if failure == nil { failure = message }
        let waiting = pending
        pending = [:]
        for (_, p) in waiting.sorted(by: { $0.key < $1.key }) {
            p.timer.close()
            p.completion(.failure(MCPError(message)))
        }
    }

    // MARK: Calls

    /// Calls one tool; `completion` runs once, on the loop. A server that exited since the last
    /// call (it crashed, or was killed) is started again first, up to `maxRestarts` times
    /// within `restartWindow`: a long session does not lose its tools to one crash.
    public func callTool(_ name: String, arguments: JSONValue, _ completion: @escaping (Result<MCPCallResult, MCPError>) -> Void) {
        if needsRestart {
            restart { [self] error in
                if let error { completion(.failure(error)) } else { callTool(name, arguments: arguments, completion) }
            }
            return
        }
        let args: JSONValue = arguments.objectValue != nil ? arguments : .object([:])
        request("tools/call", ["name": .string(name), "arguments": args]) { [self] result in
            switch result {
            case .failure(let e): completion(.failure(e))
            case .success(let r):
                guard r.objectValue != nil else {
                    completion(.failure(MCPError("the MCP server \(spec.name) answered tools/call with \(r.serialized().prefix(200)) instead of a result object")))
                    return
                }
                completion(.success(Self.render(r)))
            }
        }
    }

    /// A `tools/call` result as text: text items joined, other items described briefly.
    public static func render(_ r: JSONValue) -> MCPCallResult {
        var parts: [String] = []
        for item in r["content"]?.arrayValue ?? [] {
            let type = item["type"]?.stringValue ?? "?"
            switch type {
            case "text": parts.append(item["text"]?.stringValue ?? "")
            case "image", "audio":
                let size = (item["data"]?.stringValue?.utf8.count ?? 0) * 3 / 4
                parts.append("[\(type): \(item["mimeType"]?.stringValue ?? "unknown type"), about \(size) bytes; not shown]")
            case "resource_link":
                let name = item["name"]?.stringValue.map { " (\($0))" } ?? ""
                parts.append("[resource link: \(item["uri"]?.stringValue ?? "?")\(name)]")
            case "resource":
                let res = item["resource"] ?? .null
                let uri = res["uri"]?.stringValue ?? "?"
                if let text = res["text"]?.stringValue {
                    parts.append("[resource \(uri)]\n" + text)
                } else {
                    parts.append("[resource \(uri): \(res["mimeType"]?.stringValue ?? "binary"), \((res["blob"]?.stringValue?.utf8.count ?? 0) * 3 / 4) bytes; not shown]")
                }
            default: parts.append("[\(type) content; not shown]")
            }
        }
        if parts.isEmpty, let structured = r["structuredContent"], !structured.isNull { parts.append(structured.serialized()) }
        let isError = r["isError"]?.boolValue ?? false
        var text = parts.joined(separator: "\n")
        if text.isEmpty { text = isError ? "(the tool failed without a message)" : "(no output)" }
        return MCPCallResult(text: text, isError: isError)
    }

    /// Sends a request; the answer (its `result`), a JSON-RPC error, a timeout or the server's
    /// end completes it exactly once.
    /// Least seconds `initialize` waits (see `start`).
    public static let initializeTimeout = 10.0

    public func request(_ method: String, _ params: JSONValue?, timeout: Double? = nil,
                        _ completion: @escaping (Result<JSONValue, MCPError>) -> Void) {
        if closed { completion(.failure(MCPError("the MCP server \(spec.name) was stopped"))); return }
        if let failure { completion(.failure(MCPError(failure))); return }
        guard let stdin else { completion(.failure(MCPError("the MCP server \(spec.name) is not started"))); return }
        let id = nextID
        nextID += 1
        var message: [String: JSONValue] = ["jsonrpc": "2.0", "id": .number(Double(id)), "method": .string(method)]
        if let params { message["params"] = params }
        let timer = LoopTimer(loop: loop)
        pending[id] = Pending(method: method, timer: timer, completion: completion)
        let seconds = timeout ?? spec.timeout
        timer.start(seconds: seconds) { [weak self] in // the request's time is up
            guard let self, let p = self.pending.removeValue(forKey: id) else { return }
            p.timer.close()
            self.notify("notifications/cancelled", ["requestId": .number(Double(id)), "reason": "timed out"])
            p.completion(.failure(MCPError("the MCP server \(self.spec.name) did not answer \(method) within \(Self.seconds(seconds))")))
        }
        stdin.write(JSONValue.object(message).serialized() + "\n") { [weak self] error in
            guard let self, let error else { return }
            // A server that exited breaks the pipe before its exit is reaped: its exit status
            // and stderr (soon, through processExited) say more than "broken pipe" does. The
            // request's timer still bounds the wait.
            if self.failure == nil && self.exited == nil && self.process != nil { return }
            guard let p = self.pending.removeValue(forKey: id) else { return }
            p.timer.close()
            p.completion(.failure(MCPError(self.failure ?? "cannot write to the MCP server \(self.spec.name): \(error)")))
        }
    }

    private func notify(_ method: String, _ params: JSONValue?) {
        guard let stdin, !closed else { return }
        var message: [String: JSONValue] = ["jsonrpc": "2.0", "method": .string(method)]
        if let params { message["params"] = params }
        stdin.write(JSONValue.object(message).serialized() + "\n") { _ in }
    }

    private func send(_ message: JSONValue) {
        stdin?.write(message.serialized() + "\n") { _ in }
    }

    // MARK: Reading

    private func received(_ bytes: UnsafeRawBufferPointer) {
        var start = bytes.startIndex
        for i in bytes.indices where bytes[i] == 10 {
            lineBuffer.append(contentsOf: bytes[start..<i])
            let line = lineBuffer
            lineBuffer.removeAll(keepingCapacity: true)
            handle(line)
            start = i + 1
        }
        lineBuffer.append(contentsOf: bytes[start..<bytes.endIndex])
        if lineBuffer.count > maxLineBytes {
            lineBuffer = []
            fail("the MCP server \(spec.name) wrote a line longer than \(maxLineBytes) bytes")
        }
    }

    private func handle(_ raw: [UInt8]) {
        var line = raw[...]
        if line.last == 13 { line = line.dropLast() }
        if line.allSatisfy({ $0 == 32 || $0 == 9 }) { return }
        guard let message = try? JSONValue.parse(Array(line)), message.objectValue != nil else {
            // The protocol allows nothing else on stdout: whatever was waiting gets this.
            let text = String(decoding: line.prefix(300), as: UTF8.self)
            let waiting = pending
            pending = [:]
            for (_, p) in waiting.sorted(by: { $0.key < $1.key }) {
                p.timer.close()
                p.completion(.failure(MCPError("the MCP server \(spec.name) answered \(p.method) with something that is not JSON-RPC: \(text)")))
            }
            return
        }
        let method = message["method"]?.stringValue
        let id = message["id"]
        if let method {
            // A request of the server to us: ping is answered, anything else is not supported.
            guard let id, !id.isNull else { return } // notifications (progress, logging, list_changed) are ignored
            if method == "ping" {
                send(["jsonrpc": "2.0", "id": id, "result": .object([:])])
            } else {
                send(["jsonrpc": "2.0", "id": id, "error": ["code": -32601, "message": .string("method not supported by this client: \(method)")]])
            }
            return
        }
        guard let n = id?.intValue, let p = pending.removeValue(forKey: n) else { return } // late answer to a timed-out request
        p.timer.close()
        if let error = message["error"], !error.isNull {
            let code = error["code"]?.intValue.map { " (\($0))" } ?? ""
            let text = error["message"]?.stringValue ?? error.serialized()
            p.completion(.failure(MCPError("the MCP server \(spec.name) refused \(p.method)\(code): \(text)")))
        } else if let result = message["result"] {
            p.completion(.success(result))
        } else {
            p.completion(.failure(MCPError("the MCP server \(spec.name) answered \(p.method) without result or error: \(message.serialized().prefix(300))")))
        }
    }

    // MARK: Stopping

    /// Closes the server's input (the protocol's way to ask it to exit) and ends its process
    /// group; waiting requests fail.
    public func close() {
        guard !closed else { return }
        fail("the MCP server \(spec.name) was stopped")
        closed = true
        stdin?.close()
        stdin = nil
        stdout?.close()
        guard let p = process, exited == nil, p.pid > 0 else { process?.close(); return }
        // End of input asks it to exit (through docker exec too); what is still there after a
        // second gets SIGTERM, after three SIGKILL, if the loop runs that long (when the agent
        // process ends, its servers see their input close anyway).
        let pid = p.pid
        let timer = LoopTimer(loop: loop)
        var step = 0
        timer.start(milliseconds: 1000, repeatMilliseconds: 2000) { [weak self] in
            step += 1
            if self?.exited == nil { kill(-pid, step == 1 ? SIGTERM : SIGKILL) }
            if step >= 2 || self?.exited != nil { timer.close() }
        }
    }

    private func logTail() -> String? {
        guard let logFile, let size = Files.size(logFile) else { return nil }
        let fd = open(logFile, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        let want = min(size, 1000)
        var bytes = [UInt8](repeating: 0, count: want)
        guard case .success(let n) = bytes.withUnsafeMutableBytes({ Posix.pread(fd, into: $0, offset: UInt64(size - want)) }),
              n > 0 else { return nil }
        let text = String(decoding: bytes[0..<n], as: UTF8.self)
        // Only what this run wrote (after our "starting" line), last few lines.
        let run = text.split(separator: "--- ", omittingEmptySubsequences: false).last.map { $0.split(separator: "\n").dropFirst() } ?? []
        return run.suffix(8).joined(separator: "\n")
    }

    static func seconds(_ s: Double) -> String { s == s.rounded() ? "\(Int(s)) s" : "\(s) s" }

    static func timestamp() -> String {
        var t = time(nil)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &tmv)
        return String(cString: buffer)
    }
}
