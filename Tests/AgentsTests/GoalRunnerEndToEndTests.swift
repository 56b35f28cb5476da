import XCTest
import Foundation
import Glibc
import Hosting
import LLM
import Loop
import Profile
@testable import Agents
import _TestSupport

final class GoalRunnerEndToEndTests: XCTestCase {
    var loop: EventLoop!
    var fake: FakeLLMServer!
    var dir: TemporaryDirectory!
    var runners: [GoalRunner] = []

    override func setUpWithError() throws {
        loop = EventLoop()
        fake = try FakeLLMServer(loop: loop)
        dir = TemporaryDirectory(prefix: "goal")
        try FileManager.default.createDirectory(atPath: dir.file("work"), withIntermediateDirectories: true)
    }

    override func tearDown() {
        for r in runners { r.close() }
        runners = []
        fake.stop()
        // Let close callbacks run.
        try? runLoop(loop, until: "handles closed", seconds: 0.2) { false }
        loop.close()
    }

    /// The binary sits next to the test bundle (on Linux `Bundle(for:)` may already be that directory).
    static var supervisorExecutable: String {
        let bundle = Bundle(for: GoalRunnerEndToEndTests.self).bundleURL
        let candidates = [bundle.deletingLastPathComponent().appendingPathComponent("supervisor").path,
                          bundle.appendingPathComponent("supervisor").path]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    static var environment: [String: String] {
        let env = ProcessInfo.processInfo.environment
        return ["PATH": env["PATH"] ?? "/usr/bin:/bin", "HOME": env["HOME"] ?? "/tmp"]
    }

    func config(goal: String, limit: Int = 10, doneWhen: String? = nil, mode: ContextMode = .partial, maxTokens: Int? = nil) -> AgentLaunchConfig {
        var spec = AgentSpec(name: "g1", kind: .goal, cwd: dir.file("work"))
        spec.goal = goal
        spec.limit = limit
        spec.doneWhen = doneWhen
        spec.contextMode = mode
        spec.llm.provider = .openaiCompatible
        spec.llm.baseURL = fake.baseURL
        spec.llm.model = "fake-model"
        spec.llm.apiKeyEnv = nil
        spec.llm.maxRetries = 0
        if let maxTokens { spec.llm.maxTokens = maxTokens }
        return AgentLaunchConfig(profile: "t", agent: spec, stateDir: dir.file("state"), logsDir: dir.file("logs"), settingsFile: nil)
    }

    /// What the line view wrote during the last `run`.
    var viewLines: [String] = []

    func run(_ config: AgentLaunchConfig, options: GoalRunnerOptions = GoalRunnerOptions(), seconds: Double = 60,
             box: Box? = nil, events: AgentEvents = AgentEvents(environment: [:])) throws -> (GoalResult, GoalRunner) {
        var o = options
        o.environment = GoalRunnerEndToEndTests.environment
        if o.shell.quietCheck == ShellSessionOptions().quietCheck { o.shell.quietCheck = 0.3 }
        if o.shell.commandTimeout == ShellSessionOptions().commandTimeout { o.shell.commandTimeout = 20 }
        let box = box ?? LocalBox(workspace: config.agent.cwd, environment: o.environment, withheld: [])
        let runner = try GoalRunner(config: config, loop: loop, box: box, options: o, events: events)
        runners.append(runner)
        viewLines = []
        runner.view = GoalLineView { [unowned self] in self.viewLines.append($0) }
        var result: GoalResult?
        runner.start { result = $0 }
        try runLoop(loop, until: "goal run", seconds: seconds) { result != nil }
        return (result!, runner)
    }

    /// The user message text of a recorded chat request.
    func userText(_ r: FakeRequestRecord) -> String {
        guard case .object(let o)? = r.json, case .array(let messages)? = o["messages"] else { return "" }
        var text = ""
        for m in messages {
            if case .object(let mo) = m, case .string(let s)? = mo["content"] { text += s + "\n" }
        }
        return text
    }

    func freePort() throws -> Int {
        let l = TCPStream(loop: loop)
        try l.bind(host: "127.0.0.1", port: 0)
        let port = l.localPort
        l.close()
        return port
    }

    func testFilesCdBackgroundServerAndDoneWhen() throws {
        let port = try freePort()
        for text in [
            "```bash\nmkdir -p sub && cd sub\n```",
            "pwd",
            "cat > note.txt <<'EOF'\nit's \"quoted\" ünïcode $HOME\nEOF",
            "export GREETING=hello-there",
            "echo $GREETING",
            "python3 -m http.server \(port) --bind 127.0.0.1 > server.log 2>&1 &",
        ] { fake.enqueue(.text(text)) }
        fake.fallback = { _ in .text("for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/\(port)) 2>/dev/null && break; sleep 0.1; done") }
        let check = "bash -c 'exec 3<>/dev/tcp/127.0.0.1/\(port)'"
        let (result, runner) = try run(config(goal: "serve files on \(port)", doneWhen: check))
        XCTAssertTrue(result.reached, "\(result)")
        XCTAssertEqual(result.exitStatus, 0)
        let steps = runner.history.steps
        XCTAssertEqual(steps[1].output, dir.file("work") + "/sub", "cd persisted")
        XCTAssertEqual(String(decoding: FileManager.default.contents(atPath: dir.file("work/sub/note.txt")) ?? Data(), as: UTF8.self),
                       "it's \"quoted\" ünïcode $HOME\n")
        XCTAssertEqual(steps[4].output, "hello-there", "export persisted")
        XCTAssertEqual(steps[5].status, .exited(0))
        // The model saw the earlier outcomes; no sentinel or prompt marker reached it.
        let third = userText(fake.requests[2])
        XCTAssertTrue(third.contains("/work/sub"), third)
        for r in fake.requests { XCTAssertFalse(userText(r).contains("__SV_"), userText(r)) }
        XCTAssertEqual(runner.history.finished, "reached")
        // History on disk and the terminal log.
        XCTAssertEqual(GoalHistory.load(path: dir.file("state/goal-history.json"))?.steps.count, steps.count)
        // ... as a transcript, the same format as the coder's sessions and exec's conversations.
        let transcript = try Transcript(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: dir.file("state/goal-history.json")))))
        XCTAssertEqual(transcript.kind, .goal)
        XCTAssertEqual(transcript.status, .finished(reason: "reached"))
        XCTAssertFalse(transcript.model.isEmpty)
        XCTAssertTrue(transcript.started.hasPrefix("20"), transcript.started)
        XCTAssertEqual(transcript.entries.filter { $0.event.type == "command" }.count, steps.count)
        let log = String(decoding: FileManager.default.contents(atPath: dir.file("logs/g1.terminal.log")) ?? Data(), as: UTF8.self)
        XCTAssertTrue(log.contains("=== step 2/10") && log.contains("/work/sub"), log)
        // The server is ended with the agent's shell.
        runner.close()
        try waitFor("server stopped", seconds: 10) {
            (try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8))?.contains(String(format: ":%04X 00000000:0000 0A", port)) != true
        }
    }

    func testInteractiveCommandIsDetectedAndReported() throws {
        fake.enqueue(.text("read -p 'Your name? ' name"))
        fake.enqueue(.text("python3 -c 'input(\"Continue? \")'"))
        fake.enqueue(.text("echo still-works"))
        fake.enqueue(.text("DONE: checked"))
        let (result, runner) = try run(config(goal: "try prompts"))
        XCTAssertTrue(result.reached)
        let steps = runner.history.steps
        XCTAssertEqual(steps[0].status, .waitingForInput)
        XCTAssertTrue(steps[0].output.contains("Your name?"), steps[0].output)
        XCTAssertEqual(steps[1].status, .waitingForInput)
        XCTAssertEqual(steps[2].output, "still-works")
        XCTAssertTrue(userText(fake.requests[1]).contains("waiting for interactive input"))
    }

    func testLongRunningForegroundCommandIsLeftRunningAndTheNextCommandRuns() throws {
        fake.enqueue(.text("python3 -u -c 'import time; print(\"started\"); time.sleep(120)'"))
        fake.enqueue(.text("echo next-ran; jobs"))
        fake.enqueue(.text("DONE: ok"))
        var options = GoalRunnerOptions()
        options.shell.commandTimeout = 1.5
        let (result, runner) = try run(config(goal: "run something long"), options: options)
        XCTAssertTrue(result.reached)
        let steps = runner.history.steps
        guard case .stillRunning(_, let job, let interrupted) = steps[0].status else { return XCTFail("\(steps[0].status)") }
        XCTAssertFalse(interrupted)
        XCTAssertNotNil(job)
        XCTAssertTrue(steps[0].output.contains("started"), steps[0].output)
        XCTAssertTrue(steps[1].output.hasPrefix("next-ran"), steps[1].output)
        XCTAssertTrue(steps[1].output.contains("Running"), steps[1].output)
        XCTAssertTrue(userText(fake.requests[1]).contains("still running"))
    }

    func testLimitEndsTheRunWithNonZeroStatus() throws {
        fake.fallback = { _ in .text("echo again") }
        let (result, runner) = try run(config(goal: "never done", limit: 3))
        XCTAssertFalse(result.reached)
        XCTAssertEqual(result.reason, "limit")
        XCTAssertEqual(result.exitStatus, 1)
        XCTAssertEqual(runner.history.steps.count, 3)
        XCTAssertEqual(fake.requests.count, 3)
        XCTAssertEqual(runner.history.finished, "limit")
    }

    /// A request the provider refuses as too long for the model's window (a local server with a
    /// small context) is made again with 70% of its message (the engine's one policy), instead of
    /// ending the run; the smaller budget is kept in the history.
    func testContextOverflowAsksAgainSmaller() throws {
        let body = #"{"error":{"message":"This model's maximum context length is 4096 tokens. However, your messages resulted in 5000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#
        fake.enqueue(FakeReply(items: [], fault: .status(400, body: body, headers: [])))
        fake.enqueue(.text("echo hi"))
        fake.fallback = { _ in .text("DONE: said hi") }
        let (result, runner) = try run(config(goal: "say hi", limit: 3))
        XCTAssertTrue(result.reached, "\(result)")
        XCTAssertEqual(fake.requests.count, 3)
        // openai-compatible's default window (8192) is below the goal's own 16000.
        XCTAssertTrue(viewLines.joined().contains("did not fit the model's context window; trying again with about"), viewLines.joined())
        let first = GoalPrompt.estimateTokens(fake.requests[0].json?["messages"]?[1]?["content"]?.stringValue ?? "")
        XCTAssertGreaterThan(first, 0)
        XCTAssertEqual(GoalHistory.load(path: runner.config.stateDir + "/goal-history.json")?.contextCap?.tokens, first * 7 / 10)
    }

    func testAnOverflowThatDoesNotGoAwayEndsTheRun() throws {
        let body = #"{"error":{"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#
        fake.fallback = { _ in FakeReply(items: [], fault: .status(400, body: body, headers: [])) }
        let pipe = EventsPipe()
        let (result, _) = try run(config(goal: "say hi", limit: 3), events: pipe.events)
        XCTAssertEqual(result.reason, "model error")
        XCTAssertEqual(fake.requests.count, 4, "the first request and 3 smaller ones")
        // A model error is not conclusive: a restart may get past it.
        XCTAssertFalse(pipe.lines.contains { $0.contains(#""type":"final""#) }, "\(pipe.lines)")
    }

    /// `tokens` events carry one request's amounts (the dashboard adds them up); the history
    /// keeps the totals.
    func testTokensEventsCarryEachRequestsAmounts() throws {
        fake.fallback = { _ in .text("echo again", usage: Usage(input: 100, output: 7)) }
        let pipe = EventsPipe()
        let (_, runner) = try run(config(goal: "never done", limit: 3), events: pipe.events)
        let tokens = pipe.lines.filter { $0.contains("\"type\":\"tokens\"") }
        XCTAssertEqual(tokens.count, 3, "\(pipe.lines)")
        for line in tokens { XCTAssertTrue(line.contains("\"input\":100,\"output\":7,"), line) }
        XCTAssertEqual(runner.history.inputTokens, 300)
        XCTAssertEqual(runner.history.outputTokens, 21)
        // The limit is a conclusive end: the shim is told not to run the goal again.
        XCTAssertEqual(pipe.lines.filter { $0.contains(#""type":"final","reason":"limit: the limit of 3 commands was reached""#) }.count, 1,
                       "\(pipe.lines)")
    }

    func testDoneIsCheckedAgainstDoneWhen() throws {
        fake.enqueue(.text("DONE: surely"))
        fake.enqueue(.text("touch ready"))
        let (result, runner) = try run(config(goal: "make ready", doneWhen: "test -f ready"))
        XCTAssertTrue(result.reached)
        XCTAssertEqual(runner.history.steps.count, 1)
        XCTAssertTrue(userText(fake.requests[1]).contains("you answered DONE, but the check"), userText(fake.requests[1]))
    }

    func testFullModeSummarizesLongOutputInChunksRecursively() throws {
        fake.enqueue(.text("seq 1 1000"))
        let long = String(repeating: "summary-part numbers were listed ", count: 22) // ~700 characters
        fake.fallback = { r in
            let text = self.userText(r)
            if text.contains("Summarize") {
                return .text(text.contains("summary-part") ? "S2: the numbers 1 to 1000" : long)
            }
            return .text("DONE: listed")
        }
        let (result, runner) = try run(config(goal: "list numbers", mode: .full, maxTokens: 50).with { _ in }, options: {
            var o = GoalRunnerOptions(); o.contextBudget = 600; return o
        }())
        XCTAssertTrue(result.reached, "\(result)")
        let summaries = fake.requests.filter { userText($0).contains("Summarize") }
        let firstLevel = summaries.filter { userText($0).contains("\n999\n") || userText($0).contains("\n1\n2\n") || userText($0).contains("500") }
        XCTAssertGreaterThanOrEqual(firstLevel.count, 2, "the output went in chunks")
        XCTAssertTrue(summaries.contains { userText($0).contains("summary-part") }, "summaries were summarized again")
        for r in summaries { XCTAssertLessThanOrEqual(GoalPrompt.estimateTokens(userText(r)), 600) }
        let last = userText(fake.requests.last!)
        XCTAssertTrue(last.contains("summarized") && last.contains("S2"), last)
        XCTAssertFalse(last.contains("\n999\n"))
        XCTAssertNotNil(runner.history.steps[0].summary)
    }

    func testResumeAfterKillContinuesFromTheRecordedHistory() throws {
        let binary = GoalRunnerEndToEndTests.supervisorExecutable
        guard FileManager.default.isExecutableFile(atPath: binary) else { return XCTFail("no supervisor binary at \(binary) (build with swift build --build-tests)") }
        let cfg = config(goal: "resume me", limit: 10)
        try cfg.write(to: dir.file("agent.json"))
        fake.enqueue(.text("echo one > one.txt && echo wrote-one"))
        fake.enqueue(.text("echo two > two.txt && echo wrote-two"))
        var stalled = false
        fake.fallback = { r in
            let text = self.userText(r)
            if text.contains("restarted") { return .text(text.contains("wrote-one") && text.contains("wrote-two") ? "DONE: both files" : "echo missing") }
            stalled = true
            var reply = FakeReply.text("echo never")
            reply.fault = .stall(afterEvents: 0, seconds: 60)
            return reply
        }
        func start(_ onExit: @escaping (ProcessExit) -> Void) throws -> ChildProcess {
            try ChildProcess(loop: loop, arguments: [binary, "agent", "goal", "--config", dir.file("agent.json"), "--plain"],
                             environment: GoalRunnerEndToEndTests.environment, directory: dir.path,
                             stdio: [.ignore, .ignore, .inherit(2)], onExit: onExit)
        }
        var firstExit: ProcessExit?
        let first = try start { firstExit = $0 }
        defer { if firstExit == nil { kill(first.pid, SIGKILL) } }
        try runLoop(loop, until: "two steps recorded and the third request in flight", seconds: 30) {
            stalled && (GoalHistory.load(path: self.dir.file("state/goal-history.json"))?.steps.count ?? 0) == 2
        }
        kill(first.pid, SIGKILL)
        try runLoop(loop, until: "first agent killed", seconds: 10) { firstExit != nil }
        XCTAssertEqual(firstExit, .signaled(SIGKILL))
        first.close()

        let before = fake.requests.count
        var secondExit: ProcessExit?
        let second = try start { secondExit = $0 }
        defer { if secondExit == nil { kill(second.pid, SIGKILL) } }
        try runLoop(loop, until: "second agent finished", seconds: 30) { secondExit != nil }
        second.close()
        XCTAssertEqual(secondExit, .exited(0))
        let next = userText(fake.requests[before])
        XCTAssertTrue(next.contains("echo one > one.txt") && next.contains("wrote-two"), next)
        XCTAssertTrue(next.contains("the agent was restarted"), next)
        let history = GoalHistory.load(path: dir.file("state/goal-history.json"))
        XCTAssertEqual(history?.restarts, 1)
        XCTAssertEqual(history?.steps.count, 2)
        XCTAssertEqual(history?.reached, true)
    }

    // MARK: A reached goal that stays

    /// `stay`: once the goal is reached the shell and its background server keep running (the
    /// state says "staying", the pane says so); when the shell then ends by itself the runner
    /// reports it, so the agent can exit non-zero and be restarted.
    func testStayKeepsTheShellAndItsServerAfterTheGoalIsReached() throws {
        let port = try freePort()
        fake.enqueue(.text("echo $$ > shell.pid; python3 -m http.server \(port) --bind 127.0.0.1 > server.log 2>&1 &"))
        fake.fallback = { _ in .text("for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/\(port)) 2>/dev/null && break; sleep 0.1; done") }
        var cfg = config(goal: "serve on \(port)", doneWhen: "bash -c 'exec 3<>/dev/tcp/127.0.0.1/\(port)'")
        cfg.agent.stay = true
        let pipe = EventsPipe()
        let (result, runner) = try run(cfg, events: pipe.events)
        XCTAssertTrue(result.reached, "\(result)")
        XCTAssertEqual(result.exitStatus, 0)
        XCTAssertTrue(runner.staying)
        var stayEnded: String?
        runner.onStayEnded = { stayEnded = $0 }
        let listening = String(format: ":%04X 00000000:0000 0A", port)
        func serverListens() -> Bool { (try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8))?.contains(listening) == true }
        // The loop keeps running (as the agent process does while it stays): the server answers.
        var connected = false
        BoxCommand(loop: loop, box: LocalBox(workspace: dir.path, environment: GoalRunnerEndToEndTests.environment, withheld: []),
                   shellCommand: "exec 3<>/dev/tcp/127.0.0.1/\(port)", timeout: 10) { connected = $0.exit == .exited(0) }
        try runLoop(loop, until: "connected to the server after the goal was reached", seconds: 15) { connected }
        XCTAssertTrue(serverListens())
        let states = pipe.lines.filter { $0.contains("\"type\":\"state\"") }
        XCTAssertTrue(states.last?.contains("\"state\":\"staying\"") == true, "\(states)")
        XCTAssertTrue(viewLines.joined().contains("Staying: the goal was reached"), viewLines.joined())

        // The shell is killed from outside (its box died): the runner says the stay ended.
        let pidText = try String(contentsOfFile: dir.file("work/shell.pid"), encoding: .utf8)
        let shellPID = try XCTUnwrap(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(shellPID, SIGKILL)
        try runLoop(loop, until: "the stay ended", seconds: 15) { stayEnded != nil }
        XCTAssertFalse(runner.staying)
        XCTAssertTrue(pipe.lines.last { $0.contains("\"type\":\"state\"") }?.contains("\"idle\"") == true)
        runner.close()
        try waitFor("server stopped", seconds: 10) { !serverListens() }
    }

    /// Without `stay` a reached goal ends the shell and what it started, at once.
    func testWithoutStayAReachedGoalEndsItsJobs() throws {
        fake.enqueue(.text("sleep 300 & echo $! > job.pid"))
        fake.enqueue(.text("DONE: started"))
        let (result, runner) = try run(config(goal: "start a job"))
        XCTAssertTrue(result.reached)
        XCTAssertFalse(runner.staying)
        let pid = try XCTUnwrap(pid_t((try String(contentsOfFile: dir.file("work/job.pid"), encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        try waitFor("the background job ended", seconds: 10) {
            kill(pid, 0) != 0 || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") == true
        }
    }

    /// The agent process with `stay` in its launch config: after "Goal reached" it keeps running
    /// (state "staying" on its events descriptor, a "Staying:" line in its pane) until a signal,
    /// then exits 0.
    func testAgentProcessStaysUntilStopped() throws {
        let binary = GoalRunnerEndToEndTests.supervisorExecutable
        guard FileManager.default.isExecutableFile(atPath: binary) else { return XCTFail("no supervisor binary at \(binary) (build with swift build --build-tests)") }
        var cfg = config(goal: "start a job and stay")
        cfg.agent.stay = true
        try cfg.write(to: dir.file("agent.json"))
        fake.enqueue(.text("sleep 300 & echo $! > job.pid"))
        fake.enqueue(.text("DONE: started"))
        let out = PipeStream(loop: loop)
        let events = PipeStream(loop: loop)
        var output = "", eventText = ""
        var exit: ProcessExit?
        var env = GoalRunnerEndToEndTests.environment
        env["SUPERVISOR_EVENTS_FD"] = "3"
        let p = try ChildProcess(loop: loop, arguments: [binary, "agent", "goal", "--config", dir.file("agent.json"), "--plain"],
                                 environment: env, directory: dir.path,
                                 stdio: [.ignore, .pipe(out, childReads: false), .inherit(2), .pipe(events, childReads: false)]) { exit = $0 }
        defer { if exit == nil { kill(p.pid, SIGKILL) } }
        try out.startReading { r in if case .data(let b) = r { output += String(decoding: b, as: UTF8.self) } }
        try events.startReading { r in if case .data(let b) = r { eventText += String(decoding: b, as: UTF8.self) } }
        try runLoop(loop, until: "goal reached and staying", seconds: 30) {
            output.contains("Staying:") && eventText.contains("\"state\":\"staying\"") || exit != nil
        }
        XCTAssertNil(exit, "the agent exited although it stays: \(output)")
        XCTAssertTrue(output.contains("Goal reached"), output)
        let job = try XCTUnwrap(pid_t((try String(contentsOfFile: dir.file("work/job.pid"), encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertEqual(kill(job, 0), 0, "the background job still runs")
        kill(p.pid, SIGTERM)
        try runLoop(loop, until: "agent stopped", seconds: 15) { exit != nil }
        XCTAssertEqual(exit, .exited(0))
        out.close(); events.close(); p.close()
        try waitFor("the background job ended with the agent", seconds: 10) {
            kill(job, 0) != 0 || (try? String(contentsOfFile: "/proc/\(job)/stat", encoding: .utf8))?.contains(") Z ") == true
        }
    }

    // MARK: The shell and the box

    /// A shell that ends (killed) is replaced before the next command, and the model is told its
    /// variables and jobs are gone; the status no longer claims a new shell where none is.
    func testShellThatEndsIsReplacedAndTheModelIsTold() throws {
        fake.enqueue(.text("export MARK=old; sleep 300 & echo $! > job.pid; kill -9 $$"))
        fake.enqueue(.text("echo mark=${MARK:-none}"))
        fake.enqueue(.text("DONE: ok"))
        let (result, runner) = try run(config(goal: "survive"))
        XCTAssertTrue(result.reached, "\(result)")
        // The old shell's background job went with it (as the note to the model says).
        let job = try XCTUnwrap(pid_t((try String(contentsOfFile: dir.file("work/job.pid"), encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        try waitFor("the old shell's job ended", seconds: 10) {
            kill(job, 0) != 0 || (try? String(contentsOfFile: "/proc/\(job)/stat", encoding: .utf8))?.contains(") Z ") == true
        }
        let steps = runner.history.steps
        guard case .shellExited = steps[0].status else { return XCTFail("\(steps[0].status)") }
        XCTAssertFalse("\(steps[0].status)".contains("new shell"), "\(steps[0].status)")
        XCTAssertEqual(steps[1].output, "mark=none", "a new shell")
        XCTAssertTrue(steps[0].notes.contains { $0.contains("a new shell was started in \(self.dir.file("work"))") }, "\(steps[0].notes)")
        let second = userText(fake.requests[1])
        XCTAssertTrue(second.contains("a new shell was started"), second)
    }

    /// The box dies mid-run (a container that is gone): no shell can be started, so the run ends
    /// at once with a clear reason and a non-zero status instead of wasting every remaining step;
    /// the history stays unfinished, and the next start (the restart, with the box back) resumes it.
    func testBoxThatDiesEndsTheRunAndARestartResumes() throws {
        let alive = dir.write("alive", "")
        let env = GoalRunnerEndToEndTests.environment
        func box() -> Box { MortalBox(inner: LocalBox(workspace: dir.file("work"), environment: env, withheld: []), aliveFile: alive) }
        var options = GoalRunnerOptions()
        options.shell.inBoxProcesses = false // host /proc is right here; in-box probes would reap other tests' shells
        fake.enqueue(.text("echo one > one.txt; rm -f \(alive); kill -9 $$"))
        fake.fallback = { _ in .text("echo wasted") }
        let (result, runner) = try run(config(goal: "outlive the box", limit: 10), options: options, box: box())
        XCTAssertFalse(result.reached)
        XCTAssertEqual(result.reason, "no shell")
        XCTAssertEqual(result.exitStatus, 1)
        XCTAssertTrue(result.detail.contains("no shell could be started") && result.detail.contains("2 attempts"), result.detail)
        XCTAssertTrue(result.detail.contains("No such container"), result.detail)
        XCTAssertEqual(fake.requests.count, 1, "the model was not asked again")
        XCTAssertEqual(runner.history.steps.count, 1)
        XCTAssertNil(runner.history.finished, "left unfinished for the restart to resume")
        runner.close()

        // The box is back (the shim made the container again): the restarted agent resumes.
        FileManager.default.createFile(atPath: alive, contents: nil)
        fake.enqueue(.text("cat one.txt"))
        fake.enqueue(.text("DONE: back"))
        let (again, second) = try run(config(goal: "outlive the box", limit: 10), options: options, box: box())
        XCTAssertTrue(again.reached, "\(again)")
        XCTAssertEqual(second.history.restarts, 1)
        XCTAssertEqual(second.history.steps.map(\.output), ["", "one"])
        XCTAssertTrue(userText(fake.requests[1]).contains("the agent was restarted"), userText(fake.requests[1]))
    }

    /// The box is gone from the start: the run ends with "no shell" before asking the model.
    func testNoShellAtTheStartEndsTheRunWithoutAskingTheModel() throws {
        var options = GoalRunnerOptions()
        options.shell.inBoxProcesses = false
        let box = MortalBox(inner: LocalBox(workspace: dir.file("work"), environment: GoalRunnerEndToEndTests.environment, withheld: []),
                            aliveFile: dir.file("missing"))
        let (result, runner) = try run(config(goal: "nothing"), options: options, box: box)
        XCTAssertEqual(result.reason, "no shell")
        XCTAssertEqual(result.exitStatus, 1)
        XCTAssertEqual(fake.requests.count, 0)
        XCTAssertNil(runner.history.finished)
    }

    // MARK: Answers cut off at max_tokens

    /// An answer that stopped at max_tokens is not run (half a heredoc would write half a file);
    /// the step says so and the next prompt tells the model to use shorter commands. A command
    /// in a closed code block is whole, and runs, even when prose after it was cut.
    func testCutOffAnswerIsNotRunAndTheModelIsToldToBeShorter() throws {
        fake.enqueue(FakeReply(items: [.text("cat > half.txt <<'EOF'\nline one\nline tw")], stopReason: "max_tokens"))
        fake.enqueue(FakeReply(items: [.text("```bash\necho whole > whole.txt\n```\nThis writes the fi")], stopReason: "max_tokens"))
        fake.enqueue(.text("DONE: written"))
        let (result, runner) = try run(config(goal: "write files"))
        XCTAssertTrue(result.reached, "\(result)")
        let steps = runner.history.steps
        XCTAssertEqual(steps.count, 2)
        XCTAssertEqual(steps[0].status, .cutOff(maxTokens: 200))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("work/half.txt")), "the cut heredoc was not run")
        let second = userText(fake.requests[1])
        XCTAssertTrue(second.contains("cut off at max_tokens (200 tokens)") && second.contains("shorter commands"), second)
        XCTAssertEqual(steps[1].status, .exited(0))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("work/whole.txt")))
        XCTAssertTrue(runner.summaryText(result).contains("cut off at max_tokens, not run"))
        // The system prompt warns of the limit up front.
        XCTAssertTrue(userText(fake.requests[0]).contains("Your answer may be at most 200 tokens"), userText(fake.requests[0]))
    }

    // MARK: Time budget

    /// The time budget interrupts a running command and ends the run with the budget message,
    /// instead of waiting for the command (or its timeout).
    func testTimeBudgetInterruptsARunningCommand() throws {
        fake.enqueue(.text("sleep 30; echo not-reached"))
        fake.fallback = { _ in .text("echo again") }
        var cfg = config(goal: "take long")
        cfg.agent.timeBudget = 1.5
        let started = EventLoop.monotonicSeconds()
        let (result, runner) = try run(cfg, seconds: 40)
        let took = EventLoop.monotonicSeconds() - started
        XCTAssertEqual(result.reason, "time budget")
        XCTAssertTrue(result.detail.contains("the time budget of 1.5s is used up"), result.detail)
        XCTAssertLessThan(took, 10, "the command was interrupted, not waited for")
        XCTAssertEqual(runner.history.steps.count, 1)
        XCTAssertEqual(runner.history.steps[0].status, .interrupted("the time budget of 1.5s ran out"))
        XCTAssertFalse(runner.history.steps[0].output.contains("not-reached"))
        XCTAssertEqual(fake.requests.count, 1)
    }

    // MARK: --url

    /// `--url` alone means a keyless local OpenAI-compatible server; a /v1/completions URL picks
    /// that endpoint. No key is sent even when OPENAI_API_KEY is set.
    func testURLFlagMeansAKeylessLocalServer() throws {
        let binary = GoalRunnerEndToEndTests.supervisorExecutable
        guard FileManager.default.isExecutableFile(atPath: binary) else { return XCTFail("no supervisor binary at \(binary) (build with swift build --build-tests)") }
        var env = GoalRunnerEndToEndTests.environment
        env["OPENAI_API_KEY"] = "sk-canary-must-not-be-sent"
        func agent(_ args: [String]) throws -> (ProcessExit?, String) {
            var exit: ProcessExit?
            let out = PipeStream(loop: loop), err = PipeStream(loop: loop)
            var output = ""
            var open = 2
            let p = try ChildProcess(loop: loop, arguments: [binary, "agent", "goal", "--goal", "say done", "--workdir", dir.file("work"),
                                                             "--state-dir", dir.file("st"), "--plain"] + args,
                                     environment: env, directory: dir.path,
                                     stdio: [.ignore, .pipe(out, childReads: false), .pipe(err, childReads: false)]) { exit = $0 }
            defer { if exit == nil { kill(p.pid, SIGKILL) } }
            for stream in [out, err] {
                try stream.startReading { r in if case .data(let b) = r { output += String(decoding: b, as: UTF8.self) } else { open -= 1 } }
            }
            try runLoop(loop, until: "agent finished", seconds: 30) { exit != nil && open == 0 }
            out.close(); err.close(); p.close()
            return (exit, output)
        }
        fake.enqueue(.text("DONE: said"))
        var (exit, output) = try agent(["--url", fake.baseURL + "/v1/completions/"])
        XCTAssertEqual(exit, .exited(0), output)
        XCTAssertEqual(fake.requests.count, 1)
        XCTAssertEqual(fake.requests[0].path, "/v1/completions")
        XCTAssertNil(fake.requests[0].header("authorization"))
        guard case .object(let body)? = fake.requests[0].json else { return XCTFail("no JSON body") }
        XCTAssertEqual(body["model"], .string("local-model"))

        fake.enqueue(.text("DONE: said"))
        (exit, output) = try agent(["--url", fake.baseURL + "/v1", "--model", "served-model"])
        XCTAssertEqual(exit, .exited(0), output)
        XCTAssertEqual(fake.requests[1].path, "/v1/chat/completions")
        XCTAssertNil(fake.requests[1].header("authorization"))
        guard case .object(let chat)? = fake.requests[1].json else { return XCTFail("no JSON body") }
        XCTAssertEqual(chat["model"], .string("served-model"))

        (exit, output) = try agent(["--url", "localhost:8000"])
        XCTAssertEqual(exit, .exited(2), output)
        XCTAssertTrue(output.contains("--url: expected an http:// or https:// URL"), output)
        XCTAssertEqual(fake.requests.count, 2)
    }

    func testScriptProviderDemoRunsThroughTheBinary() throws {
        let binary = GoalRunnerEndToEndTests.supervisorExecutable
        guard FileManager.default.isExecutableFile(atPath: binary) else { return XCTFail("no supervisor binary at \(binary) (build with swift build --build-tests)") }
        let port = try freePort()
        let script = dir.write("demo.script", """
        --- turn 1
        ```bash
        mkdir -p site && echo '<h1>hello</h1>' > site/index.html
        ```
        --- turn 2
        $ cd site
        --- turn 3
        read -p "Name? " name
        --- turn 4
        @expect interactive input
        python3 -m http.server \(port) --bind 127.0.0.1 > /dev/null 2>&1 &
        --- turn 5
        for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/\(port)) 2>/dev/null && break; sleep 0.1; done
        --- turn 6
        DONE: served
        """)
        var exit: ProcessExit?
        let out = PipeStream(loop: loop)
        var output = ""
        let p = try ChildProcess(loop: loop, arguments: [binary, "agent", "goal", "--goal", "serve a page", "--provider", "script", "--script", script,
                                                         "--workdir", dir.file("work"), "--state-dir", dir.file("st"), "--quiet-check", "0.3",
                                                         "--done-when", "bash -c 'exec 3<>/dev/tcp/127.0.0.1/\(port)'"],
                                 environment: GoalRunnerEndToEndTests.environment, directory: dir.path,
                                 stdio: [.ignore, .pipe(out, childReads: false), .inherit(2)]) { exit = $0 }
        defer { if exit == nil { kill(p.pid, SIGKILL) } }
        var eof = false
        try out.startReading { r in
            if case .data(let b) = r { output += String(decoding: b, as: UTF8.self) } else { eof = true }
        }
        try runLoop(loop, until: "demo finished", seconds: 40) { exit != nil && eof }
        out.close(); p.close()
        XCTAssertEqual(exit, .exited(0), output)
        XCTAssertTrue(output.contains("Goal reached"), output)
        XCTAssertTrue(output.contains("waited for input"), output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("st/goal.terminal.log")))
    }
}

/// A local box that can "die" like a container: every process it starts (the shell, checks)
/// first needs `aliveFile`; without it the start fails at once, as `docker exec` into a
/// container that is gone does.
final class MortalBox: Box {
    let inner: LocalBox
    let aliveFile: String
    init(inner: LocalBox, aliveFile: String) { self.inner = inner; self.aliveFile = aliveFile }
    var description: String { "mortal " + inner.description }
    var hostWorkspace: String { inner.hostWorkspace }
    var boxWorkspace: String { inner.boxWorkspace }
    var hostProcessDirectory: String { inner.hostProcessDirectory }
    func argv(_ arguments: [String], directory: String?, environment: [String: String], interactive: Bool, tty: Bool) -> [String] {
        ["/bin/sh", "-c", "test -e \"$0\" || { echo 'Error: No such container: box' >&2; exit 1; }; exec \"$@\"", aliveFile]
            + inner.argv(arguments, directory: directory, environment: environment, interactive: interactive, tty: tty)
    }
    func hostProcessEnvironment(_ extra: [String: String]) -> [String: String] { inner.hostProcessEnvironment(extra) }
}

/// Reads the events an agent wrote to its events descriptor (a pipe, as under the shim).
final class EventsPipe {
    let readFD: Int32
    let writeFD: Int32
    private var buffer = ""
    init() {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0)
        readFD = fds[0]; writeFD = fds[1]
        _ = fcntl(readFD, F_SETFL, fcntl(readFD, F_GETFL) | O_NONBLOCK)
    }
    var events: AgentEvents { AgentEvents(environment: ["SUPERVISOR_EVENTS_FD": "\(writeFD)"]) }
    /// Every line written so far.
    var lines: [String] {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(readFD, &chunk, chunk.count)
            if n <= 0 { break }
            buffer += String(decoding: chunk[0..<n], as: UTF8.self)
        }
        return buffer.split(separator: "\n").map(String.init)
    }
    deinit { close(readFD); close(writeFD) }
}

extension AgentLaunchConfig {
    func with(_ change: (inout AgentLaunchConfig) -> Void) -> AgentLaunchConfig { var c = self; change(&c); return c }
}

extension GoalRunnerEndToEndTests {
    // MARK: Faults and resuming

    /// A model error does not start the run over: the history stays unfinished, and the next
    /// start (the shim's restart) resumes it with the commands that ran, the step limit and
    /// the spending as they were.
    func testAModelErrorIsResumedNotStartedOver() throws {
        fake.enqueue(.text("echo one >> one.txt"))
        fake.enqueue(.status(401, type: "authentication_error", message: "invalid key"))
        let cfg = config(goal: "write one.txt", limit: 5)
        let (first, _) = try run(cfg)
        XCTAssertEqual(first.reason, "model error")
        XCTAssertNil(GoalHistory.load(path: dir.file("state") + "/goal-history.json")?.finished)
        fake.fallback = { _ in .text("DONE: written") }
        let (second, runner) = try run(cfg)
        XCTAssertTrue(second.reached, "\(second)")
        XCTAssertEqual(runner.history.steps.map(\.command), ["echo one >> one.txt"], "not run again")
        XCTAssertEqual(try String(contentsOfFile: dir.file("work/one.txt"), encoding: .utf8), "one\n")
        XCTAssertEqual(runner.history.restarts, 1)
        XCTAssertEqual(runner.history.requests, 2, "the answered requests of both processes")
        let asked = userText(fake.requests[2])
        XCTAssertFalse(asked.contains("No commands have been run yet"), asked)
        XCTAssertTrue(asked.contains("echo one >> one.txt"), asked)
    }

    /// Killed while a command runs: the command was recorded before it started, so the resumed
    /// run knows it ran and was interrupted (and does not count from step 1).
    func testAKillMidCommandIsKnownOnResume() throws {
        fake.enqueue(.text("echo started > started.txt; sleep 30"))
        let cfg = config(goal: "start it", limit: 5)
        var o = GoalRunnerOptions()
        o.environment = GoalRunnerEndToEndTests.environment
        let box = LocalBox(workspace: cfg.agent.cwd, environment: o.environment, withheld: [])
        let killed = try GoalRunner(config: cfg, loop: loop, box: box, options: o, events: AgentEvents(environment: [:]))
        runners.append(killed)
        var ended: GoalResult?
        killed.start { ended = $0 }
        try runLoop(loop, until: "the command to start", seconds: 30) { FileManager.default.fileExists(atPath: self.dir.file("work/started.txt")) }
        killed.stop(reason: "SIGTERM")
        try runLoop(loop, until: "the run to end", seconds: 10) { ended != nil }
        XCTAssertEqual(GoalHistory.load(path: dir.file("state") + "/goal-history.json")?.running?.n, 1)

        fake.fallback = { _ in .text("DONE: started") }
        let (result, runner) = try run(cfg)
        XCTAssertTrue(result.reached, "\(result)")
        guard runner.history.steps.count == 1 else { return XCTFail("\(runner.history.steps)") }
        guard case .interrupted(let why) = runner.history.steps[0].status else { return XCTFail("\(runner.history.steps[0].status)") }
        XCTAssertTrue(why.contains("the agent was stopped while it ran"), why)
        XCTAssertNil(runner.history.running)
        XCTAssertTrue(userText(fake.requests[1]).contains("echo started > started.txt"), userText(fake.requests[1]))
    }

    /// The same fault as in the other agents: a reset mid-stream is retried, the partial answer
    /// (half a command) never runs.
    func testAResetMidStreamIsRetriedAndTheHalfCommandNeverRuns() throws {
        fake.enqueue(FakeReply(items: [.text("echo whole >> w.txt; echo half >> h.txt")], fault: .resetAfter(events: 3)))
        fake.enqueue(.text("echo whole >> w.txt"))
        fake.fallback = { _ in .text("DONE: written") }
        var cfg = config(goal: "write w.txt", limit: 5)
        cfg.agent.llm.maxRetries = 2
        let pipe = EventsPipe()
        let (result, runner) = try run(cfg, events: pipe.events)
        XCTAssertTrue(result.reached, "\(result)")
        XCTAssertEqual(runner.history.steps.map(\.command), ["echo whole >> w.txt"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("work/h.txt")))
        XCTAssertEqual(pipe.lines.filter { $0.contains(#""type":"error""#) && $0.contains("asking again") }.count, 1, "\(pipe.lines)")
    }
}

extension GoalRunnerEndToEndTests {
    func testTheSameFaultsGiveTheSameEventsAsInTheOtherAgents() throws {
        func modelSide(_ pipe: EventsPipe) -> [String] {
            SameFault.modelSide(pipe.lines.compactMap { (try? JSONValue.parse(Array($0.utf8)))?["type"]?.stringValue })
        }
        var pipe = EventsPipe()
        fake.enqueue(FakeReply(items: [], fault: .status(400, body: #"{"error":{"message":"prompt is too long: 9000 tokens > 8192 maximum","type":"invalid_request_error"}}"#, headers: [])))
        fake.enqueue(.text("DONE: nothing to do"))
        var (result, _) = try run(config(goal: "first"), events: pipe.events)
        XCTAssertTrue(result.reached, "\(result)")
        XCTAssertEqual(modelSide(pipe), SameFault.tooLongThenAnswer)

        pipe = EventsPipe()
        fake.enqueue(FakeReply(items: [.text("cat > big.txt <<EOF\nthe answer is")], stopReason: "max_tokens"))
        fake.enqueue(.text("DONE: nothing to do"))
        (result, _) = try run(config(goal: "second"), events: pipe.events)
        XCTAssertTrue(result.reached, "\(result)")
        XCTAssertEqual(modelSide(pipe), SameFault.cutThenAnswer)

        pipe = EventsPipe()
        fake.enqueue(.status(429, type: "rate_limit_error", message: "slow down"))
        (result, _) = try run(config(goal: "third"), events: pipe.events)
        XCTAssertEqual(result.reason, "model error")
        XCTAssertEqual(modelSide(pipe), SameFault.rateLimited)
    }
}
