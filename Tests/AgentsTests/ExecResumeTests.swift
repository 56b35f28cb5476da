import XCTest
import Foundation
import Glibc
import Hosting
import LLM
import Loop
import Profile
@testable import Agents
import _TestSupport

/// The real `supervisor agent exec` process: killed in the middle of a conversation, started
/// again the way the shim restarts it (same parent, same --config), it resumes the conversation
/// and tells the model its runtime is fresh.
final class ExecResumeTests: XCTestCase {
    var loop: EventLoop!
    var server: FakeLLMServer!
    var dir: TemporaryDirectory!
    var processes: [ChildProcess] = []

    override func setUp() {
        loop = EventLoop()
        server = try! FakeLLMServer(loop: loop)
        dir = TemporaryDirectory(prefix: "exre")
    }

    override func tearDown() {
        for p in processes where !p.isClosed {
            kill(-p.pid, SIGKILL)
            p.kill(SIGKILL)
        }
        server.stop()
        loop.close()
    }

    /// The built `supervisor` next to the test bundle (on Linux `bundleURL` may already be the
    /// directory holding the .xctest).
    var binary: String {
        let bundle = Bundle(for: ExecResumeTests.self).bundleURL
        let candidates = [bundle.deletingLastPathComponent().appendingPathComponent("supervisor").path,
                          bundle.appendingPathComponent("supervisor").path]
        return candidates.first { access($0, X_OK) == 0 } ?? candidates[0]
    }

    final class Run {
        var process: ChildProcess!
        var exit: ProcessExit?
        var output = ""
    }

    func start(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        try supervisor(["agent", "exec"] + arguments, environment: environment)
    }

    /// Runs the built `supervisor` with these arguments (stdout and stderr collected).
    func supervisor(_ arguments: [String], environment extra: [String: String] = [:]) throws -> Run {
        let out = PipeStream(loop: loop)
        var environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        environment["FAKE_LLM_KEY"] = "fake-key"
        environment["SUPERVISOR_HOME"] = dir.file("home")
        let run = Run()
        run.process = try ChildProcess(loop: loop, arguments: [binary] + arguments, environment: environment,
                                       directory: dir.path, stdio: [.ignore, .pipe(out, childReads: false), .inherit(2)],
                                       newSession: true) { exit in run.exit = exit }
        processes.append(run.process)
        try out.startReading { r in
            if case .data(let bytes) = r { run.output += String(decoding: bytes, as: UTF8.self) } else { out.close() }
        }
        return run
    }

    func writeConfig(settingsFile: String? = nil, configure: (inout AgentSpec) -> Void = { _ in }) throws -> String {
        var llm = LLMSettings()
        llm.provider = .anthropic
        llm.model = "claude-sonnet-4-5"
        llm.baseURL = server.baseURL
        llm.apiKeyEnv = "FAKE_LLM_KEY"
        llm.maxRetries = 0
        var spec = AgentSpec(name: "calc", kind: .exec, cwd: dir.path, llm: llm)
        spec.prompt = "Compute six times seven."
        spec.blockTimeout = 20
        configure(&spec)
        let config = AgentLaunchConfig(profile: "t", agent: spec, stateDir: dir.file("state"), logsDir: dir.file("logs"), settingsFile: settingsFile)
        let path = dir.file("agent.json")
        try config.write(to: path)
        return path
    }

    func testAConversationResumesAfterTheAgentIsKilled() throws {
        let config = try writeConfig()
        let store = ConversationStore(stateDir: dir.file("state"))
        server.enqueue(.text("```python\nx = 6 * 7\nprint('computed', x)\n```"))
        // The second request hangs: the agent is killed while waiting for it.
        server.enqueue(FakeReply(items: [.text("Still thinking about it")], fault: .stall(afterEvents: 2, seconds: 60)))

        let first = try start(["--config", config])
        try runLoop(loop, until: "the second request", seconds: 30) { server.requests.count == 2 }
        XCTAssertTrue(lastMessage(1).contains("stdout:\ncomputed 42"), lastMessage(1))
        let id = try XCTUnwrap(store.currentID())
        let saved = try store.load(id)
        XCTAssertEqual(saved.status, .working)
        XCTAssertEqual(saved.messages.map(\.kind), [.prompt, .answer, .results])
        XCTAssertEqual(saved.runs.first?.result.stdout, "computed 42\n")

        first.process.kill(SIGKILL)
        try runLoop(loop, until: "the agent to die", seconds: 10) { first.exit != nil }
        XCTAssertEqual(first.exit, .signaled(SIGKILL))

        // Started again like the shim does: same parent, same config.
        server.enqueue(.text("Six times seven is 42."))
        let second = try start(["--config", config])
        try runLoop(loop, until: "the resumed agent to finish", seconds: 30) { second.exit != nil }
        XCTAssertEqual(second.exit, .exited(0), second.output)
        XCTAssertEqual(server.requests.count, 3)
        let resumed = lastMessage(2)
        XCTAssertTrue(resumed.contains("stdout:\ncomputed 42"), resumed)
        XCTAssertTrue(resumed.contains("The Python runtime is fresh"), resumed)
        let messages = server.requests[2].json?["messages"]?.arrayValue ?? []
        XCTAssertEqual(messages.count, 3, "prompt, answer with code, results + note")
        XCTAssertTrue(second.output.contains("conversation \(id) resumed"), second.output)
        let done = try store.load(id)
        XCTAssertEqual(done.status, .waiting)
        XCTAssertEqual(done.messages.last?.text, "Six times seven is 42.")

        // --conversation ID continues it with a new message.
        server.enqueue(.text("Doubled: 84."))
        let third = try start(["--config", config, "--conversation", id, "--prompt", "And doubled?"])
        try runLoop(loop, until: "the third run", seconds: 30) { third.exit != nil }
        XCTAssertEqual(third.exit, .exited(0), third.output)
        XCTAssertEqual(server.requests[3].json?["messages"]?.arrayValue?.count, 5)
        XCTAssertTrue(lastMessage(3).hasSuffix("And doubled?"), lastMessage(3))
    }

    /// `supervisor agent exec` run by hand keeps its conversations where `supervisor
    /// conversations ... standalone exec` looks.
    func testConversationsSeesAStandaloneRun() throws {
        let script = dir.write("answer.script", "--- turn\nThe answer is 42.\n")
        let run = try start(["--provider", "script", "--script", script, "--prompt", "What is six times seven?"])
        try runLoop(loop, until: "the standalone run", seconds: 30) { run.exit != nil }
        XCTAssertEqual(run.exit, .exited(0), run.output)
        let stored = ConversationStore(stateDir: dir.file("home") + "/standalone/exec").list()
        XCTAssertEqual(stored.count, 1)
        let id = try XCTUnwrap(stored.first?.id)

        let list = try supervisor(["conversations", "list", "standalone", "exec"])
        try runLoop(loop, until: "conversations list", seconds: 30) { list.exit != nil }
        XCTAssertEqual(list.exit, .exited(0), list.output)
        XCTAssertTrue(list.output.contains("* \(id)"), list.output)
        XCTAssertTrue(list.output.contains("What is six times seven?"), list.output)

        let show = try supervisor(["conversations", "show", "standalone", "exec"])
        try runLoop(loop, until: "conversations show", seconds: 30) { show.exit != nil }
        XCTAssertEqual(show.exit, .exited(0), show.output)
        XCTAssertTrue(show.output.contains("conversation \(id)"), show.output)
        XCTAssertTrue(show.output.contains("The answer is 42."), show.output)
    }

    /// The model's code cannot read credentials from the agent's environment: API keys, tokens,
    /// secrets and passwords are withheld from the runtime (and from bash() it runs); other
    /// variables are inherited.
    func testTheRuntimeDoesNotInheritSecrets() throws {
        let names = ["GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "MY_API_KEY", "PGPASSWORD", "Slack_Bot_Token", "SV_TEST_PLAIN"]
        let script = dir.write("env.script", """
            --- turn
            ```python
            import os
            print(sorted(k for k in \(names) if k in os.environ))
            print(bash('echo "[$GITHUB_TOKEN$AWS_SECRET_ACCESS_KEY$MY_API_KEY$PGPASSWORD$SV_TEST_PLAIN]"').stdout.strip())
            ```
            --- turn
            Done.

            """)
        var environment: [String: String] = [:]
        for name in names { environment[name] = "value-of-\(name)" }
        let run = try start(["--provider", "script", "--script", script, "--prompt", "Which variables can you see?"], environment: environment)
        try runLoop(loop, until: "the run", seconds: 30) { run.exit != nil }
        XCTAssertEqual(run.exit, .exited(0), run.output)
        let stored = try XCTUnwrap(ConversationStore(stateDir: dir.file("home") + "/standalone/exec").list().first)
        XCTAssertEqual(stored.runs.first?.result.stdout, "['SV_TEST_PLAIN']\n[value-of-SV_TEST_PLAIN]\n")
    }

    /// `supervisor set` writes the profile's settings file; the running agent reads it at its
    /// next request.
    func testSupervisorSetReachesTheRunningAgentAtItsNextRequest() throws {
        let settings = dir.file("settings.json")
        let config = try writeConfig(settingsFile: settings)
        var replies: [FakeReply] = [.text("```python\nprint(6 * 7)\n```"), .text("42.")]
        server.fallback = { _ in
            if replies.count == 2 {
                FileManager.default.createFile(atPath: settings, contents: Data(#"{"calc": {"model": "claude-opus-4-1", "max_tokens": 77, "temperature": 0.5}}"#.utf8))
            }
            return replies.removeFirst()
        }
        let run = try start(["--config", config])
        try runLoop(loop, until: "the run", seconds: 30) { run.exit != nil }
        XCTAssertEqual(run.exit, .exited(0), run.output)
        XCTAssertEqual(server.requests.count, 2)
        XCTAssertEqual(server.requests[0].json?["model"]?.stringValue, "claude-sonnet-4-5")
        XCTAssertEqual(server.requests[1].json?["model"]?.stringValue, "claude-opus-4-1")
        XCTAssertEqual(server.requests[1].json?["max_tokens"]?.doubleValue, 77)
        XCTAssertEqual(server.requests[1].json?["temperature"]?.doubleValue, 0.5)
    }

    /// A one-shot agent whose turn ended at a limit, restarted by its shim (on-failure), does
    /// not run the prompt again from scratch: it exits 3 at once and says why. With the limit
    /// raised (`supervisor set`) a restart continues the same turn.
    func testAOneShotThatEndedAtALimitIsNotStartedOverByARestart() throws {
        let settings = dir.file("settings.json")
        let config = try writeConfig(settingsFile: settings) { $0.limit = 1 }
        let store = ConversationStore(stateDir: dir.file("state"))
        server.enqueue(.text("```python\nprint('step', 1)\n```"))

        let first = try start(["--config", config])
        try runLoop(loop, until: "the first run", seconds: 30) { first.exit != nil }
        XCTAssertEqual(first.exit, .exited(3), first.output)
        XCTAssertEqual(server.requests.count, 1)
        let id = try XCTUnwrap(store.currentID())
        XCTAssertEqual(try store.load(id).stop, Conversation.Stop(kind: .limit, reason: "step limit reached (limit = 1)"))

        // Restarted the way the shim does: same parent, same config.
        for _ in 0..<2 {
            let again = try start(["--config", config])
            try runLoop(loop, until: "the restarted run", seconds: 30) { again.exit != nil }
            XCTAssertEqual(again.exit, .exited(3), again.output)
            XCTAssertTrue(again.output.contains("this prompt's conversation \(id) already ended: step limit reached (limit = 1)"), again.output)
            XCTAssertTrue(again.output.contains("Not starting it over"), again.output)
        }
        XCTAssertEqual(server.requests.count, 1, "no request was made again")
        XCTAssertEqual(store.list().map(\.id), [id], "no new conversation")

        // The limit raised: the restart continues the turn where it stopped.
        FileManager.default.createFile(atPath: settings, contents: Data(#"{"calc": {"limit": 2}}"#.utf8))
        server.enqueue(.text("Step 1 printed."))
        let raised = try start(["--config", config])
        try runLoop(loop, until: "the run with the raised limit", seconds: 30) { raised.exit != nil }
        XCTAssertEqual(raised.exit, .exited(0), raised.output)
        XCTAssertEqual(server.requests.count, 2)
        let messages = server.requests[1].json?["messages"]?.arrayValue ?? []
        XCTAssertEqual(messages.count, 3, "prompt, answer with code, results")
        XCTAssertTrue(lastMessage(1).contains("stdout:\nstep 1"), lastMessage(1))
        let done = try store.load(id)
        XCTAssertEqual(done.status, .waiting)
        XCTAssertNil(done.stop)
        XCTAssertEqual(done.requests.map(\.step), [1, 2])
        XCTAssertEqual(store.list().count, 1)
    }

    /// A one-shot turn stopped by a failed model request (provider down) is continued by the
    /// shim's restart in the same conversation, with the steps it already used.
    func testAOneShotStoppedByAModelErrorContinuesTheSameConversation() throws {
        let config = try writeConfig()
        let store = ConversationStore(stateDir: dir.file("state"))
        server.enqueue(.text("```python\nx = 6 * 7\nprint('computed', x)\n```"))
        server.enqueue(.status(529, type: "overloaded_error", message: "Overloaded"))

        let first = try start(["--config", config])
        try runLoop(loop, until: "the first run", seconds: 30) { first.exit != nil }
        XCTAssertEqual(first.exit, .exited(1), first.output)
        let id = try XCTUnwrap(store.currentID())
        XCTAssertEqual(try store.load(id).stop?.kind, .error)

        server.enqueue(.text("Six times seven is 42."))
        let second = try start(["--config", config])
        try runLoop(loop, until: "the restarted run", seconds: 30) { second.exit != nil }
        XCTAssertEqual(second.exit, .exited(0), second.output)
        XCTAssertTrue(second.output.contains("continuing the turn that stopped"), second.output)
        XCTAssertEqual(server.requests.count, 3)
        let messages = server.requests[2].json?["messages"]?.arrayValue ?? []
        XCTAssertEqual(messages.count, 3, "prompt, answer with code, results + note: not the prompt alone again")
        XCTAssertTrue(lastMessage(2).contains("stdout:\ncomputed 42"), lastMessage(2))
        XCTAssertTrue(lastMessage(2).contains("The Python runtime is fresh"), lastMessage(2))
        XCTAssertEqual(store.list().map(\.id), [id], "the same conversation")
        let done = try store.load(id)
        XCTAssertEqual(done.status, .waiting)
        XCTAssertEqual(done.requests.map(\.step), [1, 2, 2], "the turn kept its step count")
        XCTAssertEqual(done.requests.map { $0.error != nil }, [false, true, false])
    }

    func lastMessage(_ i: Int) -> String {
        guard i < server.requests.count, let messages = server.requests[i].json?["messages"]?.arrayValue,
              let content = messages.last?["content"] else { return "<no request \(i)>" }
        if let s = content.stringValue { return s }
        return (content.arrayValue ?? []).compactMap { $0["text"]?.stringValue }.joined()
    }
}
