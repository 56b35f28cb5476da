import Foundation
import Glibc
import Hosting
import XCTest
import _TestSupport

/// `supervisor serve` against clients nobody here wrote: Python's `websockets` (PyPI; the test
/// suite's script installs it) and urllib, run from Tests/ServeClients/check.py.
final class ServeEndToEndTests: EndToEndTestCase {
    static let checkScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ServeClients/check.py").path

    static let python: String? = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/python3"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }()

    var serve: BackgroundProcess!
    var url = ""

    /// A profile `web` with agent `a` (a command agent; none when nil; `profile` as given), then
    /// `serve` on a free port.
    func startServing(_ command: [String]?, profile: String? = nil, flags: [String] = []) throws {
        guard let python = ServeEndToEndTests.python,
              (try? sv.run(["-c", "import websockets"], executable: python).status) == 0 else {
            throw XCTSkip("SKIP serve client tests: Python's websockets is missing (pip install websockets; scripts/test.sh does)")
        }
        if let command { try upDetached(sv.writeProfile("web", agent("a", command))) }
        if let profile { try upDetached(sv.writeProfile("web", profile)) }
        serve = try sv.start(["serve", "--port", "0"] + flags)
        try waitFor("serve to print its URL", seconds: 20) { serve.stdout.contains("log in") || !serve.isRunning }
        guard let range = serve.stdout.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) else {
            XCTFail("serve printed no URL: \(serve.stdout) \(serve.stderr)")
            throw CommandTimedOut(command: ["serve"], seconds: 20)
        }
        url = String(serve.stdout[range])
    }

    /// A coder agent `name` with `permission = "ask"`, on the `script` provider with `script`
    /// (its turns), working in `workspace` (made here).
    func askingCoder(_ name: String, workspace: String, script: String) throws -> String {
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        let path = sv.home.write("\(name).script", script)
        return """
            [[agents]]
            name = \(tomlString(name))
            kind = "coder"
            prompt = "write the files"
            permission = "ask"
            restart = "never"
            cwd = \(tomlString(workspace))
            [agents.llm]
            provider = "script"
            script = \(tomlString(path))

            """
    }

    func token(_ name: String) throws -> String {
        try String(contentsOfFile: "\(sv.root)/serve/\(name).token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// check.py URL CONTROL READ PROFILE AGENT COMMAND ARGS; asserts it succeeded.
    @discardableResult
    func check(_ command: String, _ arguments: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try sv.run([ServeEndToEndTests.checkScript, url, try token("control"), try token("read"), "web", "a", command] + arguments,
                                executable: ServeEndToEndTests.python!, timeout: 90)
        XCTAssertEqual(result.status, 0, "check.py \(command): \(result)", file: file, line: line)
        return result.stdout
    }

    /// Resuming from any offset gives the log's bytes exactly: from the start, from the middle
    /// of a line, and from the live end, while the agent keeps writing.
    func testResumeIsByteExact() throws {
        // Bursts of lines: the log often holds bytes whose live frame has not reached serve yet,
        // which is where replay and live overlap.
        try startServing(sh("i=0; while :; do seq $i $((i+200)); i=$((i+201)); sleep 0.005; done"))
        try waitFor("some log", seconds: 20) { sv.log("web", "a").count > 5000 }
        let output = try check("resume", ["0", "1234", "4999", "end"])
        XCTAssertTrue(output.contains("from 0: "), output)
        XCTAssertEqual(output.components(separatedBy: "identical to the log").count - 1, 4, output)
    }

    /// One WebSocket follows several agents: each one's records are its log from where the
    /// client asked, byte for byte, across replay, live output and a restart of one of them
    /// (whose events come on the same socket), and a paste reaches the agent it names.
    func testProfileStreamMirrorsEveryAgent() throws {
        let writer = agent("w", sh("i=0; while :; do seq $i $((i+200)); i=$((i+201)); sleep 0.005; done"))
        try startServing(nil, profile: writer + agent("a", ["cat"]))
        try waitFor("some log", seconds: 20) { sv.log("web", "w").count > 5000 }
        let output = try check("mirror", ["w:1234", "a:0"])
        XCTAssertTrue(output.contains("w from 1234: "), output)
        XCTAssertTrue(output.contains("a from 0: "), output)
        XCTAssertTrue(output.contains("bad query: 400"), output)
        XCTAssertTrue(output.contains("w restarted midway"), output)
        try sv.waitForLog("web", "a", containing: "mirror-marker")
        XCTAssertFalse(String(decoding: sv.log("web", "a"), as: UTF8.self).contains("refused-marker"))

        // The terminal client without an agent: the profile's agents, and a line to the one named.
        let client = try sv.run(["-c", "printf '@a profile-client-marker\\n@zz hi\\n' | \"$0\" client --url \"$1\" web", sv.executable, url],
                                executable: "/bin/sh", timeout: 60)
        XCTAssertEqual(client.status, 0, "\(client)")
        for text in ["w: command, running", "a: command, running", "--- live ---", "no agent zz here (w, a)"] {
            XCTAssertTrue(client.stdout.contains(text), "client output lacks \(text): \(client.stdout)")
        }
        try sv.waitForLog("web", "a", containing: "profile-client-marker")
    }

    /// No token, a wrong one, a read token asking to act, a foreign Origin: 401/403, and the
    /// agent never sees the refused text.
    func testRefusals() throws {
        try startServing(["cat"])
        let output = try check("refusals")
        XCTAssertTrue(output.contains("WebSocket origin=http://evil.example: 403"), output)
        try check("input", ["accepted-marker"])
        try sv.waitForLog("web", "a", containing: "accepted-marker")
        XCTAssertFalse(String(decoding: sv.log("web", "a"), as: UTF8.self).contains("refused-marker"))
        // The token never reaches serve's own output but the one login line.
        let control = try token("control")
        XCTAssertEqual(serve.stdout.components(separatedBy: control).count - 1, 1)
        XCTAssertFalse(serve.stderr.contains(control))
    }

    /// `kill -9` of serve leaves the agent running and its log growing.
    func testKillingServeLeavesAgents() throws {
        try startServing(sh("i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.05; done"))
        try check("input", ["ping"])
        let pid = sv.state("web", "a")?.agentPid
        kill(serve.pid, SIGKILL)
        _ = try serve.wait(seconds: 10)
        let size = sv.log("web", "a").count
        try waitFor("the log to grow after serve died", seconds: 10) { sv.log("web", "a").count > size + 100 }
        XCTAssertEqual(sv.state("web", "a")?.state, .running)
        XCTAssertEqual(sv.state("web", "a")?.agentPid, pid)
    }

    /// A profile brought up after serve started is served without a restart, its events arrive
    /// on the profile's events stream, and it is gone from the list once down.
    func testProfilesComeAndGo() throws {
        try startServing(nil)
        XCTAssertEqual(try check("profiles").trimmingCharacters(in: .whitespacesAndNewlines), "")
        try upDetached(sv.writeProfile("web", agent("a", ["cat"])))
        try waitFor("serve to list the new profile", seconds: 20) { (try? self.check("profiles"))?.contains("web") == true }
        let events = try check("events")
        XCTAssertTrue(events.contains("exit") && events.contains("start"), events)
        XCTAssertTrue(events.contains("replayed: "), events)
        try ok(["down", "web"])
        try waitFor("serve to drop the profile", seconds: 20) {
            (try? self.check("profiles"))?.trimmingCharacters(in: .whitespacesAndNewlines) == ""
        }
    }

    /// The exec agent as a network service: a message POSTed reaches it as from its pane, its
    /// code, output and answer come back as events, `supervisor client` renders them, and its
    /// conversation is listed, read and deleted over HTTP.
    func testExecAgentOverTheNetwork() throws {
        let workspace = sv.home.file("ws")
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        let script = sv.home.write("exec.script", """
            --- turn
            @expect what is six times seven
            ```python
            print('product', 6 * 7)
            answer('forty-two')
            ```

            """)
        try startServing(nil, profile: """
            [llm]
            provider = "script"
            script = \(tomlString(script))

            [[agents]]
            name = "a"
            kind = "exec"
            cwd = \(tomlString(workspace))

            """)
        try waitFor("the exec agent to wait for input", seconds: 30) {
            (try? String(contentsOfFile: sv.eventsPath("web", "a"), encoding: .utf8))?.contains("conversation") == true
        }
        try check("input", ["what is six times seven"])
        try waitFor("the block's output and the agent waiting again", seconds: 30) {
            let events = (try? String(contentsOfFile: sv.eventsPath("web", "a"), encoding: .utf8)) ?? ""
            return events.contains("block_output") && events.components(separatedBy: "\"state\":\"waiting\"").count > 2
        }
        let client = try sv.run(["client", "--url", url, "web", "a"], timeout: 30)
        XCTAssertEqual(client.status, 0, "\(client)")
        for text in ["what is six times seven", "print('product', 6 * 7)", "product 42", "forty-two"] {
            XCTAssertTrue(client.stdout.contains(text), "client output lacks \(text): \(client.stdout)")
        }
        // The whole profile: the same conversation among every agent's events, under its name.
        let all = try sv.run(["client", "--url", url, "web"], timeout: 30)
        XCTAssertEqual(all.status, 0, "\(all)")
        for text in ["a: exec, ", "a │ ", "what is six times seven", "forty-two", "--- live ---"] {
            XCTAssertTrue(all.stdout.contains(text), "profile client output lacks \(text): \(all.stdout)")
        }
        let conversations = try check("conversations")
        XCTAssertTrue(conversations.contains("read: ") && conversations.contains("deleted "), conversations)
    }

    /// The coder's permission questions over the network: it asks (a typed `permission` event),
    /// a client nobody here wrote answers "yes" over HTTP and the tool runs; the shim's attention
    /// says it asks; `supervisor client`, started while the coder asks, shows the question and
    /// answers "n" typed, and that tool does not run.
    func testCoderPermissionOverTheNetwork() throws {
        let workspace = sv.home.file("ws")
        try startServing(nil, profile: try askingCoder("a", workspace: workspace, script: """
            --- turn 1
            @tool Bash {"command": "echo allowed > yes.txt"}

            --- turn 2
            @tool Bash {"command": "echo refused > no.txt"}

            --- turn 3
            @expect did not allow
            @tool Bash {"command": "echo third > third.txt"}

            --- turn 4
            Done: two files written, one refused.

            """))
        let events = { (try? String(contentsOfFile: self.sv.eventsPath("web", "a"), encoding: .utf8)) ?? "" }
        let first = try check("permission", ["yes"])
        XCTAssertTrue(first.contains("Bash(echo allowed > yes.txt) choices ['yes', 'no', 'always']"), first)
        try waitFor("the allowed tool to run", seconds: 30) { FileManager.default.fileExists(atPath: workspace + "/yes.txt") }

        // The second question waits long enough for the shim to say the coder needs a person.
        try waitFor("the attention for the second question", seconds: 30) {
            events().contains("asks permission to run Bash: echo refused > no.txt")
        }
        let client = try sv.run(["-c", "printf 'n\\n' | \"$0\" client --url \"$1\" web a", sv.executable, url], executable: "/bin/sh", timeout: 60)
        XCTAssertEqual(client.status, 0, "\(client)")
        XCTAssertTrue(client.stdout.contains("may it run Bash(echo refused > no.txt)?"), client.stdout)
        // The third, from the whole profile's client: a bare "y" answers the one agent that asks.
        try waitFor("the attention for the third question", seconds: 30) {
            events().contains("asks permission to run Bash: echo third > third.txt")
        }
        let profileClient = try sv.run(["-c", "printf 'y\\n' | \"$0\" client --url \"$1\" web", sv.executable, url], executable: "/bin/sh", timeout: 60)
        XCTAssertEqual(profileClient.status, 0, "\(profileClient)")
        XCTAssertTrue(profileClient.stdout.contains("a │ ? asks: may it run Bash(echo third > third.txt)?"), profileClient.stdout)
        try waitFor("the coder's answers and its last reply", seconds: 30) {
            events().contains("Done: two files written, one refused.")
        }
        let answers = events().split(separator: "\n").filter { $0.contains(#""type":"permission_answer""#) }
        XCTAssertEqual(answers.count, 3, events())
        XCTAssertFalse(events().contains("/permission "), "an answer is recorded as the coder's answer, not as a message")
        XCTAssertEqual(answers.map { $0.contains(#""answer":"yes""#) }, [true, false, true], events())
        XCTAssertTrue(answers[1].contains(#""answer":"no""#), events())
        XCTAssertEqual(try String(contentsOfFile: workspace + "/yes.txt", encoding: .utf8), "allowed\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace + "/no.txt"))
        XCTAssertEqual(try String(contentsOfFile: workspace + "/third.txt", encoding: .utf8), "third\n")
    }

    /// With --tls-cert/--tls-key it speaks only TLS, and `supervisor client --tls-ca` follows an
    /// agent over https/wss, trusting that certificate.
    func testTLS() throws {
        let openssl = "/usr/bin/openssl"
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: openssl), "SKIP TLS test: no openssl to make a certificate")
        try upDetached(sv.writeProfile("web", agent("a", sh("echo tls-marker; exec cat"))))
        let cert = sv.home.file("cert.pem"), key = sv.home.file("key.pem")
        let made = try sv.run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                               "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"], executable: openssl)
        XCTAssertEqual(made.status, 0, "\(made)")
        let tls = try sv.start(["serve", "--port", "0", "--tls-cert", cert, "--tls-key", key])
        try waitFor("serve to print its URL", seconds: 20) { tls.stdout.contains("log in") || !tls.isRunning }
        guard let range = tls.stdout.range(of: #"https://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) else {
            return XCTFail("no https URL: \(tls.stdout) \(tls.stderr)")
        }
        let port = tls.stdout[range].split(separator: ":").last!
        let client = try sv.run(["client", "--tls-ca", cert, "--url", "https://localhost:\(port)", "web", "a"], timeout: 30)
        XCTAssertEqual(client.status, 0, "\(client)")
        XCTAssertTrue(client.stdout.contains("tls-marker"), client.stdout)
        // Without trusting the certificate, the client refuses the server.
        let refused = try sv.run(["client", "--url", "https://localhost:\(port)", "web", "a"], timeout: 30)
        XCTAssertEqual(refused.status, 1, "\(refused)")
    }

    /// A client that stops reading is dropped (it would hold memory for ever); the agent and a
    /// client that reads go on.
    func testStuckClientIsDropped() throws {
        try startServing(sh("while :; do head -c 65536 /dev/zero | tr '\\0' x; sleep 0.01; done"), flags: ["--stuck-after", "2"])
        let output = try check("stuck")
        XCTAssertTrue(output.contains("the stuck client was dropped"), output)
        XCTAssertEqual(sv.state("web", "a")?.state, .running)
    }

    /// The web dashboard in a real headless Chromium (Debian's chromium + chromium-driver,
    /// Selenium from PyPI; scripts/test.sh installs them): it logs in through the URL serve
    /// printed, shows a tile for every agent of every profile with its terminal (in colour), a
    /// line typed into one agent's box reaches the agent, its stop and start buttons stop and
    /// start it, a coder's permission question is answered with its button; a read-only token
    /// gets no box and no buttons.
    func testBrowserDashboard() throws {
        let chromium = "/usr/bin/chromium", driver = "/usr/bin/chromedriver"
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: chromium) && FileManager.default.isExecutableFile(atPath: driver),
                          "SKIP browser test: no chromium/chromedriver (apt-get install chromium chromium-driver; scripts/test.sh does)")
        if let python = ServeEndToEndTests.python, (try? sv.run(["-c", "import selenium"], executable: python).status) != 0 {
            throw XCTSkip("SKIP browser test: Python's selenium is missing (pip install selenium; scripts/test.sh does)")
        }
        try upDetached(sv.writeProfile("two", agent("c", sh("echo third-agent-marker; exec cat"))))
        let workspace = sv.home.file("ws")
        let asking = try askingCoder("q", workspace: workspace, script: """
            --- turn 1
            @tool Bash {"command": "echo allowed-in-the-browser > browser.txt"}

            --- turn 2
            Done.

            """)
        try startServing(nil, profile: agent("a", sh("printf '\\033[1;31mred-marker\\033[0m\\n'; echo tile-a-marker; exec cat"))
                         + agent("b", sh("echo tile-b-marker; exec cat")) + asking)
        guard let range = serve.stdout.range(of: #"http://127\.0\.0\.1:[0-9]+/\?token=[^\s]+"#, options: .regularExpression) else {
            return XCTFail("serve printed no login URL: \(serve.stdout)")
        }
        let screenshot = ProcessInfo.processInfo.environment["SV_SCREENSHOT"] ?? sv.home.file("dashboard.png")
        let script = URL(fileURLWithPath: ServeEndToEndTests.checkScript).deletingLastPathComponent().appendingPathComponent("browser.py").path
        let result = try sv.run([script, String(serve.stdout[range]), "\(url)/?token=\(try token("read"))", "web/a,web/b,two/c,web/q", "web/a",
                                 "typed-in-the-browser", screenshot, "web/q"], executable: ServeEndToEndTests.python!, timeout: 120)
        XCTAssertEqual(result.status, 0, "browser.py: \(result)")
        XCTAssertTrue(result.stdout.contains("read-only: no input box, no buttons"), result.stdout)
        XCTAssertTrue(result.stdout.contains("coloured cell: rgb"), result.stdout)
        XCTAssertTrue(result.stdout.contains("buttons: stopped, then started web/a"), result.stdout)
        XCTAssertTrue(result.stdout.contains("answered web/q's question (may it run Bash(echo allowed-in-the-browser > browser.txt)?): yes"), result.stdout)
        try waitFor("the coder to run the tool the browser allowed", seconds: 30) { FileManager.default.fileExists(atPath: workspace + "/browser.txt") }
        XCTAssertEqual(sv.state("web", "a")?.runs.count, 2, "the buttons stopped and started it once")
        try sv.waitForLog("web", "a", containing: "typed-in-the-browser")
        XCTAssertTrue(FileManager.default.fileExists(atPath: screenshot))
        XCTAssertFalse(String(decoding: sv.log("web", "a"), as: UTF8.self).contains("refused-marker"))
    }

    /// serve subscribes to a shim only while a client watches its agent: no connection with no
    /// client, one for the agent a stream watches, every agent of the profile for an events
    /// client, none again once they leave.
    func testSubscribesOnlyWhileWatched() throws {
        try startServing(nil, profile: agent("a", sh("while :; do echo out; sleep 0.05; done")) + agent("b", ["cat"]))
        XCTAssertEqual(try check("profiles").trimmingCharacters(in: .whitespacesAndNewlines), "web")
        XCTAssertEqual(shimConnections(), 0, "no client: no subscription")
        let stream = try sv.start([ServeEndToEndTests.checkScript, url, try token("control"), try token("read"), "web", "a", "watch", "stream"],
                                  executable: ServeEndToEndTests.python!)
        try waitFor("a stream client's hello", seconds: 20) { stream.stdout.contains("hello") }
        try waitFor("one shim connection (agent a's)", seconds: 20) { self.shimConnections() == 1 }
        let events = try sv.start([ServeEndToEndTests.checkScript, url, try token("control"), try token("read"), "web", "a", "watch", "events"],
                                  executable: ServeEndToEndTests.python!)
        try waitFor("an events client's hello", seconds: 20) { events.stdout.contains("hello") }
        try waitFor("both agents' shims subscribed", seconds: 20) { self.shimConnections() == 2 }
        stream.signal(SIGKILL)
        events.signal(SIGKILL)
        try waitFor("no shim connection once the clients left", seconds: 20) { self.shimConnections() == 0 }
        // Without subscriptions the lists still come from the state files.
        XCTAssertTrue(try check("profiles").contains("web"))
    }

    /// Connections the shims of web's agents hold (accepted on their sockets: /proc/net/unix
    /// lists them with the socket's path, connected).
    func shimConnections() -> Int {
        let paths = Set(["a", "b"].compactMap { sv.state("web", $0)?.socketPath })
        // Read to its end (a /proc file says it has 0 bytes: a read by its size gets a part).
        let unix = String(decoding: FileHandle(forReadingAtPath: "/proc/net/unix")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
        return unix.split(separator: "\n").dropFirst().filter { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count > 7 && fields[5] == "03" && paths.contains(String(fields[7]))
        }.count
    }

    /// `supervisor client`'s hand-off: the history read over HTTP, then the stream from where
    /// that read ended (`events_from`), while the agent writes an event every few ms: each one
    /// arrives exactly once across the two (a real client: Python's websockets).
    func testEventsHandOffIsExact() throws {
        try startServing(sh(#"i=0; while :; do echo "{\"type\":\"tick\",\"n\":$i}" >&3; i=$((i+1)); sleep 0.002; done"#))
        try waitFor("some tick events", seconds: 20) {
            ((try? String(contentsOfFile: sv.eventsPath("web", "a"), encoding: .utf8)) ?? "").contains("\"n\":50")
        }
        let output = try check("handoff", ["20"])
        XCTAssertTrue(output.contains("20 hand-offs (agent stream): every tick exactly once"), output)
        let profile = try check("handoff", ["20", "profile"])
        XCTAssertTrue(profile.contains("20 hand-offs (profile stream): every tick exactly once"), profile)
    }

    /// Stream clients that stop reading cost serve a bounded queue each (256 KiB, then they
    /// are sent back to the log), however much the agent writes meanwhile: 20 clients grew
    /// serve's peak RSS by 7 MiB here, by 23 MiB with the 1 MiB queue before.
    func testSlowClientsHoldBoundedMemory() throws {
        try slowClientsHoldBoundedMemory(shape: "agent")
    }

    /// The same on profile streams, whose clients also hold a batch waiting for its time.
    func testSlowProfileStreamClientsHoldBoundedMemory() throws {
        try slowClientsHoldBoundedMemory(shape: "profile")
    }

    func slowClientsHoldBoundedMemory(shape: String) throws {
        try startServing(sh("while :; do head -c 262144 /dev/zero | tr '\\0' x; sleep 0.1; done"))
        try waitFor("serve to list the profile", seconds: 20) { (try? self.check("profiles"))?.contains("web") == true }
        let base = vmKiB("VmHWM")
        let clients = 20
        // 24 MB: more than each client's socket buffers (4 MB here) and queue hold.
        let hog = try sv.start([ServeEndToEndTests.checkScript, url, try token("control"), try token("read"), "web", "a", "hog", String(clients), "24", shape],
                               executable: ServeEndToEndTests.python!)
        try waitFor("the agent to write 24 MB past the clients' start", seconds: 90) { hog.stdout.contains("filled") || !hog.isRunning }
        XCTAssertTrue(hog.isRunning, hog.stdout + hog.stderr)
        let grown = vmKiB("VmHWM") - base
        hog.signal(SIGKILL)
        XCTAssertLessThan(grown, 14 << 10, "serve's peak RSS grew \(grown) KiB for \(clients) clients that do not read")
        XCTAssertEqual(sv.state("web", "a")?.state, .running)
    }

    func vmKiB(_ field: String) -> Int {
        let status = String(decoding: FileHandle(forReadingAtPath: "/proc/\(serve.pid)/status")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
        let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }

    /// Bad flags: one line, exit 2, nothing listening.
    func testNonLoopbackNeedsTLS() throws {
        let result = try sv.run(["serve", "--address", "0.0.0.0", "--port", "0"], timeout: 20)
        assertOneLineError(result, ["needs TLS", "--insecure-no-tls"])
    }
}
