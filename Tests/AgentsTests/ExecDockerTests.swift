import Foundation
import Glibc
import LLM
import LLMClient
import Loop
import Profile
import XCTest
@testable import Agents
import _TestSupport

/// The exec agent with its runtime in a container (the agent and the fake model on the host):
/// `docker exec` passes no signal on, so the block timeout interrupts through the runtime's own
/// frame and every kill (after the grace period, /restart, a crash, the agent's exit) acts inside
/// the container. The in-box kill logic also runs against a LocalBox (`inBoxProcesses = true`),
/// so it is tested where no engine runs.
final class ExecDockerTests: XCTestCase {
    var loop: EventLoop!
    var server: FakeLLMServer!
    var client: LLMClient?
    var runtimes: [PythonRuntime] = []

    override func setUp() {
        loop = EventLoop()
        server = try! FakeLLMServer(loop: loop)
    }

    override func tearDown() {
        for r in runtimes { close(r) }
        runtimes = []
        client?.close()
        server.stop()
        try? runLoop(loop, until: "handles closed", seconds: 0.3) { false }
        loop.close()
    }

    /// What the exec session does at exit: stop the runtime, wait for the in-box clean-up.
    func close(_ r: PythonRuntime) {
        r.close()
        _ = try? runLoop(loop, until: "runtime stopped and cleaned up", seconds: 30) { !r.isStarted && !r.cleanupPending }
    }

    func makeRuntime(box: Box, grace: Double = 1, memoryLimit: Int? = nil, inBox: Bool? = nil) -> PythonRuntime {
        var o = PythonRuntime.Options()
        o.grace = grace
        o.memoryLimit = memoryLimit
        o.inBoxProcesses = inBox
        let r = PythonRuntime(loop: loop, box: box, options: o)
        runtimes.append(r)
        return r
    }

    func makeAgent(box: Box, blockTimeout: Double, grace: Double) throws -> ExecAgent {
        var llm = LLMSettings()
        llm.provider = .anthropic
        llm.model = "claude-sonnet-4-5"
        llm.baseURL = server.baseURL
        llm.apiKeyEnv = "FAKE_LLM_KEY"
        llm.maxTokens = 512
        llm.maxRetries = 0
        var spec = AgentSpec(name: "exec", kind: .exec, cwd: box.hostWorkspace, llm: llm)
        spec.blockTimeout = blockTimeout
        spec.limit = 20
        let c = try LLMClient(settings: llm, loop: loop, environment: ["FAKE_LLM_KEY": "sk-fake-llm-key"])
        client = c
        let r = makeRuntime(box: box, grace: grace)
        let state = TemporaryDirectory(prefix: "exdk")
        addTeardownBlock { _ = state }
        let engine = ModelEngine(model: c, live: LiveSettings(kind: .exec) { spec }, events: AgentEvents(environment: [:]),
                                 clock: LoopClock(loop: loop))
        return ExecAgent(loop: loop, engine: engine, runtime: r, store: ConversationStore(stateDir: state.file("state")),
                         display: BufferDisplay(),
                         conversation: Conversation(id: "docker-1", provider: "anthropic", model: "claude-sonnet-4-5"))
    }

    func turn(_ agent: ExecAgent, _ prompt: String, seconds: Double = 60) throws -> TurnOutcome {
        var outcome: TurnOutcome?
        agent.send(prompt) { outcome = $0 }
        try runLoop(loop, until: "turn to end", seconds: seconds) { outcome != nil }
        return outcome!
    }

    func run(_ r: PythonRuntime, _ code: String, timeout: Double = 30) throws -> BlockResult {
        var result: BlockResult?
        r.execute(code: code, name: "block t", timeout: timeout) { result = $0 }
        try runLoop(loop, until: "block result", seconds: timeout + 30) { result != nil }
        return result!
    }

    static func python(_ code: String) -> FakeReply { .text("Running:\n```python\n" + code + "\n```\n") }

    /// `pid args` of every process in the container.
    func processes(_ container: String) -> String {
        DockerTestSupport.docker(["exec", container, "ps", "-eo", "pid,args"]).output
    }

    /// Processes in the container whose command line contains `text`.
    func count(_ container: String, _ text: String) -> Int {
        processes(container).split(separator: "\n").filter { $0.contains(text) }.count
    }

    // MARK: The agent in a container

    func testExecAgentRunsItsBlocksInTheContainer() throws {
        let fixture = try DockerBoxFixture(self)
        let agent = try makeAgent(box: fixture.box, blockTimeout: 1.5, grace: 1)
        let runtime = agent.runtime
        XCTAssertTrue(runtime.usesInBoxProcesses)
        let marker = 4000 + Int.random(in: 0..<5000)

        // Where blocks run: the container's hostname, its files (the workspace is bind-mounted),
        // bash() there too, and no API key anywhere in its processes' environments.
        server.enqueue(Self.python("import socket, os\nkept = 'state'\nwrite_file('made.txt', socket.gethostname() + '\\n')\nsocket.gethostname()"))
        server.enqueue(Self.python("(bash('hostname; pwd; test -f /.dockerenv && echo in-docker').stdout, os.getcwd(), kept)"))
        server.enqueue(Self.python("envs = bash('cat /proc/[0-9]*/environ 2>/dev/null | tr \"\\\\0\" \"\\\\n\"').stdout\n"
                                   + "(len(envs) > 0, 'sk-fake' in envs, sorted(k for k in os.environ if 'KEY' in k))"))
        server.enqueue(.text("Done."))
        XCTAssertEqual(try turn(agent, "where am I?"), .answered("Done."))
        var runs = agent.conversation.runs
        XCTAssertEqual(runs.count, 3)
        XCTAssertEqual(runs[0].result.status, .ok, "\(runs[0].result)")
        XCTAssertEqual(runs[0].result.value, "'\(fixture.container)'")
        XCTAssertEqual(try String(contentsOfFile: fixture.workspace.file("made.txt"), encoding: .utf8), fixture.container + "\n")
        XCTAssertEqual(runs[1].result.value, "('\(fixture.container)\\n/workspace\\nin-docker\\n', '/workspace', 'state')")
        XCTAssertEqual(runs[2].result.value, "(True, False, [])")
        XCTAssertNotNil(runtime.boxPID)
        XCTAssertEqual(count(fixture.container, "python3 -u -c"), 1, processes(fixture.container))

        // An infinite loop is interrupted by the block timeout (through the runtime's frame: a
        // SIGINT to the docker exec client would have ended it); the state is kept.
        server.enqueue(Self.python("while True:\n    pass"))
        server.enqueue(Self.python("import time\ntime.sleep(600)"))
        server.enqueue(Self.python("kept"))
        server.enqueue(.text("Interrupted."))
        XCTAssertEqual(try turn(agent, "loop"), .answered("Interrupted."))
        runs = agent.conversation.runs
        XCTAssertEqual(runs[3].result.status, .interrupted, "\(runs[3].result)")
        XCTAssertEqual(runs[3].result.errorType, "KeyboardInterrupt")
        XCTAssertEqual(runs[4].result.status, .interrupted, "a blocking sleep too: \(runs[4].result)")
        XCTAssertEqual(runs[5].result.value, "'state'")
        XCTAssertEqual(runtime.generation, 1)

        // A block that ignores SIGINT (waiting on a bash() command, with another left running in
        // the background) is killed after the grace period, in the container: the runtime and its
        // bash() commands are gone there, and the next block runs in a fresh runtime.
        let oldPID = runtime.boxPID!
        server.enqueue(Self.python("import signal\nbash('nohup sleep \(marker) >/dev/null 2>&1 &')\n"
                                   + "signal.signal(signal.SIGINT, signal.SIG_IGN)\nbash('sleep \(marker + 1)', timeout=1000)"))
        server.enqueue(Self.python("'kept' in globals()"))
        server.enqueue(.text("Fresh."))
        XCTAssertEqual(try turn(agent, "stubborn"), .answered("Fresh."))
        runs = agent.conversation.runs
        XCTAssertEqual(runs[6].result.status, .killed, "\(runs[6].result)")
        XCTAssertEqual(runs[7].result.value, "False")
        XCTAssertEqual(runtime.generation, 2)
        XCTAssertNotEqual(runtime.boxPID, oldPID)
        try runLoop(loop, until: "in-box kill", seconds: 30) { !runtime.cleanupPending }
        var ps = processes(fixture.container)
        XCTAssertFalse(ps.contains("sleep \(marker)"), ps)
        XCTAssertFalse(ps.split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("\(oldPID) ") }, ps)
        XCTAssertEqual(count(fixture.container, "python3 -u -c"), 1, ps)

        // A crash: the runtime's bash() commands do not outlive it.
        server.enqueue(Self.python("import os\nbash('nohup sleep \(marker + 2) >/dev/null 2>&1 &')\nos._exit(7)"))
        server.enqueue(Self.python("1 + 1"))
        server.enqueue(.text("Recovered."))
        XCTAssertEqual(try turn(agent, "crash"), .answered("Recovered."))
        runs = agent.conversation.runs
        XCTAssertEqual(runs[8].result.status, .crashed, "\(runs[8].result)")
        XCTAssertEqual(runs[9].result.value, "2")
        XCTAssertEqual(runtime.generation, 3)
        try runLoop(loop, until: "in-box clean-up after the crash", seconds: 30) { !runtime.cleanupPending }
        XCTAssertEqual(count(fixture.container, "sleep \(marker + 2)"), 0, processes(fixture.container))

        // /restart, then the agent's exit: nothing of the runtime is left in the container.
        server.enqueue(Self.python("bash('nohup sleep \(marker + 3) >/dev/null 2>&1 &').returncode"))
        server.enqueue(.text("Started."))
        XCTAssertEqual(try turn(agent, "background"), .answered("Started."))
        XCTAssertEqual(count(fixture.container, "sleep \(marker + 3)"), 1, processes(fixture.container))
        runtime.close() // /restart
        try runLoop(loop, until: "restart kill", seconds: 30) { !runtime.isStarted && !runtime.cleanupPending }
        ps = processes(fixture.container)
        XCTAssertFalse(ps.contains("python3") || ps.contains("sleep \(marker + 3)"), ps)
        server.enqueue(Self.python("bash('nohup sleep \(marker + 4) >/dev/null 2>&1 &'); 'x' in globals()"))
        server.enqueue(.text("Again."))
        XCTAssertEqual(try turn(agent, "again"), .answered("Again."))
        XCTAssertEqual(agent.conversation.runs.last?.result.value, "False")
        close(runtime)
        ps = processes(fixture.container)
        XCTAssertFalse(ps.contains("python3") || ps.contains("bash") || ps.contains("sleep \(marker + 4)"), ps)
    }

    // MARK: The runtime in a container

    func testMemoryLimitAppliesInsideTheContainer() throws {
        let fixture = try DockerBoxFixture(self)
        let r = makeRuntime(box: fixture.box, memoryLimit: 400 << 20)
        _ = try run(r, "kept = 5")
        let limit = try run(r, "import resource\nresource.getrlimit(resource.RLIMIT_AS)[0]")
        XCTAssertEqual(limit.value, "\(400 << 20)")
        // A bash() command inherits it (it runs in the container, under the runtime).
        let child = try run(r, "bash('ulimit -v').stdout.strip()")
        XCTAssertEqual(child.value, "'\((400 << 20) / 1024)'")
        let big = try run(r, "block = bytearray(3 * 1024 ** 3)")
        XCTAssertEqual(big.status, .error)
        XCTAssertEqual(big.errorType, "MemoryError")
        XCTAssertEqual(try run(r, "kept * 2").value, "10")
        XCTAssertEqual(r.generation, 1)
    }

    /// Killing the docker exec client leaves python (and its bash() commands) running in the
    /// container. When only the client dies, the agent ends the rest in the box; a SIGKILLed
    /// agent cannot, so the next runtime's first start ends runtimes left there.
    func testRuntimesWhoseClientDiedAreEndedInTheContainer() throws {
        let fixture = try DockerBoxFixture(self)
        let marker = 4000 + Int.random(in: 0..<5000)
        let old = makeRuntime(box: fixture.box)
        _ = try run(old, "bash('nohup sleep \(marker) >/dev/null 2>&1 &')")
        let client = old.pid!
        kill(-client, SIGKILL) // the client dies (not the agent)
        try runLoop(loop, until: "the docker exec client ended", seconds: 20) { !old.isStarted }
        try runLoop(loop, until: "old runtime's clean-up", seconds: 30) { !old.cleanupPending }
        var ps = processes(fixture.container)
        XCTAssertFalse(ps.contains("python3") || ps.contains("sleep \(marker)"), ps)

        // What a SIGKILLed agent leaves: a runtime (session leader with the marker) and its
        // command, with nobody watching.
        let leftover = DockerTestSupport.docker(["exec", "--detach", "--env", "\(PythonRuntime.markerVariable)=old", fixture.container,
                                                 "python3", "-c", "import subprocess, time; subprocess.Popen(['sleep', '\(marker + 1)'], process_group=0); time.sleep(\(marker + 2))"])
        XCTAssertTrue(leftover.succeeded, leftover.errorOutput)
        try waitFor("the leftover to run", seconds: 20) { self.count(fixture.container, "sleep \(marker + 1)") == 1 }

        let new = makeRuntime(box: fixture.box)
        XCTAssertEqual(try run(new, "6 * 7").value, "42")
        ps = processes(fixture.container)
        XCTAssertFalse(ps.contains("sleep \(marker + 1)") || ps.contains("time.sleep(\(marker + 2))"), ps)
        XCTAssertEqual(count(fixture.container, "python3 -u -c"), 1, ps)
    }

    // MARK: In-box logic without an engine

    func testInBoxInterruptAndKillAgainstALocalBox() throws {
        let dir = TemporaryDirectory(prefix: "exib")
        let box = LocalBox(workspace: dir.path, environment: ProcessInfo.processInfo.environment, withheld: [])
        let r = makeRuntime(box: box, grace: 0.5, inBox: true)
        let marker = 4000 + Int.random(in: 0..<5000)
        _ = try run(r, "kept = 1")
        XCTAssertEqual(r.boxPID.map(Int32.init), r.pid, "locally the box's pid is this host's")
        // Interrupted by the frame alone (no SIGINT from the agent).
        let sleeper = try run(r, "import time\ntime.sleep(60)", timeout: 0.3)
        XCTAssertEqual(sleeper.status, .interrupted)
        XCTAssertEqual(try run(r, "kept").value, "1")
        // Killed through the in-box session kill, with its bash() commands.
        let stubborn = try run(r, "import signal\nbash('nohup sleep \(marker) >/dev/null 2>&1 &')\n"
                               + "signal.signal(signal.SIGINT, signal.SIG_IGN)\nbash('sleep \(marker + 1)', timeout=1000)", timeout: 0.3)
        XCTAssertEqual(stubborn.status, .killed)
        try runLoop(loop, until: "in-box kill", seconds: 20) { !r.cleanupPending && !r.isStarted }
        try waitFor("the bash() commands to end", seconds: 10) {
            !Self.hostCommandLines().contains { $0 == "sleep \(marker)" || $0 == "sleep \(marker + 1)" }
        }
        XCTAssertEqual(try run(r, "'kept' in globals()").value, "False")
        XCTAssertEqual(r.generation, 2)
    }

    /// Command lines (spaces for NULs, trimmed) of this host's processes.
    static func hostCommandLines() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { e in
            guard Int32(e) != nil, let data = FileManager.default.contents(atPath: "/proc/\(e)/cmdline") else { return nil }
            return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        }
    }
}
