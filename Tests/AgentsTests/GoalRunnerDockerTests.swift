import Foundation
import Glibc
import Hosting
import LLM
import Loop
import Profile
import XCTest
@testable import Agents
import _TestSupport

/// The goal runner's shell session when the box has its own processes (a container): waiting
/// for input is detected from inside the box, Ctrl-Z/bg and Ctrl-C reach the container's
/// foreground job through `docker exec -t`, the escalation (SIGKILL of the foreground group)
/// and the clean-up at exit act inside the box. The same in-box probes also run against a
/// LocalBox (`inBoxProcesses = true`), so their logic is tested where no engine runs.
final class GoalRunnerDockerTests: XCTestCase {
    var loop: EventLoop!
    var sessions: [ShellSession] = []

    override func setUp() {
        loop = EventLoop()
    }

    override func tearDown() {
        for s in sessions { s.close() }
        sessions = []
        try? runLoop(loop, until: "handles closed", seconds: 0.3) { false }
        loop.close()
    }

    func session(_ box: Box, inBox: Bool?) -> ShellSession {
        var o = ShellSessionOptions()
        o.quietCheck = 0.3
        o.commandTimeout = 2
        o.grace = 1
        o.inBoxProcesses = inBox
        let s = ShellSession(loop: loop, box: box, environment: ["SV_GOAL_TEST": "1"], options: o)
        sessions.append(s)
        return s
    }

    @discardableResult
    func run(_ s: ShellSession, _ command: String, seconds: Double = 40) throws -> ShellOutcome {
        var outcome: ShellOutcome?
        s.run(command) { outcome = $0 }
        try runLoop(loop, until: "command \(command.debugDescription)", seconds: seconds) { outcome != nil }
        return outcome!
    }

    /// One-shot command in the box (a fresh process, not the session).
    func inBox(_ box: Box, _ command: String) throws -> String {
        var result: CommandResult?
        BoxCommand(loop: loop, box: box, shellCommand: command, timeout: 30) { result = $0 }
        try runLoop(loop, until: "box command", seconds: 40) { result != nil }
        return result!.output
    }

    /// How many processes in the box run exactly `args` (cmdline with spaces).
    func count(_ box: Box, args: String) throws -> Int {
        // `{ ...; } 2>/dev/null`: the error of a redirect from a process that just ended must not
        // reach the output (`< $f 2>/dev/null` opens $f before stderr is redirected).
        let out = try inBox(box, "for f in /proc/[0-9]*/cmdline; do { tr '\\0' ' ' < $f; } 2>/dev/null; echo; done | grep -cxF '\(args) ' || true")
        return Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// The behaviours that must be the same locally and in a container.
    func exercise(_ s: ShellSession, box: Box, tmp: String) throws {
        let marker = 4000 + Int.random(in: 0..<5000)
        var o = try run(s, "cd \(tmp) && pwd")
        XCTAssertEqual(o.status, .exited(0)); XCTAssertEqual(o.cwd, tmp)
        XCTAssertNotNil(s.boxShellPID, "the shell reported its pid in the box")

        // A builtin read (the shell itself reads) and a program reading the terminal.
        o = try run(s, "read -p 'Your name? ' name")
        XCTAssertEqual(o.status, .waitingForInput, o.output)
        XCTAssertTrue(o.output.contains("Your name?"), o.output)
        o = try run(s, "python3 -c 'input(\"Continue? \")'")
        XCTAssertEqual(o.status, .waitingForInput, o.output)
        o = try run(s, "echo after-$((6*7)); pwd")
        XCTAssertEqual(o.output, "after-42\n\(tmp)", "same shell, same directory")

        // Quiet but not reading: left to run until the timeout, then Ctrl-Z and bg.
        o = try run(s, "echo serving; sleep \(marker)")
        guard case .stillRunning(_, let job, let interrupted) = o.status else { return XCTFail("\(o.status)") }
        XCTAssertFalse(interrupted); XCTAssertNotNil(job)
        XCTAssertTrue(o.output.contains("serving"), o.output)
        o = try run(s, "jobs")
        XCTAssertTrue(o.output.contains("Running") && o.output.contains("sleep \(marker)"), o.output)

        // Ignores Ctrl-Z and Ctrl-C: its foreground group is killed (in the box), the shell stays.
        o = try run(s, "python3 -c 'import signal,time; signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTSTP, signal.SIG_IGN); print(\"stubborn\", flush=True); time.sleep(1000)'")
        guard case .stillRunning(_, _, let killed) = o.status else { return XCTFail("\(o.status)") }
        XCTAssertTrue(killed, "\(o.status)")
        o = try run(s, "echo alive; pwd; jobs")
        XCTAssertTrue(o.output.hasPrefix("alive\n\(tmp)"), o.output)
        XCTAssertTrue(o.output.contains("sleep \(marker)"), "the background job survived: \(o.output)")
        XCTAssertEqual(try count(box, args: "python3 -c import signal,time; signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTSTP, signal.SIG_IGN); print(\"stubborn\", flush=True); time.sleep(1000)"), 0)

        // A second background job of another kind; then closing ends everything of the session.
        _ = try run(s, "sleep \(marker + 1) &")
        XCTAssertEqual(try count(box, args: "sleep \(marker)"), 1)
        XCTAssertEqual(try count(box, args: "sleep \(marker + 1)"), 1)
        s.close()
        if s.usesInBoxProcesses { try runLoop(loop, until: "in-box clean-up", seconds: 30) { !s.cleanupPending } }
        try waitFor("the session's processes to end", seconds: 10) {
            try self.count(box, args: "sleep \(marker)") == 0 && self.count(box, args: "sleep \(marker + 1)") == 0
        }
    }

    func testInBoxProbesAndSignalsAgainstALocalBox() throws {
        let dir = TemporaryDirectory(prefix: "goalbox")
        let box = LocalBox(workspace: dir.path, environment: GoalRunnerEndToEndTests.environment, withheld: [])
        let s = session(box, inBox: true)
        try exercise(s, box: box, tmp: dir.path)
    }

    func testShellSessionInAContainer() throws {
        let fixture = try DockerBoxFixture(self)
        let s = session(fixture.box, inBox: nil)
        XCTAssertTrue(s.usesInBoxProcesses, "a container's processes are inspected inside it")
        try exercise(s, box: fixture.box, tmp: "/tmp")
        // Nothing of the session is left: only the container's keeper (and the ps itself).
        let left = DockerTestSupport.docker(["exec", fixture.container, "ps", "-eo", "args="]).output
        XCTAssertFalse(left.contains("bash --noprofile") || left.contains("sleep 4") || left.contains("python3"), left)
    }

    func testProbeOutputParsing() {
        let terminal = "T\t8\t/dev/pts/2\n"
        #if arch(x86_64)
        let read0 = "0 0x0 0x55 0x1000 0x0 0x7ff 0x0 0x7ff 0x7f2"
        let sleeping = "35 0x7ffc 0x0 0x0 0x0 0x0 0x0 0x7ffc 0x7f2"
        #else
        let read0 = "63 0x0 0x55 0x1000 0x0 0x7ff 0x0 0x7ff 0x7f2"
        let sleeping = "101 0x7ffc 0x0 0x0 0x0 0x0 0x0 0x7ffc 0x7f2"
        #endif
        XCTAssertTrue(ShellSession.probeSaysReading(terminal + "P\t8\t\(read0)\twait_woken\t/dev/pts/2\t/dev/pts/2\n"))
        XCTAssertFalse(ShellSession.probeSaysReading(terminal + "P\t9\t\(read0)\twait_woken\t/dev/pts/2\tpipe:[123]\n"), "reads a pipe")
        XCTAssertFalse(ShellSession.probeSaysReading(terminal + "P\t9\t\(sleeping)\thrtimer_nanosleep\t/dev/pts/2\t\n"))
        // syscall unreadable: wchan with the terminal on stdin.
        XCTAssertTrue(ShellSession.probeSaysReading(terminal + "P\t9\t\tn_tty_read\t/dev/pts/2\t\n"))
        XCTAssertFalse(ShellSession.probeSaysReading("T\t8\t\n"), "no terminal known")
        XCTAssertFalse(ShellSession.probeSaysReading(""))
    }

    // MARK: the goal runner with its shell in a container

    /// An agent killed with SIGKILL cannot clean up, and a container's shell does not end with
    /// the docker exec client: the next start of the agent ends what the earlier run left.
    func testGoalRunnerStartEndsShellsAKilledRunLeftInTheContainer() throws {
        let fixture = try DockerBoxFixture(self)
        let marker = 4000 + Int.random(in: 0..<5000)
        let old = session(fixture.box, inBox: nil)
        _ = try run(old, "sleep \(marker) &")
        kill(old.shellPID, SIGKILL) // the agent's death, as far as the host side goes
        try runLoop(loop, until: "the docker exec client ended", seconds: 20) { !old.isRunning }
        XCTAssertEqual(try count(fixture.box, args: "sleep \(marker)"), 1, "the container's job outlives the client")
        XCTAssertEqual(try count(fixture.box, args: "bash --noprofile --norc --noediting -i"), 1)

        let fake = try FakeLLMServer(loop: loop)
        defer { fake.stop() }
        fake.fallback = { _ in .text("DONE: nothing to do") }
        let state = TemporaryDirectory(prefix: "goalstate")
        var spec = AgentSpec(name: "g1", kind: .goal, cwd: fixture.workspace.path)
        spec.goal = "nothing"
        spec.llm.provider = .openaiCompatible
        spec.llm.baseURL = fake.baseURL
        spec.llm.model = "fake-model"
        spec.llm.apiKeyEnv = nil
        spec.llm.maxRetries = 0
        var options = GoalRunnerOptions()
        options.environment = GoalRunnerEndToEndTests.environment
        let runner = try GoalRunner(config: AgentLaunchConfig(profile: "t", agent: spec, stateDir: state.file("s"), logsDir: state.file("l"), settingsFile: nil),
                                    loop: loop, box: fixture.box, options: options, events: AgentEvents(environment: [:]))
        defer { runner.close() }
        var result: GoalResult?
        runner.start { result = $0 }
        try runLoop(loop, until: "goal run", seconds: 60) { result != nil }
        XCTAssertEqual(result?.reached, true)
        XCTAssertEqual(try count(fixture.box, args: "sleep \(marker)"), 0)
        XCTAssertEqual(try count(fixture.box, args: "bash --noprofile --norc --noediting -i"), 0)
    }

    func testGoalRunnerInAContainer() throws {
        let fixture = try DockerBoxFixture(self)
        let fake = try FakeLLMServer(loop: loop)
        defer { fake.stop() }
        let state = TemporaryDirectory(prefix: "goalstate")
        let port = 8000 + Int.random(in: 0..<1000)
        for text in [
            "mkdir -p sub && cd sub",
            "pwd",
            "echo made-in-box > made.txt; hostname > host.txt",
            "read x",
            "python3 -m http.server \(port) --bind 127.0.0.1 > server.log 2>&1 &",
        ] { fake.enqueue(.text(text)) }
        fake.fallback = { _ in .text("for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/\(port)) 2>/dev/null && break; sleep 0.1; done") }
        var spec = AgentSpec(name: "g1", kind: .goal, cwd: fixture.workspace.path)
        spec.goal = "serve in the box"
        spec.limit = 10
        // Runs in the container, from the workspace: relative paths and the container's loopback.
        spec.doneWhen = "test \"$(pwd)\" = /workspace && test -f sub/made.txt && bash -c 'exec 3<>/dev/tcp/127.0.0.1/\(port)'"
        spec.llm.provider = .openaiCompatible
        spec.llm.baseURL = fake.baseURL
        spec.llm.model = "fake-model"
        spec.llm.apiKeyEnv = nil
        spec.llm.maxRetries = 0
        let config = AgentLaunchConfig(profile: "t", agent: spec, stateDir: state.file("state"), logsDir: state.file("logs"), settingsFile: nil)
        var options = GoalRunnerOptions()
        options.environment = GoalRunnerEndToEndTests.environment
        options.shell.quietCheck = 0.3
        options.shell.commandTimeout = 20
        let runner = try GoalRunner(config: config, loop: loop, box: fixture.box, options: options, events: AgentEvents(environment: [:]))
        defer { runner.close() }
        var result: GoalResult?
        runner.start { result = $0 }
        try runLoop(loop, until: "goal run", seconds: 90) { result != nil }
        XCTAssertEqual(result?.reached, true, "\(String(describing: result))")
        let steps = runner.history.steps
        XCTAssertEqual(steps[1].output, "/workspace/sub", "cd persisted")
        XCTAssertEqual(try String(contentsOfFile: fixture.workspace.file("sub/made.txt"), encoding: .utf8), "made-in-box\n")
        XCTAssertEqual(try String(contentsOfFile: fixture.workspace.file("sub/host.txt"), encoding: .utf8), fixture.container + "\n")
        XCTAssertEqual(steps[3].status, .waitingForInput)
        XCTAssertEqual(steps[4].status, .exited(0))
        // The run closed the shell: the in-box clean-up ends the server.
        try runLoop(loop, until: "no session process left in the container", seconds: 30) {
            let ps = DockerTestSupport.docker(["exec", fixture.container, "ps", "-eo", "args="]).output
            return !ps.contains("http.server") && !ps.contains("bash --noprofile")
        }
    }
}
