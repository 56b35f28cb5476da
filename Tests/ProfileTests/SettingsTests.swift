import XCTest
@testable import Profile

final class SettingsTests: XCTestCase {
    let profile: Profile = try! ProfileLoader.parse(text: """
        [llm]
        model = "gpt-4o-mini"
        [[agents]]
        name = "goal"
        kind = "goal"
        goal = "win"
        done_when = "true"
        [[agents]]
        name = "coder"
        kind = "coder"
        prompt = "hello"
        [[agents]]
        name = "exec"
        kind = "exec"
        [[agents]]
        name = "cmd"
        kind = "command"
        command = ["true"]
        """, path: "/p/s.toml")

    func agent(_ name: String) -> AgentSpec { profile.agent(named: name)! }

    func testSettableKeysCoverTheBrief() {
        for k in ["context_mode", "limit", "model", "temperature", "max_tokens", "permission", "block_timeout",
                  "restart", "debug", "time_budget", "done_when", "prompt", "goal", "stay"] {
            XCTAssertTrue(AgentSettings.settableKeys.contains(k), k)
        }
    }

    func testValuesAreParsedPerKeyType() throws {
        XCTAssertEqual(try AgentSettings.validate(key: "limit", value: "12", for: agent("goal")), .int(12))
        XCTAssertEqual(try AgentSettings.validate(key: "limit", value: "7", for: agent("exec")), .int(7))
        XCTAssertEqual(try AgentSettings.validate(key: "temperature", value: "0.7", for: agent("coder")), .double(0.7))
        XCTAssertEqual(try AgentSettings.validate(key: "context_mode", value: "full", for: agent("goal")), .string("full"))
        XCTAssertEqual(try AgentSettings.validate(key: "debug", value: "on", for: agent("cmd")), .bool(true))
        XCTAssertEqual(try AgentSettings.validate(key: "restart", value: "never", for: agent("cmd")), .string("never"))
        XCTAssertEqual(try AgentSettings.validate(key: "model", value: "gpt-4o", for: agent("exec")), .string("gpt-4o"))
        XCTAssertEqual(try AgentSettings.validate(key: "goal", value: "a; $(b)\n", for: agent("goal")), .string("a; $(b)\n"))
        XCTAssertEqual(try AgentSettings.validate(key: "done_when", value: "", for: agent("goal")), .string(""))
        XCTAssertEqual(try AgentSettings.validate(key: "stay", value: "yes", for: agent("goal")), .bool(true))
    }

    func assertRefused(_ key: String, _ value: String, _ agentName: String, says: [String],
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try AgentSettings.validate(key: key, value: value, for: agent(agentName)), file: file, line: line) { e in
            guard let se = e as? SettingError else { return XCTFail("not a SettingError: \(e)", file: file, line: line) }
            for s in says { XCTAssertTrue(se.description.contains(s), "\(se) lacks \(s)", file: file, line: line) }
        }
    }

    func testBadValuesAreRefused() {
        assertRefused("limit", "ten", "goal", says: [#"limit: expected an integer, found "ten""#])
        assertRefused("limit", "0", "goal", says: ["limit: must be at least 1"])
        assertRefused("temperature", "2.5", "coder", says: ["must be between 0 and 2"])
        assertRefused("temperature", "nan", "coder", says: ["expected a number"])
        assertRefused("context_mode", "fulll", "goal", says: [#"unknown value "fulll" (did you mean "full"?); expected one of: partial, full"#])
        assertRefused("permission", "root", "coder", says: ["expected one of: ask, allow-edits, yolo"])
        assertRefused("debug", "maybe", "cmd", says: ["expected true or false"])
        assertRefused("goal", "", "goal", says: ["goal: must not be empty"])
        assertRefused("block_timeout", "0", "exec", says: ["must be greater than 0"])
    }

    func testUnknownKeyGetsASuggestion() {
        assertRefused("modle", "x", "goal", says: [#"unknown setting "modle" (did you mean "model"?)"#, "settable keys: context_mode"])
    }

    func testKeyNotForThisKindIsRefused() {
        assertRefused("context_mode", "full", "coder", says: [#"setting "context_mode" does not apply to agent "coder" of kind "coder"; it applies to kind "goal""#])
        assertRefused("model", "m", "cmd", says: [#"of kind "command""#, #"kinds "coder", "goal", "exec""#])
        assertRefused("permission", "yolo", "exec", says: ["does not apply"])
        assertRefused("stay", "true", "coder", says: [#"setting "stay" does not apply"#, #"kind "goal""#])
    }

    func testApplyingOverrides() {
        let p = profile.applying([
            "goal": ["context_mode": .string("full"), "limit": .int(5), "model": .string("gpt-4o"),
                     "done_when": .string(""), "time_budget": .int(90), "goal": .string("new goal"), "stay": .bool(true)],
            "coder": ["temperature": .double(0.3), "max_tokens": .int(99), "permission": .string("yolo"), "prompt": .string("")],
            "exec": ["block_timeout": .double(5), "limit": .int(3)],
            "cmd": ["restart": .string("always"), "debug": .bool(true), "limit": .int(1)],
            "ghost": ["limit": .int(1)],
        ])
        let g = p.agent(named: "goal")!, c = p.agent(named: "coder")!, x = p.agent(named: "exec")!, m = p.agent(named: "cmd")!
        XCTAssertEqual(g.contextMode, .full)
        XCTAssertEqual(g.limit, 5)
        XCTAssertEqual(g.llm.model, "gpt-4o")
        XCTAssertNil(g.doneWhen)
        XCTAssertEqual(g.timeBudget, 90)
        XCTAssertEqual(g.goal, "new goal")
        XCTAssertTrue(g.stay)
        XCTAssertEqual(c.llm.temperature, 0.3)
        XCTAssertEqual(c.llm.maxTokens, 99)
        XCTAssertEqual(c.permission, .yolo)
        XCTAssertNil(c.prompt)
        XCTAssertEqual(c.llm.model, "gpt-4o-mini", "other agents keep the file's value")
        XCTAssertEqual(x.blockTimeout, 5)
        XCTAssertEqual(x.limit, 3)
        XCTAssertEqual(m.restart, .always)
        XCTAssertTrue(m.debug)
        XCTAssertEqual(m.limit, 30, "limit does not apply to command agents")
        XCTAssertEqual(profile.agent(named: "goal")!.limit, 30, "the original is unchanged")
    }

    func testSettingValuesRoundTripThroughJSON() throws {
        let values: [String: [String: SettingValue]] = ["a": ["x": .string("s"), "y": .int(1), "z": .double(0.5), "w": .bool(false)]]
        let data = try JSONEncoder().encode(values)
        XCTAssertEqual(try JSONDecoder().decode([String: [String: SettingValue]].self, from: data), values)
    }

    /// The dashboard's `c` key: back at the profile's own mode, settings.json keeps no override.
    func testCyclingContextModeBackToTheProfilesOwnRemovesTheOverride() throws {
        let first = try AgentSettings.cyclingContextMode(of: "goal", profile: profile, overrides: [:])
        XCTAssertEqual(first.mode, "full")
        XCTAssertFalse(first.isProfileOwn)
        XCTAssertEqual(first.overrides, ["goal": ["context_mode": .string("full")]])
        let back = try AgentSettings.cyclingContextMode(of: "goal", profile: profile, overrides: first.overrides)
        XCTAssertEqual(back.mode, "partial")
        XCTAssertTrue(back.isProfileOwn)
        XCTAssertEqual(back.overrides, [:], "no override left behind")
        // Other overrides of the agent stay.
        let kept = try AgentSettings.cyclingContextMode(of: "goal", profile: profile,
                                                         overrides: ["goal": ["context_mode": .string("full"), "limit": .int(5)]])
        XCTAssertEqual(kept.overrides, ["goal": ["limit": .int(5)]])
        XCTAssertThrowsError(try AgentSettings.cyclingContextMode(of: "nobody", profile: profile, overrides: [:]))
    }
}
