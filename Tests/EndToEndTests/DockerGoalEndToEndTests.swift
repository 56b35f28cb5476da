import Foundation
import Glibc
import Hosting
import Loop
import Profile
import XCTest
import _TestSupport

/// The goal agent on the Docker backend, end to end: `supervisor up` (real tmux, shim,
/// container made by `up`, `--network host`), the agent process on the host talking to a
/// loopback fake model (the LLM traffic never enters the container), its shell and done_when
/// inside the container. Containers carry `supervisor.home=<the test's home>` and are removed
/// by that label at teardown, also when the test fails.
final class DockerGoalEndToEndTests: EndToEndTestCase {
    static let fakeKey = "sk-FAKE-goal-do-not-leak-51c2e8"

    override func setUpWithError() throws {
        if let reason = DockerTestSupport.unavailableReason { throw XCTSkip("SKIP Docker tests: \(reason)") }
        var home = ""
        addTeardownBlock { if !home.isEmpty { DockerTestSupport.removeContainers(label: "\(ContainerSpec.labelHome)=\(home)") } }
        try super.setUpWithError()
        home = sv.root
        sv.environment["OPENAI_API_KEY"] = Self.fakeKey
    }

    func testGoalAgentRunsItsCommandsInItsContainer() throws {
        // Unique: the profile name is in the container name, and another checkout may run this
        // test on the same engine at the same time.
        let p = DockerTestSupport.uniqueTag("dgoal-")
        let ws = sv.home.file("ws-goal")
        try FileManager.default.createDirectory(atPath: ws, withIntermediateDirectories: true)
        chmod(ws, 0o777) // the container's default user may be uid 1000
        let model = try ThreadedFakeModel()
        defer { model.stop() }
        let port = model.freePort
        model.script = [
            "```bash\nmkdir -p sub && cd sub\n```",
            "pwd",
            "echo made-in-box > made.txt; hostname > host.txt",
            "read x",
            "python3 -m http.server \(port) --bind 127.0.0.1 > server.log 2>&1 &",
        ]
        model.afterScript = "for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/\(port)) 2>/dev/null && break; sleep 0.1; done"

        let profile = sv.writeProfile(p, """
            [llm]
            provider = "openai-compatible"
            base_url = \(tomlString(model.baseURL))
            model = "fake-model"
            api_key_env = "OPENAI_API_KEY"
            max_retries = 0

            [backend]
            type = "docker"
            image = \(tomlString(DockerTestSupport.image))
            network = "host"
            memory = "256m"
            pids_limit = 200

            [[agents]]
            name = "goal"
            kind = "goal"
            goal = "serve the workspace over http on port \(port)"
            cwd = \(tomlString(ws))
            restart = "never"
            limit = 12
            done_when = \(tomlString("test \"$(pwd)\" = /workspace && test -f sub/made.txt && bash -c 'exec 3<>/dev/tcp/127.0.0.1/\(port)'"))

            """)
        try upDetached(profile)
        let name = ContainerSpec.containerName(profile: p, agent: "goal")
        let state = try sv.waitForState(p, "goal", "the goal run to end", seconds: 120) { !$0.state.isActive && !$0.runs.isEmpty }
        let log = String(decoding: sv.log(p, "goal"), as: UTF8.self)
        XCTAssertEqual(state.runs.map(\.exit), [.exited(0)], log)
        XCTAssertTrue(log.contains("Goal reached"), log)
        XCTAssertTrue(log.contains("waited for input"), log)

        // The commands ran in the container, in /workspace, which is the host's workspace.
        XCTAssertEqual(try String(contentsOfFile: ws + "/sub/made.txt", encoding: .utf8), "made-in-box\n")
        XCTAssertEqual(try String(contentsOfFile: ws + "/sub/host.txt", encoding: .utf8), String(name.prefix(63)) + "\n")
        let asked = model.userTexts
        XCTAssertGreaterThanOrEqual(asked.count, 5, "\(asked.count) requests")
        if asked.count >= 5 {
            XCTAssertTrue(asked[2].contains("/workspace/sub"), "cd persisted: \(asked[2])")
            XCTAssertTrue(asked[4].contains("waiting for interactive input"), asked[4])
        }
        for text in asked { XCTAssertFalse(text.contains("__SV_"), text) }

        // After the agent exited nothing of its shell is left in the container (the server included).
        try waitFor("the session's processes to be gone from the container", seconds: 20) {
            let ps = DockerTestSupport.docker(["exec", name, "ps", "-eo", "args="]).output
            return !ps.contains("http.server") && !ps.contains("bash --noprofile")
        }
        let ps = DockerTestSupport.docker(["exec", name, "ps", "-eo", "args="]).output
        XCTAssertEqual(ps.split(separator: "\n").filter { !$0.hasPrefix("ps ") }.map(String.init),
                       ["/sbin/docker-init -- sleep infinity", "sleep infinity"], ps)

        // No API key in the container: not in `docker exec env`, not in any process environment.
        let env = DockerTestSupport.docker(["exec", name, "env"]).output
        XCTAssertFalse(env.contains(Self.fakeKey) || env.contains("OPENAI_API_KEY"), env)
        let environ = DockerTestSupport.docker(["exec", name, "sh", "-c", "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'"]).output
        XCTAssertFalse(environ.contains(Self.fakeKey), "the key is in a process environment in the container")
        XCTAssertFalse(DockerTestSupport.docker(["inspect", name]).output.contains(Self.fakeKey))
        XCTAssertNil(sv.log(p, "goal").range(of: Data(Self.fakeKey.utf8)), "the key is in the agent's log")

        try ok(["down", p])
        XCTAssertEqual(DockerTestSupport.docker(["ps", "-a", "-q", "--filter", "label=supervisor.home=\(sv.root)"]).output, "")
    }
}

/// A FakeLLMServer on its own loop thread (the harness waits by polling on the test thread):
/// answers the scripted commands in order, then `afterScript`; records each request's user text.
final class ThreadedFakeModel {
    private let loop = EventLoop()
    private let server: FakeLLMServer
    private var wake: AsyncWake!
    private var thread: Thread!
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var texts: [String] = []
    private var authorizations: [String] = []
    private var stopped = false
    /// Set before the first request.
    var script: [String] = []
    var afterScript = "echo nothing to do"
    var baseURL: String { server.baseURL }

    init() throws {
        server = try FakeLLMServer(loop: loop)
        server.fallback = { [unowned self] request in
            let text = Self.userText(request)
            self.lock.lock()
            self.texts.append(text)
            self.authorizations.append(request.header("authorization") ?? request.header("x-api-key") ?? "")
            let n = self.texts.count
            self.lock.unlock()
            return .text(n <= self.script.count ? self.script[n - 1] : self.afterScript)
        }
        wake = AsyncWake(loop: loop) { [unowned self] in
            self.server.stop()
            self.wake.close()
            self.loop.stop()
        }
        let loop = self.loop, finished = self.finished
        thread = Thread { loop.run(); finished.signal() }
        thread.start()
    }

    var userTexts: [String] { lock.lock(); defer { lock.unlock() }; return texts }
    /// The credential header of each request, in order.
    var credentialHeaders: [String] { lock.lock(); defer { lock.unlock() }; return authorizations }

    /// A port free on the host loopback now (for a server the model starts).
    var freePort: Int { freeLoopbackPort() }

    func stop() {
        guard !stopped else { return }
        stopped = true
        wake.send()
        finished.wait()
        loop.close()
    }

    static func userText(_ r: FakeRequestRecord) -> String {
        guard case .object(let o)? = r.json, case .array(let messages)? = o["messages"] else { return "" }
        var text = ""
        for m in messages {
            if case .object(let mo) = m, case .string(let s)? = mo["content"] { text += s + "\n" }
        }
        return text
    }
}
