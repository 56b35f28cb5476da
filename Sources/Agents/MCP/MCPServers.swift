import Glibc
import Hosting
import LLM
import Loop
import Profile

/// The MCP servers of one coder agent: starts them together, turns their tools into coder
/// tools named `mcp__SERVER__TOOL`, stops them at the end.
public final class MCPServers {
    public let clients: [MCPClient]

    /// `logPrefix`: each server's stderr goes to `<logPrefix>.mcp-<server>.log`.
    public init(specs: [MCPServerSpec], loop: EventLoop, box: Box, logPrefix: String?) {
        clients = specs.map { spec in
            MCPClient(spec: spec, loop: loop, box: box, logFile: logPrefix.map { Self.logFile(prefix: $0, server: spec.name) })
        }
    }

    public init(clients: [MCPClient]) { self.clients = clients }

    public static func logFile(prefix: String, server: String) -> String { "\(prefix).mcp-\(server).log" }

    /// Starts every server; `completion` gets the tools of those that came up and one line per
    /// server that did not (the agent goes on without its tools).
    public func start(_ completion: @escaping (_ tools: [CoderToolImplementation], _ problems: [String]) -> Void) {
        guard !clients.isEmpty else { completion([], []); return }
        var remaining = clients.count
        var results: [Int: Result<[MCPToolInfo], MCPError>] = [:]
        for (i, client) in clients.enumerated() {
            client.start { result in
                results[i] = result
                remaining -= 1
                guard remaining == 0 else { return }
                var tools: [CoderToolImplementation] = []
                var problems: [String] = []
                var used = Set<String>()
                for (j, c) in self.clients.enumerated() {
                    switch results[j]! {
                    case .failure(let e): problems.append("MCP server \(c.spec.name) is not available: \(e)")
                    case .success(let list):
                        for info in list {
                            var name = MCPTool.exposedName(server: c.spec.name, tool: info.name)
                            // Two tool names that differ only in characters the API refuses.
                            var n = 2
                            while used.contains(name) { name = String(MCPTool.exposedName(server: c.spec.name, tool: info.name).prefix(60)) + "_\(n)"; n += 1 }
                            used.insert(name)
                            tools.append(MCPTool(name: name, info: info, client: c))
                        }
                    }
                }
                completion(tools, problems)
            }
        }
    }

    public func close() { clients.forEach { $0.close() } }

    /// A server process is still running (after `close`: it has not exited yet).
    public var anyAlive: Bool { clients.contains { $0.processAlive } }

    /// One line per server for the system prompt.
    public var summary: String {
        clients.filter(\.isRunning).map { c in
            "- \(c.spec.name)\(c.serverInfo.map { " (\($0))" } ?? ""): \(c.tools.count) tool\(c.tools.count == 1 ? "" : "s"), named mcp__\(c.spec.name)__TOOL"
        }.joined(separator: "\n")
    }
}

/// A tool of an MCP server as the coder offers it. MCP tools may do anything, so they count
/// as mutating: they run one at a time and ask for permission unless the mode is `yolo`.
public struct MCPTool: CoderToolImplementation {
    public let name: String
    public let info: MCPToolInfo
    public let client: MCPClient
    public let isReadOnly = false

    public init(name: String, info: MCPToolInfo, client: MCPClient) {
        self.name = name
        self.info = info
        self.client = client
    }

    /// `mcp__SERVER__TOOL` with characters outside `[A-Za-z0-9_-]` replaced by `_`, at most 64
    /// characters (what the model APIs accept as a tool name).
    public static func exposedName(server: String, tool: String) -> String {
        let clean = String(String.UnicodeScalarView(tool.unicodeScalars.map { c in
            (("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "-") ? c : "_"
        }))
        return String("mcp__\(server)__\(clean)".prefix(64))
    }

    public var definition: ToolDefinition {
        let d = info.description.isEmpty ? "Tool \(info.name) of the MCP server \(client.spec.name)." : info.description
        return ToolDefinition(name: name, description: "[MCP server \(client.spec.name)] " + d, inputSchema: info.inputSchema)
    }

    public func summary(_ input: JSONValue) -> String {
        oneLine(input.serialized(), width: 120)
    }

    public func run(_ input: JSONValue, context: ToolContext, completion: @escaping (ToolOutput) -> Void) {
        client.callTool(info.name, arguments: input) { result in
            switch result {
            case .success(let r): completion(ToolOutput(r.text, isError: r.isError))
            case .failure(let e): completion(.error("\(e)"))
            }
        }
    }
}

/// The MCP server file used outside a profile (`SUPERVISOR_CODER_MCP`), in the format other
/// MCP clients read: `{"mcpServers": {"NAME": {"command": "prog", "args": ["a"], "env": {"K":
/// "V"}, "cwd": "dir", "timeout": 60}}}`. `command` may also be an argv array.
public enum MCPConfigFile {
    public static func read(path: String) throws -> [MCPServerSpec] {
        let bytes: [UInt8]
        do { bytes = try Files.read(path) } catch { throw ToolError("SUPERVISOR_CODER_MCP: \(error)") }
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch { throw ToolError("SUPERVISOR_CODER_MCP: \(path) is not valid JSON: \(error)") }
        return try parse(json, source: path)
    }

    public static func parse(_ json: JSONValue, source: String) throws -> [MCPServerSpec] {
        func bad(_ m: String) -> ToolError { ToolError("SUPERVISOR_CODER_MCP: \(source): \(m)") }
        guard let servers = (json["mcpServers"] ?? json["servers"])?.objectValue else {
            throw bad("expected an object {\"mcpServers\": {\"NAME\": {\"command\": ..., \"args\": [...]}}}")
        }
        var out: [MCPServerSpec] = []
        for name in servers.keys.sorted() {
            let s = servers[name]!
            guard isValidName(name) else {
                throw bad("invalid server name \"\(name)\": use 1-32 characters from a-z, 0-9, '_' and '-', starting with a letter or digit, without \"__\"")
            }
            var argv: [String]
            if let c = s["command"]?.stringValue, !c.isEmpty { argv = [c] }
            else if let a = s["command"]?.arrayValue, let strings = Optional(a.compactMap(\.stringValue)), strings.count == a.count, !(strings.first ?? "").isEmpty { argv = strings }
            else { throw bad("server \"\(name)\": \"command\" must be a program name (or an argv array)") }
            if let args = s["args"] {
                guard let a = args.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else { throw bad("server \"\(name)\": \"args\" must be an array of strings") }
                argv += a.compactMap(\.stringValue)
            }
            var env: [String: String] = [:]
            if let e = s["env"] {
                guard let o = e.objectValue else { throw bad("server \"\(name)\": \"env\" must be an object of strings") }
                for (k, v) in o {
                    guard let v = v.stringValue else { throw bad("server \"\(name)\": env \"\(k)\" must be a string") }
                    env[k] = v
                }
            }
            var timeout = 60.0
            if let t = s["timeout"] {
                guard let v = t.doubleValue, v > 0 else { throw bad("server \"\(name)\": \"timeout\" must be a positive number of seconds") }
                timeout = v
            }
            if let type = s["type"]?.stringValue, type != "stdio" {
                throw bad("server \"\(name)\": transport \"\(type)\" is not supported (only stdio)")
            }
            out.append(MCPServerSpec(name: name, command: argv, env: env, cwd: s["cwd"]?.stringValue, timeout: timeout))
        }
        return out
    }

    static func isValidName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, s.unicodeScalars.count <= 32, !s.contains("__") else { return false }
        func ok(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "-" }
        return ok(first) && first != "_" && first != "-" && s.unicodeScalars.allSatisfy(ok)
    }
}
