import XCTest
@testable import Profile

/// One row per error class: the text, where the error must point, and what the message must say.
struct ErrorCase {
    let name: String
    let text: String
    let at: String          // "line:column"
    let says: [String]
    var path: String = "/p/test.toml"
    var saysNot: [String] = []
}

let commandAgent = """
[[agents]]
name = "a"
kind = "command"
command = ["true"]
"""

final class ValidationErrorTests: XCTestCase {
    static let cases: [ErrorCase] = [
        ErrorCase(name: "unknown top-level key", text: "nmae = \"x\"\n" + commandAgent,
                  at: "1:1", says: [#"nmae: unknown key "nmae" (did you mean "name"?)"#]),
        ErrorCase(name: "unknown agent key", text: commandAgent + "\nrestrat = \"never\"\n",
                  at: "5:1", says: [#"agents[0].restrat: unknown key "restrat" (did you mean "restart"?)"#]),
        // A misspelt required key is reported as the unknown key it is, at its own position,
        // not as the missing key at the table's header.
        ErrorCase(name: "misspelt required key", text: "[[agents]]\nname = \"a\"\nkind = \"command\"\ncomand = [\"true\"]\n",
                  at: "4:1", says: [#"agents[0].comand: unknown key "comand" (did you mean "command"?)"#]),
        ErrorCase(name: "misspelt goal", text: "[[agents]]\nname = \"a\"\nkind = \"goal\"\ngaol = \"x\"\n[agents.llm]\nprovider = \"script\"\nscript = \"s\"\n",
                  at: "4:1", says: [#"agents[0].gaol: unknown key "gaol" (did you mean "goal"?)"#]),
        ErrorCase(name: "misspelt agent name", text: "[[agents]]\nnaem = \"a\"\nkind = \"command\"\ncommand = [\"true\"]\n",
                  at: "2:1", says: [#"agents[0].naem: unknown key "naem" (did you mean "name"?)"#]),
        ErrorCase(name: "unknown key, nothing close: lists valid keys", text: "[logs]\nsize = 1\n" + commandAgent,
                  at: "2:1", says: [#"logs.size: unknown key "size"; expected one of: dir, max_bytes, keep"#]),
        ErrorCase(name: "notify command is not an array", text: "[notify]\ncommand = \"notify.sh\"\n" + commandAgent,
                  at: "2:11", says: ["notify.command"]),
        ErrorCase(name: "unknown notify reason", text: "[notify]\non = [\"failed\", \"finishd\"]\n" + commandAgent,
                  at: "2:17", says: [#"notify.on[1]: unknown reason "finishd" (did you mean "finished"?)"#, "expected some of: waiting_for_input, permission"]),
        ErrorCase(name: "unknown notify key", text: "[notify]\nbel = false\n" + commandAgent,
                  at: "2:1", says: [#"notify.bel: unknown key "bel" (did you mean "bell"?)"#]),
        ErrorCase(name: "model setting at agent level", text: commandAgent + "\nmodel = \"gpt-4o\"\n",
                  at: "5:1", says: [#"agents[0].model: unknown key "model"; model settings go in [agents.llm]"#]),
        ErrorCase(name: "wrong type", text: "[llm]\nmax_tokens = \"100\"\n" + commandAgent,
                  at: "2:14", says: ["llm.max_tokens: expected an integer, found a string"]),
        ErrorCase(name: "wrong type of a table", text: "llm = \"gpt-4o\"\n" + commandAgent,
                  at: "1:7", says: ["llm: expected a table, found a string"]),
        ErrorCase(name: "bad enum value", text: "[llm]\nprovider = \"opnai\"\n" + commandAgent,
                  at: "2:12", says: [#"llm.provider: unknown provider "opnai" (did you mean "openai"?); expected one of: anthropic, openai, openai-compatible, script"#]),
        ErrorCase(name: "bad restart policy", text: commandAgent + "\nrestart = \"sometimes\"\n",
                  at: "5:11", says: [#"agents[0].restart: unknown restart policy "sometimes"; expected one of: never, on-failure, always"#]),
        ErrorCase(name: "out of range float", text: "[llm]\ntemperature = 3\n" + commandAgent,
                  at: "2:15", says: ["llm.temperature: must be between 0 and 2, found 3"]),
        ErrorCase(name: "out of range int", text: "[logs]\nmax_bytes = 100\n" + commandAgent,
                  at: "2:13", says: ["logs.max_bytes: must be at least 4096, found 100"]),
        ErrorCase(name: "negative timeout", text: commandAgent + "\nstop_timeout = -1\n",
                  at: "5:16", says: ["agents[0].stop_timeout: must be a number of seconds greater than 0 and at most 2592000 (30 days), found -1"]),
        // Numbers that passed once and crashed the shim or `down` later (a timer of 1e17 s).
        ErrorCase(name: "huge backoff", text: commandAgent + "\nbackoff_initial = 1e17\n",
                  at: "5:19", says: ["agents[0].backoff_initial: must be a number of seconds greater than 0 and at most 2592000 (30 days), found 1e+17"]),
        ErrorCase(name: "huge stop timeout", text: commandAgent + "\nstop_timeout = 1e308\n",
                  at: "5:16", says: ["agents[0].stop_timeout: must be a number of seconds"]),
        ErrorCase(name: "huge restart count", text: commandAgent + "\nmax_restarts = 10000000000\n",
                  at: "5:16", says: ["agents[0].max_restarts: must be between 0 and 1000000"]),
        ErrorCase(name: "backoff_max below backoff_initial", text: commandAgent + "\nbackoff_initial = 5\nbackoff_max = 2\n",
                  at: "6:15", says: ["agents[0].backoff_max: must be at least backoff_initial (5), found 2"]),
        ErrorCase(name: "duplicate agent name", text: commandAgent + "\n\n" + commandAgent,
                  at: "7:8", says: [#"agents[1].name: duplicate agent name "a" (first used on line 2)"#]),
        ErrorCase(name: "invalid agent name", text: commandAgent.replacingOccurrences(of: "\"a\"", with: "\"Bad Name\""),
                  at: "2:8", says: [#"agents[0].name: invalid agent name "Bad Name""#, "a-z, 0-9"]),
        ErrorCase(name: "agent name too long", text: commandAgent.replacingOccurrences(of: "\"a\"", with: "\"" + String(repeating: "x", count: 33) + "\""),
                  at: "2:8", says: ["agents[0].name: invalid agent name", "1-32 characters"]),
        ErrorCase(name: "hostile agent name stays one line", text: commandAgent.replacingOccurrences(of: "\"a\"", with: #""a; rm -rf / $(x)\n\"q\"""#),
                  at: "2:8", says: [#"invalid agent name "a; rm -rf / $(x)\n\"q\"""#], saysNot: ["\n"]),
        ErrorCase(name: "missing required key points at the header", text: "name = \"p\"\n\n[[agents]]\nname = \"a\"\ncommand = [\"true\"]\n",
                  at: "3:1", says: [#"agents[0].kind: missing required key "kind""#]),
        ErrorCase(name: "missing agent name", text: "[[agents]]\nkind = \"command\"\ncommand = [\"x\"]\n",
                  at: "1:1", says: [#"agents[0].name: missing required key "name""#]),
        ErrorCase(name: "unknown kind", text: commandAgent + "\n" + commandAgent.replacingOccurrences(of: "\"a\"", with: "\"b\"")
                    + "\n[[agents]]\nname = \"c\"\nkind = \"coderr\"\n",
                  at: "11:8", says: [#"agents[2].kind: unknown kind "coderr" (did you mean "coder"?); expected one of: coder, goal, exec, command"#]),
        ErrorCase(name: "key not for this kind", text: commandAgent + "\ngoal = \"win\"\n",
                  at: "5:1", says: [#"agents[0].goal: key "goal" does not apply to kind "command"; it applies to kind "goal""#]),
        ErrorCase(name: "stay is for goal agents", text: commandAgent + "\nstay = true\n",
                  at: "5:1", says: [#"agents[0].stay: key "stay" does not apply to kind "command"; it applies to kind "goal""#]),
        ErrorCase(name: "stay must be a boolean", text: "[llm]\nmodel = \"m\"\n[[agents]]\nname = \"g\"\nkind = \"goal\"\ngoal = \"g\"\nstay = \"yes\"\n",
                  at: "7:8", says: ["agents[0].stay: expected a boolean (true or false), found a string"]),
        ErrorCase(name: "key for several kinds", text: commandAgent + "\nprompt = \"hi\"\n",
                  at: "5:1", says: [#"it applies to kinds "coder", "exec""#]),
        ErrorCase(name: "missing kind-specific key", text: "[[agents]]\nname = \"a\"\nkind = \"command\"\n",
                  at: "1:1", says: [#"agents[0].command: missing required key "command""#]),
        ErrorCase(name: "missing goal", text: "[llm]\nmodel = \"m\"\n[[agents]]\nname = \"g\"\nkind = \"goal\"\n",
                  at: "3:1", says: [#"agents[0].goal: missing required key "goal""#]),
        ErrorCase(name: "empty command", text: "[[agents]]\nname = \"a\"\nkind = \"command\"\ncommand = []\n",
                  at: "4:11", says: ["agents[0].command: must not be empty"]),
        ErrorCase(name: "array element of the wrong type", text: "[[agents]]\nname = \"a\"\nkind = \"command\"\ncommand = [\"sh\",\n  1]\n",
                  at: "5:3", says: ["agents[0].command[1]: expected a string, found an integer"]),
        ErrorCase(name: "nested agent table of the wrong type",
                  text: "[llm]\nmodel = \"m\"\n[[agents]]\nname = \"a\"\nkind = \"goal\"\ngoal = \"g\"\n[[agents]]\nname = \"b\"\nkind = \"goal\"\ngoal = \"g\"\n[agents.llm]\nmax_tokens = 1.5\n",
                  at: "12:14", says: ["agents[1].llm.max_tokens: expected an integer, found a floating-point number"]),
        ErrorCase(name: "dotted key inside an agent", text: commandAgent + "\nbackend.type = \"vm\"\n",
                  at: "5:16", says: [#"agents[0].backend.type: unknown backend type "vm"; expected one of: local, docker"#]),
        ErrorCase(name: "no agents", text: "name = \"p\"\n",
                  at: "1:1", says: ["agents: at least one agent is required"]),
        ErrorCase(name: "agents as a plain table", text: "[agents]\nname = \"a\"\n",
                  at: "1:1", says: ["agents: expected an array of tables ([[agents]]), found a table"]),
        ErrorCase(name: "invalid name taken from the file name", text: commandAgent,
                  at: "1:1", says: [#"the profile name "My Profile" taken from the file name is invalid"#, "set name ="],
                  path: "/p/My Profile.toml"),
        ErrorCase(name: "invalid profile name", text: "name = \"UP\"\n" + commandAgent,
                  at: "1:8", says: [#"name: invalid profile name "UP""#]),
        ErrorCase(name: "docker without image", text: "[backend]\ntype = \"docker\"\n" + commandAgent,
                  at: "2:1", says: [#"backend.image: missing required key: backend type "docker" needs an image"#]),
        ErrorCase(name: "script provider without script", text: "[llm]\nprovider = \"script\"\n[[agents]]\nname = \"a\"\nkind = \"goal\"\ngoal = \"g\"\n",
                  at: "2:1", says: [#"llm.script: missing required key: provider "script" needs script"#]),
        ErrorCase(name: "model missing for an LLM agent", text: "[[agents]]\nname = \"a\"\nkind = \"goal\"\ngoal = \"g\"\n",
                  at: "1:1", says: ["agents[0].llm.model: missing required key", "kind \"goal\" calls a model"]),
        ErrorCase(name: "completions endpoint needs openai-compatible",
                  text: "[llm]\nmodel = \"m\"\n[[agents]]\nname = \"a\"\nkind = \"goal\"\ngoal = \"g\"\n[agents.llm]\nendpoint = \"completions\"\n",
                  at: "8:12", says: [#"agents[0].llm.endpoint: endpoint "completions" needs provider "openai-compatible" (provider is "openai")"#]),
        ErrorCase(name: "api key in place of its variable name is not echoed",
                  text: "[llm]\napi_key_env = \"sk-secret-123\"\n" + commandAgent,
                  at: "2:15", says: ["llm.api_key_env: must be the NAME of an environment variable"], saysNot: ["sk-secret-123"]),
        ErrorCase(name: "env key that is not a variable name", text: commandAgent + "\n[agents.env]\nOK = \"1\"\n\"BAD-NAME\" = \"x\"\n",
                  at: "7:1", says: [#"agents[0].env.BAD-NAME: "BAD-NAME" is not a variable name"#]),
        ErrorCase(name: "unknown tool", text: "[llm]\nmodel = \"m\"\n[[agents]]\nname = \"c\"\nkind = \"coder\"\nallow_tools = [\"Bash\", \"raed\"]\n",
                  at: "6:24", says: [#"agents[0].allow_tools[1]: unknown tool "raed" (did you mean "Read"?); expected one of: Bash, Read, Write, Edit, Glob, Grep, WebFetch"#]),
        ErrorCase(name: "bad mount", text: "[backend]\nmounts = [\"./data:/data:ro\", \"nocolon\"]\n" + commandAgent,
                  at: "2:30", says: [#"backend.mounts[1]: "nocolon" is not a mount"#]),
        ErrorCase(name: "price entry without output", text: "[llm.prices.\"gpt-4.1\"]\ninput = 2\n" + commandAgent,
                  at: "1:1", says: [#"llm.prices."gpt-4.1".output: missing required key "output""#]),
        ErrorCase(name: "inline table key", text: "llm = { model = \"m\", max_retries = -2 }\n" + commandAgent,
                  at: "1:36", says: ["llm.max_retries: must be between 0 and 1000000, found -2"]),
        ErrorCase(name: "first error in file order wins over validation order",
                  text: commandAgent + "\nbogus = 1\n[llm]\ntemperature = 9\n",
                  at: "5:1", says: [#"agents[0].bogus: unknown key "bogus""#]),
        ErrorCase(name: "first error in file order wins (reversed)",
                  text: "[llm]\ntemperature = 9\n" + commandAgent + "\nbogus = 1\n",
                  at: "2:15", says: ["llm.temperature: must be between 0 and 2, found 9"]),
        ErrorCase(name: "bad size", text: "[backend]\nmemory = \"lots\"\n" + commandAgent,
                  at: "2:10", says: [#"backend.memory: "lots" is not a size"#]),
        ErrorCase(name: "option-like image is refused", text: "[backend]\nimage = \"--privileged\"\n" + commandAgent,
                  at: "2:9", says: [#"backend.image: "--privileged" is not an image reference"#]),
    ]

    func testEveryErrorClassPointsAtTheRightPlace() {
        for c in Self.cases {
            do {
                let p = try ProfileLoader.parse(text: c.text, path: c.path)
                XCTFail("\(c.name): expected an error, got profile with \(p.agents.count) agents")
            } catch let e as ProfileError {
                XCTAssertEqual("\(e.line):\(e.column)", c.at, "\(c.name): \(e)")
                XCTAssertEqual(e.file, c.path, c.name)
                for s in c.says { XCTAssertTrue(e.message.contains(s), "\(c.name): message \(Text.quote(e.message, limit: 500)) lacks \(s)") }
                for s in c.saysNot { XCTAssertFalse(e.description.contains(s), "\(c.name): message must not contain \(Text.quote(s))") }
                XCTAssertTrue(e.description.hasPrefix("\(c.path):\(c.at): "), "\(c.name): \(e.description)")
            } catch {
                XCTFail("\(c.name): unexpected error type \(error)")
            }
        }
    }

    func testSyntaxErrorsCarryTomlPositions() {
        do {
            _ = try ProfileLoader.parse(text: "a = 1\nb = = 2\n", path: "x.toml")
            XCTFail("expected a syntax error")
        } catch let e as ProfileError {
            XCTAssertEqual(e.file, "x.toml")
            XCTAssertEqual(e.line, 2)
            XCTAssertEqual(e.column, 5)
            XCTAssertFalse(e.message.isEmpty)
            XCTAssertTrue(e.description.hasPrefix("x.toml:2:5: "), e.description)
        } catch { XCTFail("\(error)") }
    }

    func testNULIsRefusedWithItsPosition() {
        XCTAssertThrowsError(try ProfileLoader.parse(text: "a = 1\nb = \"x\u{0}\"\n" + commandAgent, path: "n.toml")) { e in
            XCTAssertEqual("\(e)", "n.toml:2:7: NUL character in profile text")
        }
    }

    func testDuplicateKeyIsASyntaxError() {
        XCTAssertThrowsError(try ProfileLoader.parse(text: "name = \"a\"\nname = \"b\"\n", path: "d.toml")) { e in
            XCTAssertEqual((e as? ProfileError)?.line, 2, "\(e)")
        }
    }

    func testUnreadableFilesNameTheFileAndTheReason() {
        let missing = "/nonexistent-dir-\(UInt32.random(in: 0...UInt32.max))/p.toml"
        XCTAssertThrowsError(try ProfileLoader.load(path: missing)) { e in
            let pe = e as? ProfileError
            XCTAssertEqual(pe?.line, 0)
            XCTAssertEqual(pe?.file, missing)
            XCTAssertTrue(pe?.message.contains(missing) ?? false, "\(e)")
            XCTAssertTrue(pe?.message.contains("No such file or directory") ?? false, "\(e)")
        }
        XCTAssertThrowsError(try ProfileLoader.load(path: NSTemporaryDirectory())) { e in
            XCTAssertTrue("\(e)".contains("Is a directory"), "\(e)")
        }
    }
}
