import Foundation
import XCTest
@testable import Profile

/// `[[agents.mcp]]` tables of a coder agent and MCP names in allow_tools/deny_tools.
final class MCPProfileTests: XCTestCase {
    let coder = """
    [llm]
    provider = "script"
    script = "s.script"
    [[agents]]
    name = "c"
    kind = "coder"

    """

    func testServersAreRead() throws {
        let p = try ProfileLoader.parse(text: coder + """
            allow_tools = ["Read", "mcp__files__*", "mcp__git__log"]
            deny_tools = ["mcp__files__delete"]
            [[agents.mcp]]
            name = "files"
            command = ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/workspace"]
            [[agents.mcp]]
            name = "git"
            command = ["uvx", "mcp-server-git"]
            cwd = "repo"
            timeout = 5
            env = { GIT_PAGER = "cat" }
            """, path: "/p/x.toml")
        let a = try XCTUnwrap(p.agents.first)
        XCTAssertEqual(a.mcp, [
            MCPServerSpec(name: "files", command: ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/workspace"]),
            MCPServerSpec(name: "git", command: ["uvx", "mcp-server-git"], env: ["GIT_PAGER": "cat"], cwd: "repo", timeout: 5),
        ])
        XCTAssertEqual(a.allowTools, ["Read", "mcp__files__*", "mcp__git__log"])
        XCTAssertEqual(a.denyTools, ["mcp__files__delete"])
        // Survives the launch config's JSON.
        let back = try JSONDecoder().decode(AgentSpec.self, from: JSONEncoder().encode(a))
        XCTAssertEqual(back, a)
    }

    func testErrorsPointAtTheValue() {
        let cases: [(String, String, String)] = [
            ("[[agents.mcp]]\nname = \"s\"\ncommand = \"npx server\"\n", "9:11", "expected an array of strings (program and arguments, no shell), found a string"),
            ("[[agents.mcp]]\nname = \"s\"\n", "7:1", "agents[0].mcp[0].command: missing required key \"command\""),
            ("[[agents.mcp]]\nname = \"a__b\"\ncommand = [\"x\"]\n", "8:8", "invalid MCP server name \"a__b\""),
            ("[[agents.mcp]]\nname = \"s\"\ncommand = [\"x\"]\nargs = [\"y\"]\n", "10:1", "unknown key \"args\""),
            ("[[agents.mcp]]\nname = \"s\"\ncommand = [\"x\"]\n[[agents.mcp]]\nname = \"s\"\ncommand = [\"y\"]\n", "11:8", "duplicate MCP server name \"s\" (first used on line 8)"),
            ("allow_tools = [\"mcp__nope__x\"]\n[[agents.mcp]]\nname = \"s\"\ncommand = [\"x\"]\n", "7:16", "names the MCP server \"nope\", which this agent does not have (its servers: \"s\")"),
            ("deny_tools = [\"mcp__s\"]\n", "7:15", "is not an MCP tool name"),
            ("allow_tools = [\"Bsh\"]\n", "7:16", "unknown tool \"Bsh\""),
            ("[agents.mcp]\nname = \"s\"\n", "7:1", "expected an array of tables ([[agents.mcp]])"),
            ("[[agents.mcp]]\nname = \"s\"\ncommand = [\"x\"]\ntimeout = 0\n", "10:11", "timeout"),
        ]
        for (extra, at, says) in cases {
            XCTAssertThrowsError(try ProfileLoader.parse(text: coder + extra, path: "/p/x.toml"), extra) { error in
                guard let e = error as? ProfileError else { return XCTFail("\(error)") }
                XCTAssertTrue(e.description.contains(says), "\(extra): \(e.description)")
                XCTAssertEqual("\(e.line):\(e.column)", at, "\(extra): \(e.description)")
            }
        }
    }

    func testMCPIsOnlyForTheCoder() {
        XCTAssertThrowsError(try ProfileLoader.parse(text: """
            [[agents]]
            name = "g"
            kind = "command"
            command = ["true"]
            [[agents.mcp]]
            name = "s"
            command = ["x"]
            """, path: "/p/x.toml")) { error in
            XCTAssertTrue("\(error)".contains("key \"mcp\" does not apply to kind \"command\""), "\(error)")
        }
    }

    /// The `[[agents.mcp]]` example in profiles/README.md must stay valid.
    func testReadmeExampleValidates() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("profiles/README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let start = try XCTUnwrap(text.range(of: "~~~toml\n"))
        let end = try XCTUnwrap(text.range(of: "\n~~~", range: start.upperBound..<text.endIndex))
        let p = try ProfileLoader.parse(text: "[llm]\nprovider = \"openai\"\nmodel = \"m\"\n" + text[start.upperBound..<end.lowerBound],
                                        path: "/r/x.toml")
        XCTAssertEqual(p.agents.first?.mcp.map(\.name), ["git", "fs"])
        XCTAssertEqual(p.agents.first?.allowTools, ["Read", "Edit", "Bash", "mcp__git__*"])
    }

    func testToolPatternServerName() {
        XCTAssertEqual(MCPServerSpec.serverName(ofToolPattern: "mcp__git__log"), "git")
        XCTAssertEqual(MCPServerSpec.serverName(ofToolPattern: "mcp__git__*"), "git")
        XCTAssertEqual(MCPServerSpec.serverName(ofToolPattern: "mcp__a-b__x__y"), "a-b")
        XCTAssertNil(MCPServerSpec.serverName(ofToolPattern: "mcp__git"))
        XCTAssertNil(MCPServerSpec.serverName(ofToolPattern: "mcp____x"))
        XCTAssertNil(MCPServerSpec.serverName(ofToolPattern: "Bash"))
    }
}
