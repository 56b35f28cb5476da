import Foundation
import Hosting
import Profile
import XCTest
import _TestSupport
@testable import Agents

final class CoderSetupTests: XCTestCase {
    func config(_ dir: TemporaryDirectory, maxTokens: Int?, settings: String? = nil) throws -> AgentLaunchConfig {
        var spec = AgentSpec(name: "coder", kind: .coder, cwd: dir.path)
        spec.llm.provider = .script
        spec.llm.script = dir.write("s.script", "--- turn\nhi\n")
        if let maxTokens { spec.llm.maxTokens = maxTokens }
        var settingsFile: String?
        if let settings { settingsFile = dir.write("settings.json", settings) }
        return AgentLaunchConfig(profile: "p", agent: spec, stateDir: dir.file("state"), logsDir: dir.file("logs"),
                                 settingsFile: settingsFile)
    }

    func resolve(_ config: AgentLaunchConfig) throws -> CoderSetup {
        var flags = CoderSetup.Flags()
        flags.config = config
        return try CoderSetup.resolve(flags: flags, environment: [:], currentDirectory: "/")
    }

    /// A profile without max_tokens gives the coder 8192 (the generic default is 4096), at
    /// start and in the live settings each request reads; a profile's own value is kept.
    func testDefaultMaxTokensIs8192UnlessTheProfileSetsIt() throws {
        let dir = TemporaryDirectory(prefix: "csetup")
        let unset = try resolve(try config(dir, maxTokens: nil))
        XCTAssertEqual(unset.spec.llm.maxTokens, 8192)
        XCTAssertEqual(unset.live.llm.maxTokens, 8192)

        let set = try resolve(try config(dir, maxTokens: 2048))
        XCTAssertEqual(set.spec.llm.maxTokens, 2048)
        XCTAssertEqual(set.live.llm.maxTokens, 2048)

        // `supervisor set coder max_tokens=1000` applies live.
        let live = try resolve(try config(dir, maxTokens: nil, settings: #"{"coder": {"max_tokens": 1000, "context_tokens": 9000}}"#))
        XCTAssertEqual(live.live.llm.maxTokens, 1000)
        XCTAssertEqual(live.live.llm.effectiveContextTokens, 9000)

        // Outside a profile: SUPERVISOR_CODER_MAX_TOKENS, else 8192; nothing to re-read.
        let env = try CoderSetup.resolve(flags: CoderSetup.Flags(), environment: ["SUPERVISOR_CODER_SCRIPT": dir.file("s.script")],
                                         currentDirectory: dir.path)
        XCTAssertEqual(env.spec.llm.maxTokens, 8192)
        XCTAssertEqual(env.live.llm.maxTokens, 8192)
        XCTAssertNil(env.spec.llm.contextTokens)
    }

    func testContextTokensFromTheEnvironment() throws {
        let dir = TemporaryDirectory(prefix: "csetup")
        let script = dir.write("s.script", "--- turn\nhi\n")
        let setup = try CoderSetup.resolve(flags: CoderSetup.Flags(), environment: ["SUPERVISOR_CODER_SCRIPT": script,
                                                                                  "SUPERVISOR_CODER_CONTEXT_TOKENS": "32768"],
                                           currentDirectory: dir.path)
        XCTAssertEqual(setup.spec.llm.contextTokens, 32768)
        XCTAssertThrowsError(try CoderSetup.resolve(flags: CoderSetup.Flags(), environment: ["SUPERVISOR_CODER_SCRIPT": script,
                                                                                           "SUPERVISOR_CODER_CONTEXT_TOKENS": "big"],
                                                    currentDirectory: dir.path)) { e in
            XCTAssertTrue("\(e)".contains("SUPERVISOR_CODER_CONTEXT_TOKENS=big"), "\(e)")
        }
    }
}
