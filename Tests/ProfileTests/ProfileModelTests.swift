import XCTest
@testable import Profile

final class ProfileModelTests: XCTestCase {
    func parse(_ text: String, path: String = "/home/u/proj/profiles/team.toml") throws -> Profile {
        try ProfileLoader.parse(text: text, path: path)
    }

    func testNotifySection() throws {
        XCTAssertNil(try parse(commandAgent).notify)
        let p = try parse("[notify]\ncommand = [\"notify.sh\", \"--json\"]\nnotify_send = true\nbell = false\nmin_interval = 5\n" + commandAgent)
        XCTAssertEqual(p.notify, NotifyConfig(command: ["notify.sh", "--json"], notifySend: true, bell: false, minInterval: 5))
        XCTAssertEqual(try parse("[notify]\non = [\"failed\", \"finished\"]\n" + commandAgent).notify?.on, ["failed", "finished"])
    }

    func testDefaults() throws {
        let p = try parse(commandAgent)
        XCTAssertEqual(p.name, "team")
        XCTAssertEqual(p.sourcePath, "/home/u/proj/profiles/team.toml")
        XCTAssertEqual(p.directory, "/home/u/proj/profiles")
        XCTAssertEqual(p.workdir, "/home/u/proj/profiles")
        XCTAssertEqual(p.logs, LogSettings(dir: "/home/u/proj/profiles/logs", maxBytes: 52_428_800, keep: 3))
        XCTAssertEqual(p.llm.provider, .openai)
        XCTAssertEqual(p.llm.apiKeyEnv, "OPENAI_API_KEY")
        XCTAssertEqual(p.llm.endpoint, .chat)
        XCTAssertEqual(p.backend.type, .local)
        XCTAssertEqual(p.backend.workspace, "/workspace")
        let a = try XCTUnwrap(p.agents.first)
        XCTAssertEqual(a.name, "a")
        XCTAssertEqual(a.kind, .command)
        XCTAssertEqual(a.command, ["true"])
        XCTAssertEqual(a.cwd, "/home/u/proj/profiles")
        XCTAssertEqual(a.restart, .onFailure)
        XCTAssertEqual(a.backoffInitial, 1)
        XCTAssertEqual(a.backoffMax, 60)
        XCTAssertEqual(a.maxRestarts, 5)
        XCTAssertEqual(a.restartWindow, 600)
        XCTAssertEqual(a.stopTimeout, 10)
        XCTAssertEqual(a.line, 1)
        XCTAssertFalse(a.debug)
    }

    func testKindDefaults() throws {
        let p = try parse("""
        [llm]
        model = "m"
        [[agents]]
        name = "g"
        kind = "goal"
        goal = "win"
        [[agents]]
        name = "c"
        kind = "coder"
        [[agents]]
        name = "x"
        kind = "exec"
        """)
        XCTAssertEqual(p.agents.map { $0.line }, [3, 7, 10])
        let g = p.agents[0], c = p.agents[1], x = p.agents[2]
        XCTAssertEqual(g.contextMode, .partial)
        XCTAssertEqual(g.limit, 30)
        XCTAssertNil(g.doneWhen)
        XCTAssertFalse(g.stay, "a reached goal ends the shell unless stay is set")
        XCTAssertEqual(c.permission, .ask)
        XCTAssertNil(c.allowTools)
        XCTAssertEqual(x.blockTimeout, 60)
        XCTAssertNil(x.memoryLimit)
    }

    func testGoalStayKey() throws {
        let p = try parse("""
        [llm]
        model = "m"
        [[agents]]
        name = "server"
        kind = "goal"
        goal = "run a server"
        stay = true
        [[agents]]
        name = "once"
        kind = "goal"
        goal = "build it"
        stay = false
        """)
        XCTAssertEqual(p.agents.map(\.stay), [true, false])
        // Through the launch config's JSON, as the agent process reads it.
        let data = try JSONEncoder().encode(p.agents[0])
        XCTAssertTrue(try JSONDecoder().decode(AgentSpec.self, from: data).stay)
    }

    func testLLMAndBackendMergeUnderAgentOverrides() throws {
        let p = try parse("""
        [llm]
        model = "gpt-4o-mini"
        temperature = 0.5
        max_tokens = 1024
        [llm.prices.gpt-4o]
        input = 2.5
        output = 10
        [backend]
        type = "docker"
        image = "img:1"
        memory = "2g"
        env = ["TERM"]
        [[agents]]
        name = "g"
        kind = "goal"
        goal = "win"
        [agents.llm]
        model = "gpt-4o"
        [agents.llm.prices.mini]
        input = 0.15
        output = 0.6
        [agents.backend]
        memory = "4g"
        env = ["LANG"]
        [[agents]]
        name = "c"
        kind = "coder"
        llm.provider = "anthropic"
        backend = { type = "local" }
        """)
        XCTAssertEqual(p.llm.model, "gpt-4o-mini")
        let g = p.agents[0], c = p.agents[1]
        XCTAssertEqual(g.llm.model, "gpt-4o")
        XCTAssertEqual(g.llm.temperature, 0.5)
        XCTAssertEqual(g.llm.maxTokens, 1024)
        XCTAssertEqual(Set(g.llm.prices.keys), ["gpt-4o", "mini"])
        XCTAssertEqual(g.backend.type, .docker)
        XCTAssertEqual(g.backend.image, "img:1")
        XCTAssertEqual(g.backend.memory, "4g")
        XCTAssertEqual(g.backend.env, ["LANG"], "arrays are replaced, not concatenated")
        XCTAssertEqual(c.llm.model, "gpt-4o-mini")
        XCTAssertEqual(c.llm.provider, .anthropic)
        XCTAssertEqual(c.llm.apiKeyEnv, "ANTHROPIC_API_KEY", "the default key variable follows the merged provider")
        XCTAssertEqual(c.backend.type, .local)
        XCTAssertEqual(c.backend.memory, "2g")
        XCTAssertEqual(p.backend.memory, "2g")
    }

    func testExplicitAndEmptyAPIKeyEnv() throws {
        let p = try parse("""
        [llm]
        provider = "openai-compatible"
        base_url = "http://localhost:8000"
        model = "m"
        [[agents]]
        name = "a"
        kind = "coder"
        [[agents]]
        name = "b"
        kind = "coder"
        llm = { provider = "openai", api_key_env = "" }
        [[agents]]
        name = "c"
        kind = "coder"
        llm = { provider = "anthropic", api_key_env = "MY_KEY" }
        """)
        XCTAssertNil(p.agents[0].llm.apiKeyEnv)
        XCTAssertNil(p.agents[1].llm.apiKeyEnv)
        XCTAssertEqual(p.agents[2].llm.apiKeyEnv, "MY_KEY")
        XCTAssertEqual(p.agents[0].llm.baseURL, "http://localhost:8000")
    }

    func testPathResolution() throws {
        let p = try parse("""
        workdir = "../work"
        [llm]
        provider = "script"
        script = "scripts/fake-llm.sh"
        [logs]
        dir = "/var/log/sup"
        [backend]
        mounts = ["data:/data:ro", "/abs/./x/../y:/y"]
        [[agents]]
        name = "a"
        kind = "exec"
        cwd = "sub/dir"
        [[agents]]
        name = "b"
        kind = "command"
        command = ["./run.sh"]
        cwd = "/tmp"
        """, path: "/home/u/proj/profiles/./team.toml")
        XCTAssertEqual(p.sourcePath, "/home/u/proj/profiles/team.toml")
        XCTAssertEqual(p.workdir, "/home/u/proj/work")
        XCTAssertEqual(p.logs.dir, "/var/log/sup")
        XCTAssertEqual(p.llm.script, "/home/u/proj/profiles/scripts/fake-llm.sh")
        XCTAssertEqual(p.agents[0].cwd, "/home/u/proj/work/sub/dir")
        XCTAssertEqual(p.agents[1].cwd, "/tmp")
        XCTAssertEqual(p.agents[0].backend.mounts, [
            Mount(host: "/home/u/proj/work/data", container: "/data", readOnly: true),
            Mount(host: "/abs/y", container: "/y", readOnly: false),
        ])
    }

    func testRelativeProfilePathBecomesAbsolute() throws {
        let p = try parse(commandAgent, path: "profiles/x.toml")
        XCTAssertTrue(p.sourcePath.hasPrefix("/"), p.sourcePath)
        XCTAssertTrue(p.sourcePath.hasSuffix("/profiles/x.toml"), p.sourcePath)
        XCTAssertEqual(p.directory + "/x.toml", p.sourcePath)
        XCTAssertEqual(p.name, "x")
    }

    func testHostileValuesAreKeptAsData() throws {
        let goal = "run `rm -rf /`; $(reboot) \"quoted\" 'single' \\ back\nnext line ✓ — ünïcödé"
        let toml = """
        [llm]
        model = "m"
        [[agents]]
        name = "g"
        kind = "goal"
        goal = \"\"\"
        run `rm -rf /`; $(reboot) "quoted" 'single' \\\\ back
        next line ✓ — ünïcödé\"\"\"
        done_when = "test -f \\"$HOME/x\\" && echo ';'"
        [agents.env]
        PS1 = "$(id)"
        [[agents]]
        name = "c"
        kind = "command"
        command = ["sh", "-c", "echo \\"$1\\"; exit 3", "--", "; rm -rf / #"]
        """
        let p = try parse(toml)
        XCTAssertEqual(p.agents[0].goal, goal)
        XCTAssertEqual(p.agents[0].doneWhen, "test -f \"$HOME/x\" && echo ';'")
        XCTAssertEqual(p.agents[0].env, ["PS1": "$(id)"])
        XCTAssertEqual(p.agents[1].command, ["sh", "-c", "echo \"$1\"; exit 3", "--", "; rm -rf / #"])
    }

    func testExampleProfilesLoad() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("profiles")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".toml") }.sorted()
        XCTAssertEqual(files, ["demo.toml", "local-llm.toml", "minecraft.toml", "worktrees.toml"])
        for f in files {
            do { _ = try ProfileLoader.load(path: dir.appendingPathComponent(f).path) }
            catch { XCTFail("\(f): \(error)") }
        }

        let demo = try ProfileLoader.load(path: dir.appendingPathComponent("demo.toml").path)
        XCTAssertEqual(demo.name, "demo")
        // Runs anywhere: offline script provider, local backend, every script file present.
        XCTAssertEqual(demo.agents.map { $0.name }, ["goal", "coder", "exec", "counter", "echo"])
        XCTAssertTrue(demo.agents.allSatisfy { $0.backend.type == .local })
        for agent in demo.agents where agent.kind != .command {
            XCTAssertEqual(agent.llm.provider, .script, agent.name)
            XCTAssertTrue(FileManager.default.fileExists(atPath: agent.llm.script ?? ""), agent.name)
        }
        XCTAssertEqual(demo.agents[4].restart, .never)
        XCTAssertEqual(demo.agents[4].command?.first, "bash")

        let mc = try ProfileLoader.load(path: dir.appendingPathComponent("minecraft.toml").path)
        XCTAssertEqual(mc.agents.map { $0.kind }, [.goal, .coder, .exec])
        let goal = mc.agents[0]
        XCTAssertEqual(goal.goal, "Your goal is to run a Minecraft server.")
        XCTAssertEqual(goal.doneWhen, "nc -z 127.0.0.1 25565")
        XCTAssertEqual(goal.contextMode, .partial)
        XCTAssertEqual(goal.limit, 30)
        XCTAssertTrue(goal.stay, "the Minecraft server must outlive the reached goal")
        XCTAssertEqual(goal.llm.model, "gpt-4o")
        XCTAssertEqual(mc.agents[1].llm.model, "gpt-4o-mini")
        XCTAssertEqual(goal.llm.apiKeyEnv, "OPENAI_API_KEY")
        XCTAssertEqual(goal.backend.type, .docker)
        XCTAssertEqual(goal.backend.image, "supervisor-agent:ubuntu-22.04")
        XCTAssertEqual(goal.backend.network, "bridge")
        XCTAssertEqual(goal.backend.memory, "4g")
        XCTAssertEqual(goal.backend.user, "root", "the goal runner installs Java with apt-get")
        XCTAssertEqual(mc.agents[1].backend.memory, "2g")
        XCTAssertNil(mc.agents[1].backend.user, "the coder stays non-root")

        let pair = try ProfileLoader.load(path: dir.appendingPathComponent("worktrees.toml").path)
        XCTAssertEqual(pair.agents.map { $0.isolation }, [.worktree, .worktree])
        XCTAssertTrue(pair.agents.allSatisfy { $0.autocommit && $0.llm.provider == .script && FileManager.default.fileExists(atPath: $0.llm.script ?? "") })
        XCTAssertTrue(FileManager.default.fileExists(atPath: pair.workdir + "/greeting.txt"))

        let local = try ProfileLoader.load(path: dir.appendingPathComponent("local-llm.toml").path)
        XCTAssertEqual(local.agents.map { $0.llm.endpoint }, [.completions, .chat])
        XCTAssertTrue(local.agents.allSatisfy { $0.llm.provider == .openaiCompatible && $0.llm.baseURL == "http://localhost:8000" })
        XCTAssertTrue(local.agents.allSatisfy { $0.backend.type == .local && $0.llm.apiKeyEnv == nil })
    }
}

final class ReadmeExampleTests: XCTestCase {
    /// The example in profiles/README.md must stay a valid profile.
    func testReadmeExampleValidates() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("profiles/README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let start = try XCTUnwrap(text.range(of: "```toml\n"))
        let end = try XCTUnwrap(text.range(of: "\n```", range: start.upperBound..<text.endIndex))
        let p = try ProfileLoader.parse(text: String(text[start.upperBound..<end.lowerBound]), path: "/r/profiles/team.toml")
        XCTAssertEqual(p.agents.map { $0.name }, ["builder", "coder", "server"])
        XCTAssertEqual(p.agents[0].llm.apiKeyEnv, "ANTHROPIC_API_KEY")
        XCTAssertEqual(p.agents[1].backend.network, "bridge")
        XCTAssertEqual(p.agents[0].backend.network, "none")
        XCTAssertEqual(p.agents[0].backend.mounts.first?.host, "/r/cache")
    }

    /// The table of shipped profiles at the top of profiles/README.md: every profile it lists
    /// exists, every shipped profile is listed, and each name in backquotes in its row is an agent
    /// or an agent kind of that profile.
    func testTheTableOfShippedProfilesNamesTheirAgents() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("profiles")
        let text = try String(contentsOf: dir.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let header = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("| file |") }, "the table of shipped profiles")
        let rows = lines[(header + 2)...].prefix { $0.hasPrefix("|") }
        var listed: [String] = []
        for row in rows {
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2 else { XCTFail("not a table row: \(row)"); continue }
            let file = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            listed.append(file)
            let profile = try ProfileLoader.load(path: dir.appendingPathComponent(file).path)
            let known = Set(profile.agents.map(\.name) + profile.agents.map(\.kind.rawValue))
            let quoted = cells[1].split(separator: "`", omittingEmptySubsequences: false).enumerated()
                .filter { $0.offset % 2 == 1 }.map { String($0.element) }
            XCTAssertFalse(quoted.isEmpty, "\(file): its row names no agent")
            for name in quoted {
                XCTAssertTrue(known.contains(name), "\(file): profiles/README.md names \"\(name)\", which is no agent or kind of it (\(known.sorted()))")
            }
        }
        let shipped = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".toml") }.sorted()
        XCTAssertEqual(listed.sorted(), shipped)
    }
}
