import Foundation
import Glibc
import Hosting
import XCTest
import _TestSupport

/// The dashboard in a real terminal: a throwaway tmux server of our own (its own -S socket,
/// fixed size) runs `supervisor dashboard P` against a profile brought up with the real binary.
final class DashboardEndToEndTests: XCTestCase {
    var home: TemporaryDirectory!
    var env: [String: String] = [:]
    var outer = ""
    var tmuxPath = ""
    var profileUp = false

    var supervisor: String {
        let bundle = Bundle(for: DashboardEndToEndTests.self).bundleURL
        let candidates = [bundle.appendingPathComponent("supervisor").path,
                          bundle.deletingLastPathComponent().appendingPathComponent("supervisor").path]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
    }

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: supervisor), "no supervisor binary at \(supervisor)")
        tmuxPath = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/tmux" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? ""
        try XCTSkipIf(tmuxPath.isEmpty, "tmux is not installed")
        home = TemporaryDirectory(prefix: "sv")
        env = ProcessInfo.processInfo.environment
        env["TMUX"] = nil
        env["TMUX_PANE"] = nil
        env["SUPERVISOR_HOME"] = home.path
        env["TERM"] = "xterm-256color"
        outer = home.file("o.sock")
    }

    override func tearDownWithError() throws {
        guard home != nil else { return }
        // Only what we started: our outer tmux server by its socket, the profile by `down`.
        _ = try? run([tmuxPath, "-S", outer, "kill-server"])
        if profileUp { _ = try? run([supervisor, "down", "dash"], timeout: 60) }
        home = nil
    }

    /// Runs argv to completion (posix_spawn + waitpid: a daemon that inherits descriptors, like
    /// a tmux server, cannot make us wait for it).
    @discardableResult
    func run(_ argv: [String], timeout: Double = 30) throws -> (status: Int32, output: String) {
        let out = home.file(".out-\(UUID().uuidString.prefix(8))")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw NSError(domain: "spawn", code: Int(rc)) }
        var status: Int32 = 0
        do {
            try waitFor("\(argv.joined(separator: " ")) to finish", seconds: timeout) { waitpid(pid, &status, WNOHANG) == pid }
        } catch {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            throw error
        }
        let text = String(decoding: FileManager.default.contents(atPath: out) ?? Data(), as: UTF8.self)
        try? FileManager.default.removeItem(atPath: out)
        return ((status >> 8) & 0xff, text)
    }

    func tmux(_ args: [String]) throws -> String { try run([tmuxPath, "-S", outer, "-f", "/dev/null"] + args).output }
    func keys(_ k: String...) throws { _ = try tmux(["send-keys", "-t", "o"] + k) }
    func text(_ s: String) throws { _ = try tmux(["send-keys", "-t", "o", "-l", s]) }
    func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", "o"]) }

    func waitScreen(_ what: String, seconds: Double = 20, _ condition: (String) -> Bool) throws {
        var last = ""
        do {
            try waitFor(what, seconds: seconds) { last = try screen(); return condition(last) }
        } catch {
            XCTFail("\(error); screen was:\n\(last)")
            throw error
        }
    }

    func state(_ agent: String) -> AgentState? {
        try? StateFile.read(path: "\(home.path)/profiles/dash/agents/\(agent)/state.json")
    }

    func bringUp() throws {
        let box = """
            tput smcup; tput clear; tput cup 2 4; printf '+--------+'; tput cup 3 4; printf '| BOXED  |'; tput cup 4 4; printf '+--------+'; exec sleep 100000
            """
        let profile = """
            name = "dash"
            [logs]
            dir = "\(home.path)/logs"
            [[agents]]
            name = "counter"
            kind = "command"
            command = ["sh", "-c", "i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo \\"count-$i 日本\\"; done; exec sleep 100000"]
            [[agents]]
            name = "boxer"
            kind = "command"
            command = ["sh", "-c", '''\(box)''']
            [[agents]]
            name = "echo"
            kind = "command"
            command = ["sh", "-c", "while IFS= read -r l; do echo \\"got:$l\\"; done"]
            """
        let path = home.write("dash.toml", profile)
        let up = try run([supervisor, "up", path, "--detach"], timeout: 60)
        XCTAssertEqual(up.status, 0, up.output)
        profileUp = true
        try waitFor("the counter to finish writing") {
            (try? LogReader.readAll(path: "\(home.path)/logs/dash/counter.log")).map { String(decoding: $0, as: UTF8.self).contains("count-400") } ?? false
        }
    }

    /// The dashboard sizes a full-screen agent to the focus area: every row of `top` is in the
    /// focus view (its header first, its last row last), at 200x50 and at 80x24, and the pane gets
    /// its own size back when the person leaves.
    func testWholeScreenOfTopInFocus() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/top"), "top is not installed")
        let path = home.write("dash.toml", """
            name = "dash"
            [logs]
            dir = "\(home.path)/logs"
            [[agents]]
            name = "top"
            kind = "command"
            command = ["top", "-d", "100"]
            """)
        env["TERM"] = "xterm-256color"
        let up = try run([supervisor, "up", path, "--detach"], timeout: 60)
        XCTAssertEqual(up.status, 0, up.output)
        profileUp = true
        let inner = "\(home.path)/profiles/dash/tmux.sock"
        func paneSize() throws -> String {
            try run([tmuxPath, "-S", inner, "display-message", "-p", "-t", "=dash:=top", "#{pane_width}x#{pane_height}"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let before = try paneSize()
        for (width, height) in [(200, 50), (80, 24)] {
            try openDashboard(width: width, height: height, expect: "top command")
            try keys("Enter")
            let area = "\(width - 2)x\(height - 4)"
            try waitFor("the pane sized to the focus area") { try paneSize() == area }
            // Every row of the agent's own pane is on the dashboard, in order, inside the border.
            var mismatch = ""
            defer { if !mismatch.isEmpty { print("last mismatch: \(mismatch)") } }
            try waitScreen("every row of top in focus") { s in
                guard let pane = try? self.run([self.tmuxPath, "-S", inner, "capture-pane", "-p", "-t", "=dash:=top"]).output else { return false }
                let rows = pane.split(separator: "\n", omittingEmptySubsequences: false).prefix(height - 4).map { $0.trimmingCharacters(in: .whitespaces) }
                let lines = s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                guard rows.first?.hasPrefix("top -") == true, rows.count == height - 4, lines.count >= height - 1 else {
                    mismatch = "pane:\n\(pane)"
                    return false
                }
                for (i, row) in rows.enumerated() where !row.isEmpty {
                    let shown = String(lines[2 + i].dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                    // libvterm erases the last column on top's erase-to-end-of-line at the right
                    // margin (tmux keeps it): compare all but that column.
                    let expected = String(row.prefix(width - 3)).trimmingCharacters(in: .whitespaces)
                    if !shown.hasPrefix(expected) { mismatch = "row \(i): pane \(row) / dashboard \(shown)"; return false }
                }
                mismatch = ""
                return true
            }
            try keys("Escape")
            try waitFor("the pane's own size back") { try paneSize() == before }
            try keys("q")
            try waitFor("the dashboard to end") { try self.run([self.tmuxPath, "-S", self.outer, "list-panes", "-t", "o"]).status != 0 }
        }
    }

    func openDashboard(width: Int = 150, height: Int = 40, expect: String? = nil) throws {
        _ = try run([tmuxPath, "-S", outer, "-f", "/dev/null", "new-session", "-d", "-s", "o", "-x", "\(width)", "-y", "\(height)",
                     "-e", "SUPERVISOR_HOME=\(home.path)", "-e", "TERM=xterm-256color", "-e", "LANG=C.UTF-8", "-e", "LC_ALL=C.UTF-8",
                     supervisor, "dashboard", "dash"])
        try waitScreen("the tiles") { s in expect.map { s.contains($0) } ?? (s.contains("counter command") && s.contains("echo command")) }
    }

    /// Each frame reaches the terminal in one write. ncurses 6.4 flushed after every cursor
    /// movement until the screen had once come back from `endwin`, so a frame that changed N
    /// places (each second: every tile's uptime) was N writes, each waking the terminal's reader
    /// and counted by the scheduler as the dashboard running again. Traced with strace.
    func testEachFrameIsOneWrite() throws {
        let strace = ["/usr/bin/strace", "/bin/strace"].first { FileManager.default.isExecutableFile(atPath: $0) }
        try XCTSkipIf(strace == nil, "strace is not installed (scripts/setup.sh installs it for the tests)")
        try XCTSkipIf(try run([strace!, "-o", "/dev/null", "/bin/true"]).status != 0, "strace cannot trace here (ptrace refused)")
        var profile = "name = \"dash\"\n[logs]\ndir = \"\(home.path)/logs\"\n"
        for name in ["a1", "a2", "a3"] { profile += "[[agents]]\nname = \"\(name)\"\nkind = \"command\"\ncommand = [\"sleep\", \"100000\"]\n" }
        let up = try run([supervisor, "up", home.write("dash.toml", profile), "--detach"], timeout: 60)
        XCTAssertEqual(up.status, 0, up.output)
        profileUp = true
        let trace = home.file("dashboard.trace")
        _ = try run([tmuxPath, "-S", outer, "-f", "/dev/null", "new-session", "-d", "-s", "o", "-x", "120", "-y", "30",
                     "-e", "SUPERVISOR_HOME=\(home.path)", "-e", "TERM=xterm-256color", "-e", "LANG=C.UTF-8", "-e", "LC_ALL=C.UTF-8",
                     strace!, "-f", "-qq", "-o", trace, "-e", "trace=write,epoll_wait,epoll_pwait", supervisor, "dashboard", "dash"])
        try waitScreen("the tiles") { $0.contains("a1 command") && $0.contains("a3 command") }
        // The uptimes tick each second: frames after the first few are one change per tile.
        var frames: [Int] = []
        try waitFor("five frames", seconds: 30) {
            frames = Self.writesPerFrame(String(decoding: FileManager.default.contents(atPath: trace) ?? Data(), as: UTF8.self))
            return frames.count >= 5
        }
        XCTAssertEqual(Array(frames.suffix(3)), [1, 1, 1], "writes to the terminal per frame (loop wake-up), all frames: \(frames)")
    }

    /// From `strace -f -o` lines (`PID call(...)`): the dashboard's writes to its terminal
    /// between two of its epoll_waits, for each wake-up that wrote.
    static func writesPerFrame(_ trace: String) -> [Int] {
        let lines = trace.split(separator: "\n")
        guard let pid = lines.first?.split(separator: " ").first else { return [] }
        var frames: [Int] = []
        var writes = 0
        for line in lines where line.hasPrefix(pid + " ") {
            if line.contains(" epoll_wait(") || line.contains(" epoll_pwait(") {
                if writes > 0 { frames.append(writes) }
                writes = 0
            } else if line.contains(" write(1, ") {
                writes += 1
            }
        }
        return frames
    }

    func testTilesFocusSearchResizeSendRestartQuit() throws {
        try bringUp()
        try openDashboard()
        // Tiles show each agent's output, including the full-screen box, rebuilt from the logs.
        try waitScreen("every tile's output") { $0.contains("count-400 日本") && $0.contains("| BOXED  |") }
        // echo reads its terminal: once quiet, the probe finds it waiting; the badge counts it once.
        try waitScreen("the badge of agents needing a person") { $0.contains("1 NEEDS YOU") && !$0.contains("waiting: ") }

        // Focus with scrollback: PgUp reaches older lines, search finds one, End comes back.
        try keys("1", "Enter")
        try waitScreen("the focus view") { $0.contains("PgUp/PgDn") }
        try keys("/")
        try text("count-123 ")
        try keys("Enter")
        try waitScreen("the search hit") { $0.contains("count-123 日本") && $0.contains("match at line") }
        try keys("End")
        try waitScreen("back at the bottom") { $0.contains("count-400") && !$0.contains("count-123 ") }
        try keys("PPage", "PPage")
        try waitScreen("scrolled back") { $0.contains("scrolled back") }
        try keys("Escape")
        try waitScreen("the tiles again") { $0.contains("boxer command") }

        // Resize re-lays out at once; too small says so.
        _ = try tmux(["resize-window", "-t", "o", "-x", "60", "-y", "30"])
        try waitScreen("the narrow layout") { s in
            let lines = s.split(separator: "\n", omittingEmptySubsequences: false)
            return lines.contains { $0.contains("1 counter") } && lines.contains { $0.contains("3 echo") } && lines.allSatisfy { $0.count <= 60 }
        }
        _ = try tmux(["resize-window", "-t", "o", "-x", "30", "-y", "5"])
        try waitScreen("the too-small notice") { $0.contains("too small") }
        _ = try tmux(["resize-window", "-t", "o", "-x", "150", "-y", "40"])
        try waitScreen("the wide layout again") { $0.contains("counter command") && $0.contains("| BOXED  |") }

        // `s` sends text to the selected agent only.
        try keys("3", "s")
        try waitScreen("the prompt naming the agent") { $0.contains("send to echo") }
        try text("hello dashboard")
        try keys("Enter")
        try waitFor("the text in echo's log") {
            String(decoding: (try? LogReader.readAll(path: "\(home.path)/logs/dash/echo.log")) ?? [], as: UTF8.self).contains("got:hello dashboard")
        }
        try waitScreen("the reply on screen") { $0.contains("got:hello dashboard") }

        // `r` restarts the selected agent (boxer) once confirmed: a new pid; the others keep theirs.
        let counterPid = try XCTUnwrap(state("counter")?.agentPid)
        let boxerPid = try XCTUnwrap(state("boxer")?.agentPid)
        try keys("2", "r")
        try waitScreen("the restart question") { $0.contains("restart boxer? (y/n)") }
        try keys("y")
        try waitFor("boxer to run with a new pid") { self.state("boxer")?.state == .running && self.state("boxer")?.agentPid != boxerPid }
        XCTAssertEqual(state("counter")?.agentPid, counterPid)
        XCTAssertEqual(state("boxer")?.runs.count, 2, "one run before the restart, one after")

        // Timeline shows events of all agents.
        try keys("t")
        try waitScreen("the timeline") { $0.contains("started pid") && $0.contains("boxer") && $0.contains("counter") }
        try keys("Escape")

        // Quit: the dashboard ends, agents keep running.
        let echoPid = try XCTUnwrap(state("echo")?.agentPid)
        try keys("q")
        try waitFor("the dashboard to end") {
            let panes = try self.run([self.tmuxPath, "-S", self.outer, "list-panes", "-t", "o"])
            return panes.status != 0
        }
        for pid in [counterPid, echoPid] { XCTAssertTrue(processIsAlive(pid), "agent \(pid) keeps running") }
        XCTAssertEqual(state("echo")?.state, .running)
    }
}
