import Foundation
import Profile
import XCTest
@testable import Hosting

final class AgentLaunchConfigTests: XCTestCase {
    /// A config written by an older supervisor lacks fields added since (here `stay`, `limit`
    /// and the llm's `maxRetries`): it still loads, with today's defaults for them.
    func testAConfigFromAnOlderVersionLoadsWithDefaults() throws {
        let dir = TempDir()
        defer { dir.remove() }
        var spec = AgentSpec(name: "g", kind: .goal, cwd: "/work")
        spec.goal = "serve"
        spec.llm.model = "m"
        let config = AgentLaunchConfig(profile: "p", agent: spec, stateDir: "/s", logsDir: "/l", settingsFile: nil)
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any])
        var agent = try XCTUnwrap(json["agent"] as? [String: Any])
        agent["stay"] = nil
        agent["limit"] = nil
        var llm = try XCTUnwrap(agent["llm"] as? [String: Any])
        llm["maxRetries"] = nil
        agent["llm"] = llm
        json["agent"] = agent
        let path = dir.file("agent.json")
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try JSONDecoder().decode(AgentLaunchConfig.self, from: Data(contentsOf: URL(fileURLWithPath: path))),
                             "the test must remove required fields")

        let loaded = try AgentLaunchConfig.read(path: path)
        XCTAssertEqual(loaded, config)
        XCTAssertEqual(loaded.agent.goal, "serve")
        XCTAssertEqual(loaded.agent.llm.model, "m")
    }

    func testSomethingThatIsNotAConfigStillFailsClearly() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = dir.file("agent.json")
        try Data(#"{"profile":"p","agent":{"name":"g"}}"#.utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try AgentLaunchConfig.read(path: path))
    }
}
