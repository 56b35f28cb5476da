import Foundation

/// A tiny MCP server (python3, stdlib only) speaking newline-delimited JSON-RPC on stdio.
/// Tools: `echo` (text), `add` (a + b); for the error paths `fail` (isError result), `crash`
/// (exits 3 after a line on stderr), `hang` (never answers), `garbage` (writes a non-JSON line),
/// `ping_me` (asks the client for a ping first), `whereami` (hostname and cwd).
/// tools/list answers one tool per page (nextCursor) to exercise pagination.
/// `MCP_TEST_VERSION` overrides the protocol version it answers with.
enum MCPTestServer {
    static let script = #"""
import json, os, socket, sys

TOOLS = [
    {"name": "echo", "description": "Echoes text back", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
    {"name": "add", "description": "Adds two numbers", "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}},
    {"name": "fail", "description": "Always fails", "inputSchema": {"type": "object"}},
    {"name": "crash", "description": "Exits", "inputSchema": {"type": "object"}},
    {"name": "hang", "description": "Never answers", "inputSchema": {"type": "object"}},
    {"name": "garbage", "description": "Answers garbage", "inputSchema": {"type": "object"}},
    {"name": "ping_me", "description": "Pings the client first", "inputSchema": {"type": "object"}},
    {"name": "whereami", "description": "hostname and cwd", "inputSchema": {"type": "object"}},
]

def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()

def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()

pending_call = None
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    msg = json.loads(line)
    method = msg.get("method")
    mid = msg.get("id")
    log("got " + str(method if method else "response " + str(mid)))
    if method is None:
        # A response of the client (to our ping): answer the waiting call.
        if pending_call is not None and mid == "srv-1" and msg.get("result") == {}:
            send({"jsonrpc": "2.0", "id": pending_call, "result": {"content": [{"type": "text", "text": "pong received"}]}})
            pending_call = None
        continue
    if method == "initialize":
        version = os.environ.get("MCP_TEST_VERSION", msg["params"]["protocolVersion"])
        send({"jsonrpc": "2.0", "id": mid, "result": {"protocolVersion": version, "capabilities": {"tools": {}},
              "serverInfo": {"name": "pytest-server", "version": "0.1"}}})
    elif method == "notifications/initialized":
        log("initialized")
    elif method == "tools/list":
        cursor = int((msg.get("params") or {}).get("cursor") or 0)
        result = {"tools": [TOOLS[cursor]]}
        if cursor + 1 < len(TOOLS):
            result["nextCursor"] = str(cursor + 1)
        send({"jsonrpc": "2.0", "id": mid, "result": result})
    elif method == "tools/call":
        name = msg["params"]["name"]
        args = msg["params"].get("arguments") or {}
        if name == "echo":
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": "echo: " + args.get("text", "")},
                  {"type": "image", "data": "aGVsbG8=", "mimeType": "image/png"}]}})
        elif name == "add":
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": str(args["a"] + args["b"])}], "isError": False}})
        elif name == "fail":
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": "it went wrong"}], "isError": True}})
        elif name == "crash":
            log("crashing now")
            sys.exit(3)
        elif name == "hang":
            pass
        elif name == "garbage":
            sys.stdout.write("this is not json\n")
            sys.stdout.flush()
        elif name == "ping_me":
            pending_call = mid
            send({"jsonrpc": "2.0", "id": "srv-1", "method": "ping"})
        elif name == "whereami":
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": socket.gethostname() + " " + os.getcwd()}]}})
        else:
            send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32602, "message": "unknown tool " + name}})
    elif mid is not None:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "no such method"}})
log("stdin closed")
"""#

    /// Writes the script into `directory` and returns its path.
    static func write(into directory: String) -> String {
        let path = directory + "/mcp_test_server.py"
        FileManager.default.createFile(atPath: path, contents: Data(script.utf8))
        return path
    }
}
