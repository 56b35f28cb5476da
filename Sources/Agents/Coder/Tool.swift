import Glibc
import HTTP
import LLM
import Loop

/// What a tool hands back to the model.
public struct ToolOutput: Equatable {
    public var content: String
    public var isError: Bool
    public init(_ content: String, isError: Bool = false) { self.content = content; self.isError = isError }
    public static func error(_ message: String) -> ToolOutput { ToolOutput(message, isError: true) }
}

/// Everything a tool may use: the loop, the box commands run in, the workspace the file tools
/// are confined to, a shared HTTP client for WebFetch.
public final class ToolContext {
    public let loop: EventLoop
    public let box: Box
    public let workspace: Workspace
    private var httpClient: HTTPClient?
    private let ownsHTTP: Bool
    /// Nil: ask the box once whether `rg` is installed. false forces the built-in search.
    public var useRipgrep: Bool?
    /// Bash commands and searches in flight (killed when the agent stops).
    var running: [ObjectIdentifier: BoxCommand] = [:]
    /// File-system work on worker threads (Read, Glob, the built-in Grep), cancelled when the agent stops.
    var background: [ObjectIdentifier: CancellationFlag] = [:]
    /// Default and maximum Bash timeouts, seconds.
    public var bashTimeout: Double = 120
    public var bashMaxTimeout: Double = 600
    public var commandOutputLimit = 30_000
    public var webFetchTimeout: Double = 30
    public var webFetchMaxBytes = 2 << 20
    /// The agent's MCP servers (started by the agent, stopped by `close`).
    public var mcp: MCPServers?

    public init(loop: EventLoop, box: Box, workspace: Workspace, http: HTTPClient? = nil) {
        self.loop = loop
        self.box = box
        self.workspace = workspace
        httpClient = http
        ownsHTTP = http == nil
    }

    public var http: HTTPClient {
        if let h = httpClient { return h }
        let h = HTTPClient(loop: loop)
        httpClient = h
        return h
    }

    /// Runs a shell command in the box, tracked so `stopAll` can kill it.
    func runCommand(_ shellCommand: String, timeout: Double, outputLimit: Int? = nil, completion: @escaping (CommandResult) -> Void) {
        var key: ObjectIdentifier?
        var finished = false
        let command = BoxCommand(loop: loop, box: box, shellCommand: shellCommand, timeout: timeout,
                                 outputLimit: outputLimit ?? commandOutputLimit) { [weak self] result in
            finished = true
            if let key { self?.running[key] = nil }
            completion(result)
        }
        if !finished {
            key = ObjectIdentifier(command)
            running[key!] = command
        }
    }

    /// Runs blocking file-system work off the loop thread, so a large walk neither freezes the
    /// interface nor delays Esc, and read-only calls really overlap. `work` gets only what it
    /// captures (immutable values: the input, the `Workspace`), never this context or the
    /// agent; it should check the flag and stop early once it is set. `completion` runs on the
    /// loop with the result.
    func runInBackground<T>(_ work: @escaping (CancellationFlag) -> T, completion: @escaping (T) -> Void) {
        let cancel = CancellationFlag()
        let key = ObjectIdentifier(cancel)
        background[key] = cancel
        WorkerThread.run(loop: loop, cancel: cancel, work) { [weak self] result in
            self?.background[key] = nil
            completion(result)
        }
    }

    /// Kills every command still running and cancels the file-system work (the agent is
    /// stopping); their completions still run, with what they got so far.
    public func stopAll() {
        for c in running.values { c.terminate() }
        running = [:]
        for w in background.values { w.cancel() }
        background = [:]
    }

    public func close() {
        stopAll()
        mcp?.close()
        if ownsHTTP { httpClient?.close() }
        httpClient = nil
    }
}

/// One tool the coder offers the model.
public protocol CoderToolImplementation {
    var name: String { get }
    var definition: ToolDefinition { get }
    /// Read-only tools requested together run concurrently; the others one after another.
    var isReadOnly: Bool { get }
    /// A one-line description of a call for the transcript and permission prompts.
    func summary(_ input: JSONValue) -> String
    /// Runs the call; `completion` runs exactly once, on the loop.
    func run(_ input: JSONValue, context: ToolContext, completion: @escaping (ToolOutput) -> Void)
    /// What the call would change, shown to the person (a unified diff for Write and Edit),
    /// computed without changing anything; nil when the tool has none or the call would fail.
    func preview(_ input: JSONValue, context: ToolContext) -> [String]?
}

extension CoderToolImplementation {
    public func summary(_ input: JSONValue) -> String {
        input["file_path"]?.stringValue ?? input["path"]?.stringValue ?? input["pattern"]?.stringValue ?? ""
    }
    public func preview(_ input: JSONValue, context: ToolContext) -> [String]? { nil }
}

/// Input helpers with clear messages for the model.
struct ToolInput {
    let value: JSONValue
    let tool: String

    func string(_ key: String) throws -> String {
        guard let v = value[key] else { throw ToolError("\(tool): missing required parameter \"\(key)\"") }
        guard let s = v.stringValue else { throw ToolError("\(tool): parameter \"\(key)\" must be a string") }
        return s
    }
    func optionalString(_ key: String) -> String? { value[key]?.stringValue }
    func int(_ key: String) throws -> Int? {
        guard let v = value[key], !v.isNull else { return nil }
        if let i = v.intValue { return i }
        if let s = v.stringValue, let i = Int(s) { return i }
        throw ToolError("\(tool): parameter \"\(key)\" must be an integer")
    }
    func bool(_ key: String) -> Bool {
        guard let v = value[key] else { return false }
        if let b = v.boolValue { return b }
        if let s = v.stringValue { return s == "true" }
        return false
    }
}

/// JSON schema helpers.
enum Schema {
    static func object(_ properties: [(String, JSONValue)], required: [String]) -> JSONValue {
        var props: [String: JSONValue] = [:]
        for (k, v) in properties { props[k] = v }
        return ["type": "object", "properties": .object(props), "required": .array(required.map { .string($0) }),
                "additionalProperties": false]
    }
    static func string(_ d: String) -> JSONValue { ["type": "string", "description": .string(d)] }
    static func integer(_ d: String) -> JSONValue { ["type": "integer", "description": .string(d)] }
    static func boolean(_ d: String) -> JSONValue { ["type": "boolean", "description": .string(d)] }
    static func enumeration(_ d: String, _ values: [String]) -> JSONValue {
        ["type": "string", "description": .string(d), "enum": .array(values.map { .string($0) })]
    }
}

/// Shell quoting for arguments built into a command line (`'...'`).
func shellQuote(_ s: String) -> String {
    "'" + s.replacing("'", with: "'\\''") + "'"
}

