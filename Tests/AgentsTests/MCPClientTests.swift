import Foundation
import Glibc
import LLM
import Loop
import Profile
import XCTest
import _TestSupport
@testable import Agents

/// The MCP client against the python test server (MCPTestServer), over real pipes on a loop.
final class MCPClientTests: XCTestCase {
    var loop: EventLoop!
    var dir: TemporaryDirectory!
    var clients: [MCPClient] = []

    override func setUpWithError() throws {
        guard resolveExecutable("python3", path: ProcessInfo.processInfo.environment["PATH"]) != nil else {
            throw XCTSkip("SKIP MCP tests: python3 is not installed")
        }
        loop = EventLoop()
        dir = TemporaryDirectory(prefix: "mcp")
    }

    override func tearDown() {
        clients.forEach { $0.close() }
        var spins = 0
        while loop.runOnce(wait: false) && spins < 100 { spins += 1 }
        loop.close()
    }

    func client(timeout: Double = 10, env: [String: String] = [:], command: [String]? = nil) -> MCPClient {
        let script = MCPTestServer.write(into: dir.path)
        let box = LocalBox(workspace: dir.path, environment: ProcessInfo.processInfo.environment, withheld: [])
        let c = MCPClient(spec: MCPServerSpec(name: "t", command: command ?? ["python3", "-u", script], env: env, timeout: timeout),
                          loop: loop, box: box, logFile: dir.file("t.log"))
        clients.append(c)
        return c
    }

    func started(_ c: MCPClient) throws -> [MCPToolInfo] {
        var result: Result<[MCPToolInfo], MCPError>?
        c.start { result = $0 }
        try runLoop(loop, until: "initialize and tools/list", seconds: 20) { result != nil }
        return try result!.get()
    }

    func call(_ c: MCPClient, _ name: String, _ args: JSONValue = [:], seconds: Double = 20) throws -> Result<MCPCallResult, MCPError> {
        var result: Result<MCPCallResult, MCPError>?
        c.callTool(name, arguments: args) { result = $0 }
        try runLoop(loop, until: "tools/call \(name)", seconds: seconds) { result != nil }
        return result!
    }

    func testInitializeListsEveryPageAndCallsTools() throws {
        let c = client()
        let tools = try started(c)
        XCTAssertEqual(tools.map(\.name), ["echo", "add", "fail", "crash", "hang", "garbage", "ping_me", "whereami"])
        XCTAssertEqual(tools[0].description, "Echoes text back")
        XCTAssertEqual(tools[1].inputSchema["required"], ["a", "b"])
        XCTAssertEqual(c.negotiatedVersion, MCPClient.protocolVersion)
        XCTAssertEqual(c.serverInfo, "pytest-server 0.1")
        XCTAssertEqual(try call(c, "add", ["a": 2, "b": 3]).get(), MCPCallResult(text: "5", isError: false))
        XCTAssertEqual(try call(c, "echo", ["text": "hi"]).get(),
                       MCPCallResult(text: "echo: hi\n[image: image/png, about 6 bytes; not shown]", isError: false))
        // A request of the server (ping) is answered while a call waits.
        XCTAssertEqual(try call(c, "ping_me").get().text, "pong received")
        // stderr of the server went to its log.
        let log = try String(contentsOfFile: dir.file("t.log"), encoding: .utf8)
        XCTAssertTrue(log.contains("got initialize") && log.contains("initialized") && log.contains("got tools/call"), log)
    }

    func testErrorResultAndRefusedCall() throws {
        let c = client()
        _ = try started(c)
        XCTAssertEqual(try call(c, "fail").get(), MCPCallResult(text: "it went wrong", isError: true))
        guard case .failure(let e) = try call(c, "nope") else { return XCTFail("an unknown tool must fail") }
        XCTAssertEqual(e.message, "the MCP server t refused tools/call (-32602): unknown tool nope")
        // Still usable.
        XCTAssertEqual(try call(c, "add", ["a": 1, "b": 1]).get().text, "2")
    }

    func testServerCrashFailsTheCallWithItsStderr() throws {
        let c = client()
        _ = try started(c)
        guard case .failure(let e) = try call(c, "crash") else { return XCTFail("a crash must fail the call") }
        XCTAssertTrue(e.message.hasPrefix("the MCP server t exited (exit 3)"), e.message)
        XCTAssertTrue(e.message.contains("crashing now"), e.message)
        XCTAssertFalse(c.isRunning)
        // The next call starts it again (the agent is told), and is answered.
        var notices: [String] = []
        c.onRestart = { notices.append($0) }
        XCTAssertEqual(try call(c, "add", ["a": 1, "b": 1]).get().text, "2")
        XCTAssertTrue(c.isRunning)
        XCTAssertEqual(notices.count, 1)
        XCTAssertTrue(notices.first?.hasPrefix("restarting the MCP server t (the MCP server t exited (exit 3)") ?? false, "\(notices)")
        let log = try String(contentsOfFile: dir.file("t.log"), encoding: .utf8)
        XCTAssertEqual(log.components(separatedBy: "--- ").count - 1, 2, "two starts in its stderr log: \(log)")
    }

    func testACrashLoopingServerStaysDownAfterMaxRestarts() throws {
        let c = client()
        _ = try started(c)
        for round in 1...MCPClient.maxRestarts {
            guard case .failure = try call(c, "crash") else { return XCTFail("round \(round): a crash must fail the call") }
            XCTAssertEqual(try call(c, "add", ["a": .number(Double(round)), "b": 0]).get().text, "\(round)", "restart \(round)")
        }
        guard case .failure = try call(c, "crash") else { return XCTFail("a crash must fail the call") }
        guard case .failure(let e) = try call(c, "add", ["a": 1, "b": 1]) else { return XCTFail("past maxRestarts the server stays down") }
        XCTAssertTrue(e.message.hasPrefix("the MCP server t was restarted \(MCPClient.maxRestarts) times in 10 minutes and is not started again"), e.message)
        XCTAssertFalse(c.isRunning)
    }

    func testTimeoutThenTheServerStillAnswers() throws {
        let c = client(timeout: 0.5)
        _ = try started(c)
        let t0 = EventLoop.monotonicSeconds()
        guard case .failure(let e) = try call(c, "hang") else { return XCTFail("hang must time out") }
        XCTAssertEqual(e.message, "the MCP server t did not answer tools/call within 0.5 s")
        XCTAssertLessThan(EventLoop.monotonicSeconds() - t0, 5)
        XCTAssertEqual(try call(c, "add", ["a": 20, "b": 22]).get().text, "42")
    }

    func testGarbageOnStdoutFailsTheWaitingCall() throws {
        let c = client()
        _ = try started(c)
        guard case .failure(let e) = try call(c, "garbage") else { return XCTFail("garbage must fail the call") }
        XCTAssertEqual(e.message, "the MCP server t answered tools/call with something that is not JSON-RPC: this is not json")
        XCTAssertEqual(try call(c, "add", ["a": 1, "b": 2]).get().text, "3")
    }

    func testProgramThatDoesNotExist() throws {
        let c = client(command: ["/nonexistent/mcp-server"])
        XCTAssertThrowsError(try started(c)) { error in
            XCTAssertTrue("\(error)".contains("cannot start the MCP server t (/nonexistent/mcp-server)"), "\(error)")
        }
    }

    func testServerThatExitsAtOnce() throws {
        let c = client(command: ["sh", "-c", "echo 'bad config' >&2; exit 7"])
        XCTAssertThrowsError(try started(c)) { error in
            XCTAssertTrue("\(error)".contains("exited (exit 7)") && "\(error)".contains("bad config"), "\(error)")
        }
    }

    func testUnsupportedProtocolVersion() throws {
        let c = client(env: ["MCP_TEST_VERSION": "1999-01-01"])
        XCTAssertThrowsError(try started(c)) { error in
            XCTAssertTrue("\(error)".contains("speaks protocol version 1999-01-01"), "\(error)")
        }
    }

    func testCloseEndsTheServer() throws {
        let c = client()
        _ = try started(c)
        c.close()
        try runLoop(loop, until: "the server to exit", seconds: 10) {
            ((try? String(contentsOfFile: dir.file("t.log"), encoding: .utf8)) ?? "").contains("stdin closed")
        }
        guard case .failure(let e) = try call(c, "add", ["a": 1, "b": 1]) else { return XCTFail("a closed client must fail calls") }
        XCTAssertEqual(e.message, "the MCP server t was stopped")
    }

    func testCloseKillsAServerThatIgnoresEndOfInput() throws {
        let c = client(command: ["sh", "-c", "trap '' HUP; exec sleep 60"])
        var result: Result<[MCPToolInfo], MCPError>?
        c.start { result = $0 }
        c.close()
        XCTAssertEqual(result.map { if case .failure(let e) = $0 { return e.message } else { return "ok" } }, "the MCP server t was stopped")
        let t0 = EventLoop.monotonicSeconds()
        try runLoop(loop, until: "the server to be killed", seconds: 10) { !c.processAlive }
        XCTAssertLessThan(EventLoop.monotonicSeconds() - t0, 4)
    }

    func testRenderDescribesNonTextContent() {
        let r = MCPClient.render([
            "content": [
                ["type": "text", "text": "a"],
                ["type": "resource_link", "uri": "file:///x", "name": "x"],
                ["type": "resource", "resource": ["uri": "file:///y", "text": "inside"]],
                ["type": "audio", "data": "AAAA", "mimeType": "audio/wav"],
            ],
            "isError": true,
        ])
        XCTAssertEqual(r, MCPCallResult(text: "a\n[resource link: file:///x (x)]\n[resource file:///y]\ninside\n[audio: audio/wav, about 3 bytes; not shown]", isError: true))
        XCTAssertEqual(MCPClient.render(["content": [], "structuredContent": ["n": 1]]).text, "{\"n\":1}")
        XCTAssertEqual(MCPClient.render(["content": []]).text, "(no output)")
    }

    func testExposedNamesAndPermissions() {
        XCTAssertEqual(MCPTool.exposedName(server: "git", tool: "log"), "mcp__git__log")
        XCTAssertEqual(MCPTool.exposedName(server: "fs", tool: "read.file/v2"), "mcp__fs__read_file_v2")
        XCTAssertEqual(MCPTool.exposedName(server: "s", tool: String(repeating: "x", count: 100)).count, 64)

        let ask = PermissionPolicy(mode: .ask)
        let edits = PermissionPolicy(mode: .allowEdits)
        let yolo = PermissionPolicy(mode: .yolo)
        XCTAssertEqual(ask.decide("mcp__git__log"), .ask)
        XCTAssertEqual(edits.decide("mcp__git__log"), .ask)
        XCTAssertEqual(yolo.decide("mcp__git__log"), .allow)
        let listed = PermissionPolicy(mode: .yolo, allowTools: ["Read", "mcp__git__*", "mcp__fs__read"], denyTools: ["mcp__git__push"])
        XCTAssertTrue(listed.isAvailable("mcp__git__log"))
        XCTAssertFalse(listed.isAvailable("mcp__git__push"))
        XCTAssertTrue(listed.isAvailable("mcp__fs__read"))
        XCTAssertFalse(listed.isAvailable("mcp__fs__write"))
        XCTAssertFalse(listed.isAvailable("Bash"))
        XCTAssertEqual(PermissionPolicy(mode: .yolo, denyTools: ["mcp__fs__*"]).decide("mcp__fs__write"),
                       .deny("the mcp__fs__write tool is not allowed for this agent (allow_tools/deny_tools)"))
    }

    func testConfigFile() throws {
        let specs = try MCPConfigFile.parse(try JSONValue.parse("""
            {"mcpServers": {"git": {"command": "uvx", "args": ["mcp-server-git"], "env": {"A": "1"}, "cwd": "repo"},
                            "fs": {"command": ["node", "fs.js"], "timeout": 5}}}
            """), source: "m.json")
        XCTAssertEqual(specs, [MCPServerSpec(name: "fs", command: ["node", "fs.js"], timeout: 5),
                               MCPServerSpec(name: "git", command: ["uvx", "mcp-server-git"], env: ["A": "1"], cwd: "repo")])
        XCTAssertThrowsError(try MCPConfigFile.parse(try JSONValue.parse(#"{"mcpServers": {"x": {"type": "sse", "url": "http://h"}}}"#), source: "m.json")) {
            XCTAssertTrue("\($0)".contains("SUPERVISOR_CODER_MCP: m.json: server \"x\""), "\($0)")
        }
        XCTAssertThrowsError(try MCPConfigFile.parse(try JSONValue.parse(#"{"mcpServers": {"Bad__Name": {"command": "x"}}}"#), source: "m.json"))
    }
}
