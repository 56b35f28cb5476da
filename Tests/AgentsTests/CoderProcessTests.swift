import Foundation
import Glibc
import Hosting
import LLM
import Loop
import Profile
import XCTest
import _TestSupport
@testable import Agents

/// The real `supervisor agent coder` process: killed in the middle of a tool call, started
/// again with the same launch config, it resumes the unfinished session.
final class CoderProcessTests: XCTestCase {
    /// The built `supervisor` next to the test bundle (on Linux `bundleURL` may already be
    /// the build directory).
    var binary: String {
        let bundle = Bundle(for: CoderProcessTests.self).bundleURL
        let candidates = [bundle.deletingLastPathComponent().appendingPathComponent("supervisor").path,
                          bundle.appendingPathComponent("supervisor").path]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    final class Run {
        var output = ""
        var events = ""
        var exit: ProcessExit?
        var process: ChildProcess?
        let pipe: PipeStream
        let input: PipeStream?
        let eventPipe: PipeStream?
        init(loop: EventLoop, arguments: [String], environment: [String: String], directory: String,
             withInput: Bool = false, withEvents: Bool = false) throws {
            pipe = PipeStream(loop: loop)
            input = withInput ? PipeStream(loop: loop) : nil
            eventPipe = withEvents ? PipeStream(loop: loop) : nil
            var stdio: [ChildProcess.Stdio] = [input.map { .pipe($0, childReads: true) } ?? .ignore, .pipe(pipe, childReads: false), .inherit(2)]
            if let e = eventPipe { stdio.append(.pipe(e, childReads: false)) }
            process = try ChildProcess(loop: loop, arguments: arguments, environment: environment, directory: directory,
                                       stdio: stdio, newSession: true) { [weak self] e in
                self?.exit = e
            }
            try pipe.startReading { [weak self] r in
                if case .data(let b) = r { self?.output += String(decoding: b, as: UTF8.self) }
            }
            try eventPipe?.startReading { [weak self] r in
                if case .data(let b) = r { self?.events += String(decoding: b, as: UTF8.self) }
            }
        }
        func close() {
            if exit == nil, let pid = process?.pid { kill(-pid, SIGKILL) }
            pipe.close()
            input?.close()
            eventPipe?.close()
            process?.close()
        }
    }

    /// A fake model server, a workspace and a home on one loop; `close` ends every process
    /// started through `start` and the loop.
    final class Fixture {
        let loop = EventLoop()
        let server: FakeLLMServer
        let work: TemporaryDirectory
        let home = TemporaryDirectory(prefix: "chome")
        let binary: String
        private var runs: [Run] = []

        init(binary: String, work: TemporaryDirectory) throws {
            self.binary = binary
            self.work = work
            server = try FakeLLMServer(loop: loop)
        }

        /// The coder configured by environment variables (no profile), talking to the fake server.
        func standaloneEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
            ["FAKE_CODER_KEY": "k", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": home.path,
             "SUPERVISOR_CODER_PROVIDER": "anthropic", "SUPERVISOR_CODER_BASE_URL": server.baseURL,
             "SUPERVISOR_CODER_API_KEY_ENV": "FAKE_CODER_KEY", "SUPERVISOR_CODER_MODEL": "claude-test",
             "SUPERVISOR_CODER_STATE_DIR": home.file("state")].merging(extra) { $1 }
        }

        /// Starts `supervisor ARGUMENTS` in the workspace.
        func start(_ arguments: [String], environment: [String: String], withInput: Bool = false, withEvents: Bool = false) throws -> Run {
            let run = try Run(loop: loop, arguments: [binary] + arguments, environment: environment, directory: work.path,
                              withInput: withInput, withEvents: withEvents)
            runs.append(run)
            return run
        }

        func close() {
            for r in runs { r.close() }
            server.stop()
            var spins = 0
            while loop.runOnce(wait: false) && spins < 100 { spins += 1 }
            loop.close()
        }
    }

    func fixture(work: TemporaryDirectory) throws -> Fixture {
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("no supervisor binary at \(binary)") }
        return try Fixture(binary: binary, work: work)
    }

    /// Line mode without a terminal: the permission question is answered by a stdin line (as
    /// `supervisor send P coder y` does), with a `waiting` state event while it asks.
    func testLineModeAskReadsAnswerFromStdin() throws {
        let f = try fixture(work: TemporaryDirectory(prefix: "cline"))
        defer { f.close() }
        let (loop, server, work) = (f.loop, f.server, f.work)
        server.enqueue(FakeReply(items: [.tool(id: "b1", name: "Bash", arguments: #"{"command": "echo approved > out.txt"}"#)]))
        server.enqueue(.text("Wrote out.txt."))
        let r = try f.start(["agent", "coder", "--prompt", "write it", "--permission", "ask"],
                            environment: f.standaloneEnvironment(["SUPERVISOR_EVENTS_FD": "3"]), withInput: true, withEvents: true)
        try runLoop(loop, until: "the permission question", seconds: 30) { r.output.contains("? Allow Bash(") || r.exit != nil }
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.file("out.txt")))
        try runLoop(loop, until: "the waiting event", seconds: 10) { r.events.contains(#""state":"waiting""#) }
        r.input!.write("y\n")
        try runLoop(loop, until: "the agent to finish", seconds: 30) { r.exit != nil }
        XCTAssertEqual(r.exit, .exited(0), r.output)
        XCTAssertEqual(try String(contentsOfFile: work.file("out.txt"), encoding: .utf8), "approved\n")
        XCTAssertTrue(r.output.contains("Wrote out.txt."), r.output)
        // The dashboard's events: states, the tool, tokens, the answer.
        try runLoop(loop, until: "the last event", seconds: 10) { r.events.contains(#""type":"message""#) }
        for needle in [#""state":"thinking""#, #""state":"running_tool""#, #""type":"tool","name":"Bash","phase":"start""#,
                       #""phase":"end""#, #""type":"tokens""#, #""type":"command","text":"echo approved > out.txt""#,
                       #""type":"message","text":"Wrote out.txt.""#,
                       #""type":"permission","id":"b1","tool":"Bash","summary":"echo approved > out.txt","choices":["yes","no","always"]"#,
                       #""type":"permission_answer","id":"b1","tool":"Bash","answer":"yes""#] {
            XCTAssertTrue(r.events.contains(needle), "\(needle) not in \(r.events)")
        }
    }

    /// A network client's answer names its question (`/permission ID ANSWER`, what serve pastes):
    /// one naming another question is ignored, the one naming this question answers it.
    func testAnAnswerNamingAnotherQuestionIsIgnored() throws {
        let f = try fixture(work: TemporaryDirectory(prefix: "cname"))
        defer { f.close() }
        let (loop, server, work) = (f.loop, f.server, f.work)
        server.enqueue(FakeReply(items: [.tool(id: "b1", name: "Bash", arguments: #"{"command": "echo approved > out.txt"}"#)]))
        server.enqueue(.text("Wrote out.txt."))
        let r = try f.start(["agent", "coder", "--prompt", "write it", "--permission", "ask"],
                            environment: f.standaloneEnvironment(["SUPERVISOR_EVENTS_FD": "3"]), withInput: true, withEvents: true)
        try runLoop(loop, until: "the permission event", seconds: 30) { r.events.contains(#""type":"permission""#) || r.exit != nil }
        r.input!.write("/permission b0 no\n/permission b1 yes\n")
        try runLoop(loop, until: "the agent to finish", seconds: 30) { r.exit != nil }
        XCTAssertEqual(try String(contentsOfFile: work.file("out.txt"), encoding: .utf8), "approved\n", r.output)
        XCTAssertTrue(r.events.contains(#""type":"permission_answer","id":"b1","tool":"Bash","answer":"yes""#), r.events)
    }

    func testAReplyIsReadForItsQuestion() {
        XCTAssertEqual(PermissionAnswer.reply("/permission q1 always", to: "q1"), .always)
        XCTAssertNil(PermissionAnswer.reply("/permission q0 yes", to: "q1"))
        XCTAssertEqual(PermissionAnswer.reply("y", to: "q1"), .yes)
        XCTAssertEqual(PermissionAnswer.reply("later", to: "q1"), .no)
    }

    /// Line mode prints the diff of an Edit above its permission question.
    func testLineModeShowsTheDiffBeforeAsking() throws {
        let f = try fixture(work: TemporaryDirectory(prefix: "cdiff"))
        defer { f.close() }
        let (loop, server, work) = (f.loop, f.server, f.work)
        _ = work.write("a.txt", "one\ntwo\n")
        server.enqueue(FakeReply(items: [.tool(id: "e1", name: "Edit", arguments: #"{"file_path": "a.txt", "old_string": "two", "new_string": "2"}"#)]))
        server.enqueue(.text("Edited."))
        let r = try f.start(["agent", "coder", "--prompt", "edit it", "--permission", "ask"],
                            environment: f.standaloneEnvironment(), withInput: true)
        try runLoop(loop, until: "the permission question", seconds: 30) { r.output.contains("? Allow Edit(") || r.exit != nil }
        XCTAssertTrue(r.output.contains("    @@ -1,2 +1,2 @@\n     one\n    -two\n    +2\n? Allow Edit(a.txt)"), r.output)
        r.input!.write("n\n")
        try runLoop(loop, until: "the agent to finish", seconds: 30) { r.exit != nil }
        XCTAssertEqual(try String(contentsOfFile: work.file("a.txt"), encoding: .utf8), "one\ntwo\n")
    }

    /// `supervisor agent coder "prompt"` works like `--prompt`; both at once is a usage error.
    func testPromptAsPositionalArgument() throws {
        let f = try fixture(work: TemporaryDirectory(prefix: "cpos"))
        defer { f.close() }
        let (loop, server) = (f.loop, f.server)
        server.enqueue(.text("Hello from the model."))
        let env = f.standaloneEnvironment(["NO_COLOR": "1"])
        let r = try f.start(["agent", "coder", "say hello", "--permission", "yolo"], environment: env)
        try runLoop(loop, until: "the agent to finish", seconds: 30) { r.exit != nil }
        XCTAssertEqual(r.exit, .exited(0), r.output)
        XCTAssertTrue(r.output.contains("Hello from the model."), r.output)
        XCTAssertEqual(server.requests.count, 1)
        XCTAssertEqual(server.requests.first?.json?["messages"]?[0]?["content"]?[0]?["text"]?.stringValue, "say hello")

        let both = try f.start(["agent", "coder", "one", "--prompt", "two"], environment: env)
        try runLoop(loop, until: "the usage error", seconds: 30) { both.exit != nil }
        XCTAssertEqual(both.exit, .exited(2))
        XCTAssertEqual(server.requests.count, 1)
    }

    func testResumeAfterKill() throws {
        let f = try fixture(work: TemporaryDirectory(prefix: "cproc"))
        var sleeper: pid_t = 0
        defer {
            if sleeper > 0 { kill(-sleeper, SIGKILL); kill(sleeper, SIGKILL) }
            f.close()
        }
        let (loop, server, work, home) = (f.loop, f.server, f.work, f.home)

        var spec = AgentSpec(name: "coder", kind: .coder, cwd: work.path)
        spec.llm.provider = .anthropic
        spec.llm.model = "claude-test"
        spec.llm.baseURL = server.baseURL
        spec.llm.apiKeyEnv = "FAKE_CODER_KEY"
        spec.llm.maxRetries = 0
        spec.permission = .yolo
        spec.prompt = "Start the long job"
        let paths = SupervisorPaths(environment: ["SUPERVISOR_HOME": home.path])
        let stateDir = paths.agentDir(profile: "p", agent: "coder")
        let config = AgentLaunchConfig(profile: "p", agent: spec, stateDir: stateDir, logsDir: home.path + "/logs", settingsFile: nil)
        let configPath = home.file("agent.json")
        try config.write(to: configPath)
        var env = ["FAKE_CODER_KEY": "k", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                   "HOME": home.path, "SUPERVISOR_HOME": home.path]
        env["NO_COLOR"] = "1"

        // First life: the model starts a long command; the agent is killed while it runs.
        server.enqueue(FakeReply(items: [.text("Starting."), .tool(id: "long1", name: "Bash",
                                                                    arguments: #"{"command": "echo $$ > pid.txt; exec sleep 60"}"#)]))
        let first = try f.start(["agent", "coder", "--config", configPath], environment: env)
        try runLoop(loop, until: "the Bash call to start", seconds: 30) { first.output.contains("⏺ Bash(") || first.exit != nil }
        XCTAssertNil(first.exit, first.output)
        try waitFor("the command's pid file", seconds: 15) {
            (try? String(contentsOfFile: work.file("pid.txt"), encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) } != nil
        }
        sleeper = Int32(try String(contentsOfFile: work.file("pid.txt"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        kill(first.process!.pid, SIGKILL)
        try runLoop(loop, until: "the first agent to die", seconds: 15) { first.exit != nil }
        XCTAssertEqual(first.exit, .signaled(SIGKILL))
        kill(-sleeper, SIGKILL)

        let store = SessionStore(stateDir: stateDir)
        let saved = try XCTUnwrap(store.latestUnfinished())
        XCTAssertEqual(saved.messages.last?.toolUses.first?.id, "long1")

        // Second life (the shim's restart): same config, the session continues.
        server.enqueue(.text("The job was interrupted by a restart; nothing else to do."))
        let second = try f.start(["agent", "coder", "--config", configPath], environment: env)
        try runLoop(loop, until: "the second agent to finish", seconds: 30) { second.exit != nil }
        XCTAssertEqual(second.exit, .exited(0), second.output)
        XCTAssertTrue(second.output.contains("resumed session \(saved.id)"), second.output)
        XCTAssertEqual(server.requests.count, 2)
        let messages = try XCTUnwrap(server.requests[1].json?["messages"]?.arrayValue)
        XCTAssertEqual(messages.count, 3)
        XCTAssertEqual(messages[0]["content"]?[0]?["text"]?.stringValue, "Start the long job")
        let result = try XCTUnwrap(messages[2]["content"]?[0])
        XCTAssertEqual(result["tool_use_id"]?.stringValue, "long1")
        XCTAssertEqual(result["is_error"]?.boolValue, true)
        let done = try store.load(saved.id)
        XCTAssertTrue(done.finished)
        XCTAssertEqual(store.list().count, 1)

        // supervisor sessions list shows it.
        let list = try f.start(["sessions", "list", "p", "coder"], environment: env)
        try runLoop(loop, until: "sessions list", seconds: 30) { list.exit != nil && list.output.contains("\n") }
        XCTAssertEqual(list.exit, .exited(0))
        XCTAssertTrue(list.output.contains(saved.id), list.output)
        XCTAssertTrue(list.output.contains("finished"), list.output)
        XCTAssertTrue(list.output.contains("The job was interrupted"), list.output)

        // show prints the conversation, delete removes it.
        func cli(_ arguments: [String]) throws -> Run {
            let run = try f.start(["sessions"] + arguments, environment: env)
            try runLoop(loop, until: "sessions \(arguments[0])", seconds: 30) { run.exit != nil }
            return run
        }
        let show = try cli(["show", "p", "coder", saved.id])
        XCTAssertEqual(show.exit, .exited(0), show.output)
        XCTAssertTrue(show.output.contains("user:\n  Start the long job"), show.output)
        XCTAssertTrue(show.output.contains("→ Bash(echo $$ > pid.txt"), show.output)
        XCTAssertEqual(try cli(["show", "p", "coder", "../../etc/passwd"]).exit, .exited(2), "a path is not an id")
        let delete = try cli(["delete", "p", "coder", saved.id])
        XCTAssertEqual(delete.exit, .exited(0), delete.output)
        XCTAssertEqual(store.list().count, 0)

        // A coder run by hand keeps its sessions under <home>/standalone/coder: `standalone coder` finds them.
        try SessionStore(stateDir: home.path + "/standalone/coder").save(CoderSession(id: "s-by-hand", started: "now", model: "m", workspace: work.path))
        let standalone = try cli(["list", "standalone", "coder"])
        XCTAssertEqual(standalone.exit, .exited(0), standalone.output)
        XCTAssertTrue(standalone.output.contains("s-by-hand"), standalone.output)
    }

    /// `supervisor agent coder --config` with an MCP server, locally and on the Docker backend
    /// (there Bash and the server run in the container; the server's stderr lands in the logs).
    func testMCPServerThroughTheLaunchConfig() throws {
        try runWithMCP(docker: nil)
    }

    func testDockerBackendWithMCPServerThroughTheLaunchConfig() throws {
        let fixture = try DockerBoxFixture(self)
        try runWithMCP(docker: fixture)
    }

    private func runWithMCP(docker fixture: DockerBoxFixture?) throws {
        guard resolveExecutable("python3", path: ProcessInfo.processInfo.environment["PATH"]) != nil else {
            throw XCTSkip("SKIP: python3 is not installed")
        }
        let f = try self.fixture(work: fixture?.workspace ?? TemporaryDirectory(prefix: "cmcp"))
        defer { f.close() }
        let (loop, server, work, home) = (f.loop, f.server, f.work, f.home)
        _ = MCPTestServer.write(into: work.path)
        var spec = AgentSpec(name: "coder", kind: .coder, cwd: work.path)
        spec.llm.provider = .anthropic
        spec.llm.model = "claude-test"
        spec.llm.baseURL = server.baseURL
        spec.llm.apiKeyEnv = "FAKE_CODER_KEY"
        spec.llm.maxRetries = 0
        spec.permission = .yolo
        spec.prompt = "Where does it run?"
        spec.mcp = [MCPServerSpec(name: "box", command: ["python3", "-u", "mcp_test_server.py"], timeout: 30)]
        var container: ContainerSpec?
        if let fixture {
            spec.backend.type = .docker
            spec.backend.image = "unused"
            var c = ContainerSpec.make(profile: Profile(name: "p", sourcePath: "", directory: work.path, workdir: work.path, llm: spec.llm,
                                                        backend: spec.backend, logs: LogSettings(dir: home.path + "/logs"), agents: [spec]),
                                       agent: spec, home: home.path, dockerExecutable: DockerTestSupport.engine.executable)
            c.name = fixture.container
            container = c
        }
        let logsDir = home.path + "/logs/p"
        let config = AgentLaunchConfig(profile: "p", agent: spec, stateDir: home.path + "/state", logsDir: logsDir, settingsFile: nil,
                                       container: container)
        try FileManager.default.createDirectory(atPath: logsDir, withIntermediateDirectories: true)
        let configPath = home.file("agent.json")
        try config.write(to: configPath)
        var env = ["FAKE_CODER_KEY": "k", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                   "HOME": ProcessInfo.processInfo.environment["HOME"] ?? home.path, "SUPERVISOR_HOME": home.path, "NO_COLOR": "1"]
        for k in ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG"] { env[k] = ProcessInfo.processInfo.environment[k] }

        server.enqueue(FakeReply(items: [.tool(id: "b1", name: "Bash", arguments: #"{"command": "hostname; pwd; echo key=${FAKE_CODER_KEY:-none}"}"#)]))
        server.enqueue(FakeReply(items: [.tool(id: "m1", name: "mcp__box__whereami", arguments: "{}")]))
        server.enqueue(.text("Found it."))
        let run = try f.start(["agent", "coder", "--config", configPath], environment: env)
        try runLoop(loop, until: "the agent to finish", seconds: 60) { run.exit != nil }
        XCTAssertEqual(run.exit, .exited(0), run.output)
        XCTAssertEqual(server.requests.count, 3, run.output)
        guard server.requests.count == 3 else { return }
        func result(_ i: Int) -> String? {
            server.requests[i].json?["messages"]?.arrayValue?.last?["content"]?[0]?["content"]?.stringValue
        }
        let host = fixture?.container ?? {
            var buffer = [CChar](repeating: 0, count: 256)
            gethostname(&buffer, buffer.count)
            return String(cString: buffer)
        }()
        let boxWorkspace = fixture == nil ? work.path : "/workspace"
        XCTAssertEqual(result(1), "\(host)\n\(boxWorkspace)\nkey=none\n[exit 0]")
        XCTAssertEqual(result(2), "\(host) \(boxWorkspace)")
        let system = server.requests[0].json?["system"]
        let systemText = system?.stringValue ?? system?.arrayValue?.compactMap { $0["text"]?.stringValue }.joined() ?? ""
        XCTAssertTrue(systemText.contains("- box (pytest-server 0.1): 8 tools, named mcp__box__TOOL"), systemText)
        XCTAssertTrue(systemText.contains("Working directory: \(boxWorkspace)"), systemText)
        let log = try String(contentsOfFile: logsDir + "/coder.mcp-box.log", encoding: .utf8)
        XCTAssertTrue(log.contains("got initialize") && log.contains("got tools/call"), log)
    }
}
