import Foundation
import Glibc
import LLM
import Loop
import Profile
import XCTest
import _TestSupport
@testable import Agents

/// The coder with MCP servers (the python test server) and on the Docker backend.
final class CoderMCPTests: XCTestCase {
    override func setUpWithError() throws {
        guard resolveExecutable("python3", path: ProcessInfo.processInfo.environment["PATH"]) != nil else {
            throw XCTSkip("SKIP coder MCP tests: python3 is not installed")
        }
    }

    func serverSpec(_ h: CoderHarness, name: String = "t") -> MCPServerSpec {
        MCPServerSpec(name: name, command: ["python3", "-u", MCPTestServer.write(into: h.state.path)], timeout: 10)
    }

    func testModelCallsAnMCPToolAndTheResultReachesTheNextRequest() throws {
        let h = try CoderHarness()
        h.server.enqueue(FakeReply(items: [.text("Adding."), toolCall("m1", "mcp__t__add", ["a": 40, "b": 2])]))
        h.server.enqueue(FakeReply(items: [toolCall("m2", "mcp__t__fail", [:])]))
        h.server.enqueue(.text("The sum is 42."))
        try h.makeAgent(prompt: "add 40 and 2", permission: .yolo, mcp: [serverSpec(h)])
        XCTAssertEqual(try h.run(), 0)
        XCTAssertEqual(h.server.requests.count, 3)
        // The tools are offered with their schema, after the built-in ones.
        let tools = h.server.requests[0].json?["tools"]?.arrayValue ?? []
        let names = tools.compactMap { $0["name"]?.stringValue }
        XCTAssertEqual(Array(names.prefix(7)), ["Bash", "Read", "Write", "Edit", "Glob", "Grep", "WebFetch"])
        XCTAssertEqual(Array(names.dropFirst(7)), ["mcp__t__echo", "mcp__t__add", "mcp__t__fail", "mcp__t__crash", "mcp__t__hang",
                                                  "mcp__t__garbage", "mcp__t__ping_me", "mcp__t__whereami"])
        let add = tools.first { $0["name"]?.stringValue == "mcp__t__add" }
        XCTAssertEqual(add?["description"]?.stringValue, "[MCP server t] Adds two numbers")
        XCTAssertEqual(add?["input_schema"]?["required"], ["a", "b"])
        XCTAssertEqual(h.toolResults(1)["m1"]?.content, "42")
        XCTAssertEqual(h.toolResults(1)["m1"]?.isError, false)
        XCTAssertEqual(h.toolResults(2)["m2"]?.content, "it went wrong")
        XCTAssertEqual(h.toolResults(2)["m2"]?.isError, true)
        XCTAssertTrue(h.ui.transcript.contains("tool: mcp__t__add({\"a\":40,\"b\":2})"), "\(h.ui.transcript)")
    }

    func testMCPToolsAskInAllowEditsModeAndFollowTheLists() throws {
        let h = try CoderHarness()
        h.server.enqueue(FakeReply(items: [toolCall("m1", "mcp__t__add", ["a": 1, "b": 2]), toolCall("m2", "mcp__t__echo", ["text": "x"])]))
        h.server.enqueue(.text("done"))
        h.ui.answers = [.no]
        try h.makeAgent(prompt: "go", permission: .allowEdits, deny: ["mcp__t__echo"], mcp: [serverSpec(h)])
        XCTAssertEqual(try h.run(), 0)
        XCTAssertEqual(h.ui.asked, ["mcp__t__add"])
        XCTAssertFalse(h.toolNames(0).contains("mcp__t__echo"))
        XCTAssertTrue(h.toolNames(0).contains("mcp__t__crash"))
        XCTAssertEqual(h.toolResults(1)["m1"]?.isError, true)
        XCTAssertTrue(h.toolResults(1)["m1"]?.content.contains("did not allow") ?? false)
        XCTAssertTrue(h.toolResults(1)["m2"]?.content.contains("not allowed for this agent") ?? false)
    }

    func testAServerThatCrashesIsAToolErrorThenRestarts() throws {
        let h = try CoderHarness()
        h.server.enqueue(FakeReply(items: [toolCall("m1", "mcp__t__crash", [:])]))
        h.server.enqueue(FakeReply(items: [toolCall("m2", "mcp__t__add", ["a": 1, "b": 2])]))
        h.server.enqueue(.text("It crashed."))
        try h.makeAgent(prompt: "go", mcp: [serverSpec(h), MCPServerSpec(name: "broken", command: ["/nonexistent/server"])])
        XCTAssertEqual(try h.run(), 0)
        XCTAssertTrue(h.ui.transcript.contains { $0.hasPrefix("error: MCP server broken is not available: cannot start") }, "\(h.ui.transcript)")
        XCTAssertTrue(h.toolResults(1)["m1"]?.content.hasPrefix("the MCP server t exited (exit 3)") ?? false, "\(h.toolResults(1))")
        XCTAssertTrue(h.toolResults(1)["m1"]?.content.contains("crashing now") ?? false)
        // The next call starts the server again, and the person sees that it did.
        XCTAssertEqual(h.toolResults(2)["m2"]?.isError, false)
        XCTAssertEqual(h.toolResults(2)["m2"]?.content, "3")
        XCTAssertTrue(h.ui.transcript.contains { $0.contains("restarting the MCP server t (the MCP server t exited (exit 3)") }, "\(h.ui.transcript)")
    }

    // MARK: Docker backend

    func testWriteOnTheHostSideThenCatInTheContainer() throws {
        let fixture = try DockerBoxFixture(self)
        let h = try CoderHarness()
        let script = MCPTestServer.write(into: fixture.workspace.path)
        h.server.enqueue(FakeReply(items: [toolCall("w1", "Write", ["file_path": "/workspace/notes/hello.txt", "content": "hi from the coder\n"])]))
        h.server.enqueue(FakeReply(items: [toolCall("b1", "Bash", ["command": "cat /workspace/notes/hello.txt; hostname; pwd"])]))
        h.server.enqueue(FakeReply(items: [toolCall("r1", "Read", ["file_path": "/etc/hostname"]),
                                           toolCall("g1", "Glob", ["pattern": "/workspace/**/*.txt"])]))
        h.server.enqueue(FakeReply(items: [toolCall("m1", "mcp__box__whereami", [:])]))
        h.server.enqueue(.text("Wrote and checked it."))
        try h.makeAgent(prompt: "write hello", permission: .yolo,
                        mcp: [MCPServerSpec(name: "box", command: ["python3", "-u", "/workspace/" + Files.basename(script)], timeout: 30)],
                        box: fixture.box)
        XCTAssertEqual(try h.run(seconds: 90), 0)
        // Write worked on the host side of the bind mount.
        XCTAssertEqual(try String(contentsOfFile: fixture.workspace.file("notes/hello.txt"), encoding: .utf8), "hi from the coder\n")
        XCTAssertEqual(h.toolResults(1)["w1"]?.content, "Created notes/hello.txt (18 bytes, 1 line)")
        // Bash ran inside the container and saw the file.
        XCTAssertEqual(h.toolResults(2)["b1"]?.content.contains("hi from the coder\n\(fixture.container)\n/workspace"), true, "\(h.toolResults(2))")
        // A container path outside the workspace is refused by name, a box path inside is found.
        XCTAssertEqual(h.toolResults(3)["r1"]?.isError, true)
        XCTAssertEqual(h.toolResults(3)["r1"]?.content, "/etc/hostname is outside the workspace /workspace (file tools only work inside it)")
        XCTAssertEqual(h.toolResults(3)["g1"]?.content, "notes/hello.txt")
        // The MCP server ran in the container too.
        XCTAssertEqual(h.toolResults(4)["m1"]?.content, "\(fixture.container) /workspace")
    }

    func testWorkspaceTranslatesBoxPaths() throws {
        let dir = TemporaryDirectory(prefix: "wsmap")
        let ws = Workspace(path: dir.path, shownAs: "/workspace")
        let root = ws.root
        XCTAssertEqual(try ws.resolve("/workspace/a/b.txt"), root + "/a/b.txt")
        XCTAssertEqual(try ws.resolve("/workspace"), root)
        XCTAssertEqual(try ws.resolve("a.txt"), root + "/a.txt")
        XCTAssertThrowsError(try ws.resolve("/workspace/../etc/passwd")) {
            XCTAssertEqual("\($0)", "/workspace/../etc/passwd is outside the workspace /workspace (file tools only work inside it)")
        }
        XCTAssertThrowsError(try ws.resolve("/workspacex/a"))
        XCTAssertEqual(ws.shownPath(root + "/src/x.py"), "/workspace/src/x.py")
        XCTAssertEqual(ws.hostPath("/workspace/src"), dir.path + "/src")
        XCTAssertEqual(ws.hostPath("/elsewhere"), "/elsewhere")
        // A symlink out of the workspace does not name the host path.
        symlink("/etc", dir.file("out"))
        XCTAssertThrowsError(try ws.resolve("/workspace/out/passwd")) {
            XCTAssertEqual("\($0)", "/workspace/out/passwd leads outside the workspace /workspace through a symbolic link (resolves to a path outside the workspace on the host)")
        }
    }
}
