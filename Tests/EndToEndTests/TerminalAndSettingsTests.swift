import Foundation
import Glibc
import Hosting
import Profile
import XCTest
import _TestSupport

final class TerminalAndSettingsTests: EndToEndTestCase {
    /// 9. attach from a real terminal: a throwaway outer tmux server runs `supervisor attach`.
    func testAttachShowsTheAgent() throws {
        let path = sv.writeProfile("att", agent("shown", ["bash", "-c", "echo visible-marker-42; while IFS= read -r l; do echo \"got:$l\"; done"]))
        try upDetached(path)
        try sv.waitForLog("att", "shown", containing: "visible-marker-42")

        let outer = sv.home.file("outer.sock")
        sv.track(tmuxSocket: outer)
        let started = try sv.tmux(socket: outer, ["-f", "/dev/null", "new-session", "-d", "-s", "outer", "-x", "100", "-y", "30",
                                                  sv.executable, "attach", "att", "shown"])
        XCTAssertEqual(started.status, 0, "\(started)")
        var screen = ""
        try waitFor("the attached client to show the agent's output") {
            screen = try sv.tmux(socket: outer, ["capture-pane", "-p", "-t", "outer"]).stdout
            return screen.contains("visible-marker-42")
        }
        // The inner server now has a client: the one in the outer pane.
        let clients = try sv.tmux("att", ["list-clients", "-F", "#{session_name}"])
        XCTAssertEqual(clients.stdout, "att\n", "\(clients)")
        // Keys typed in the outer pane reach the agent.
        XCTAssertEqual(try sv.tmux(socket: outer, ["send-keys", "-t", "outer", "-l", "typed-through"]).status, 0)
        XCTAssertEqual(try sv.tmux(socket: outer, ["send-keys", "-t", "outer", "Enter"]).status, 0)
        try sv.waitForLog("att", "shown", containing: "got:typed-through")
        try waitFor("the reply on the outer screen") {
            try sv.tmux(socket: outer, ["capture-pane", "-p", "-t", "outer"]).stdout.contains("got:typed-through")
        }
        // Detach (F12) ends the attach command; the agent keeps running.
        let agentPid = try XCTUnwrap(sv.state("att", "shown")?.agentPid)
        XCTAssertEqual(try sv.tmux(socket: outer, ["send-keys", "-t", "outer", "F12"]).status, 0)
        try waitFor("the outer pane's attach to end") {
            let dead = try sv.tmux(socket: outer, ["list-panes", "-t", "outer", "-F", "#{pane_dead}"])
            return dead.status != 0 || dead.stdout.contains("1")
        }
        XCTAssertTrue(isRunningProcess(agentPid))
        XCTAssertEqual(sv.state("att", "shown")?.state, .running)
        _ = try sv.tmux(socket: outer, ["kill-server"]) // may already be gone with its only pane

        // Without a terminal, attach refuses with one line.
        let noTTY = try sv.run(["attach", "att", "shown"])
        assertOneLineError(noTTY, ["attach needs a terminal"])
        try ok(["down", "att"])
        assertOneLineError(try sv.run(["attach", "att", "shown"]), ["profile att is not up"])
        assertOneLineError(try sv.run(["attach", path, "nobody"]), ["profile att is not up"])
    }

    /// A person attaching from a smaller terminal shrinks the agent's window while attached
    /// (the agent sees what they see); after detaching, the agent gets its size back.
    /// A flood reaches the agent's pane as repaints, not as raw bytes (PaneFlow); when it ends,
    /// the pane shows its last lines, and output that follows flows as it is again.
    func testAfterAFloodThePaneShowsItsEnd() throws {
        let path = sv.writeProfile("flood", agent("f", ["bash", "-c",
            // The marker comes just after the flood: while the pane still gets repaints.
            "yes | head -c 3000000; sleep 0.02; echo flood-over-marker; read -r l; echo \"after:$l\"; exec sleep 600"]))
        try upDetached(path)
        try sv.waitForLog("flood", "f", containing: "flood-over-marker")
        func pane() throws -> String { try sv.tmux("flood", ["capture-pane", "-p", "-t", "=flood:=f"]).stdout }
        try waitFor("the pane to show the flood's end") { try pane().contains("flood-over-marker") }
        XCTAssertEqual(try sv.tmux("flood", ["send-keys", "-t", "=flood:=f", "-l", "typed"]).status, 0)
        XCTAssertEqual(try sv.tmux("flood", ["send-keys", "-t", "=flood:=f", "Enter"]).status, 0)
        try waitFor("the reply on the pane") { try pane().contains("after:typed") }
    }

    func testDetachGivesTheAgentItsSizeBack() throws {
        let path = sv.writeProfile("sz", agent("a", ["bash", "-c", "trap 'echo size=$(stty size)' WINCH; echo ready; while :; do sleep 0.2 & wait; done"])
            + agent("b", sh("exec sleep 600")))
        try upDetached(path)
        try sv.waitForLog("sz", "a", containing: "ready")
        func sizes() throws -> String {
            try sv.tmux("sz", ["list-windows", "-F", "#{window_name}=#{window_width}x#{window_height}"]).stdout
        }
        XCTAssertEqual(try sizes(), "a=200x50\nb=200x50\n")

        // A real client of 90 columns, in an outer tmux server's pane.
        let outer = sv.home.file("small.sock")
        sv.track(tmuxSocket: outer)
        let started = try sv.tmux(socket: outer, ["-f", "/dev/null", "new-session", "-d", "-s", "outer", "-x", "90", "-y", "24",
                                                  sv.executable, "attach", "sz", "a"])
        XCTAssertEqual(started.status, 0, "\(started)")
        try waitFor("the attached client to shrink the agent's window") { try sizes().hasPrefix("a=90x") }
        try sv.waitForLog("sz", "a", containing: " 90\r\n")
        // The person looks at the other agent too (C-b n), then detaches (F12).
        XCTAssertEqual(try sv.tmux(socket: outer, ["send-keys", "-t", "outer", "C-b", "n"]).status, 0)
        try waitFor("the client to show the other window") { try sizes().contains("b=90x") }
        XCTAssertEqual(try sv.tmux(socket: outer, ["send-keys", "-t", "outer", "F12"]).status, 0)
        try waitFor("both windows to get their size back") { try sizes() == "a=200x50\nb=200x50\n" }
        try sv.waitForLog("sz", "a", containing: "size=50 200")
        // The next client still resizes them (the size is not pinned).
        XCTAssertEqual(try sv.tmux("sz", ["show-options", "-w", "-t", "=sz:=a", "window-size"]).stdout, "")
        _ = try sv.tmux(socket: outer, ["kill-server"])
    }

    /// Invariant 1 with a terminal: `up` shows its live view; `q` leaves it and kill -9 of it stops nothing.
    func testInteractiveUpViewerQuitsAndDiesWithoutStoppingAgents() throws {
        let path = sv.writeProfile("view", agent("ticker", ["bash", "-c", "echo ticker-up; while IFS= read -r l; do echo \"got:$l\"; done"]) +
                                           agent("other", sh("echo other-up; exec sleep 600")))
        let outer = sv.home.file("view.sock")
        sv.track(tmuxSocket: outer)
        func screen() throws -> String { try sv.tmux(socket: outer, ["capture-pane", "-p", "-t", "outer"]).stdout }
        let started = try sv.tmux(socket: outer, ["-f", "/dev/null", "new-session", "-d", "-s", "outer", "-x", "100", "-y", "30",
                                                  sv.executable, "up", path])
        XCTAssertEqual(started.status, 0, "\(started)")
        XCTAssertEqual(try sv.tmux(socket: outer, ["set-option", "-t", "outer", "remain-on-exit", "on"]).status, 0)
        try waitFor("the live view") { let text = try screen(); return text.contains("view") && text.contains("2 running") }
        let viewer = try XCTUnwrap(Int32(try sv.tmux(socket: outer, ["display-message", "-p", "-t", "outer", "#{pane_pid}"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        let pids = try sv.status("view").map(\.pid)

        // q leaves the view; agents keep running.
        XCTAssertEqual(try sv.tmux(socket: outer, ["send-keys", "-t", "outer", "q"]).status, 0)
        try waitFor("the view to end") { !isRunningProcess(viewer) }
        XCTAssertEqual(try sv.status("view").map(\.state), ["running", "running"])
        XCTAssertEqual(try sv.status("view").map(\.pid), pids)

        // kill -9 of a viewer on a terminal (`up` of a running profile is an error, so the viewer is `logs --follow`).
        XCTAssertEqual(try sv.tmux(socket: outer, ["respawn-pane", "-k", "-t", "outer", sv.executable, "logs", "view", "ticker", "--follow"]).status, 0)
        try waitFor("the follower on the terminal") { try screen().contains("ticker-up") }
        let follower = try XCTUnwrap(Int32(try sv.tmux(socket: outer, ["display-message", "-p", "-t", "outer", "#{pane_pid}"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertEqual(kill(follower, SIGKILL), 0)
        try waitFor("the follower to die") { !isRunningProcess(follower) }
        try ok(["send", "view", "ticker", "after-viewer-died"])
        try sv.waitForLog("view", "ticker", containing: "got:after-viewer-died")
        XCTAssertEqual(try sv.status("view").map(\.state), ["running", "running"])
        XCTAssertEqual(try sv.status("view").map(\.pid), pids)
    }

    /// 10. set: validated against the profile, persisted, reset.
    func testSetValidatesPersistsAndResets() throws {
        let path = sv.writeProfile("knobs", """
            [[agents]]
            name = "planner"
            kind = "goal"
            goal = "Reach the goal."
            [agents.llm]
            model = "gpt-4o-mini"

            """ + agent("shell", ["sleep", "1"]))
        let settings = sv.settingsPath("knobs")

        let set = try ok(["set", path, "planner", "limit=50"])
        XCTAssertEqual(set.stdout, "planner.limit = 50\n")
        XCTAssertEqual(try readSettings(settings), ["planner": ["limit": .int(50)]])

        let more = try ok(["set", path, "planner", "context_mode=full", "temperature=0.5"])
        XCTAssertEqual(more.stdout, "planner.context_mode = full\nplanner.limit = 50\nplanner.temperature = 0.5\n")
        XCTAssertEqual(try readSettings(settings),
                       ["planner": ["limit": .int(50), "context_mode": .string("full"), "temperature": .double(0.5)]])

        for (bad, fragment) in [("limit=0", "limit"), ("limit=lots", "limit"), ("context_mode=most", "context_mode"),
                                ("permission=yolo", "permission"), ("nonsense=1", "nonsense"), ("limit", "not key=value")] {
            let result = try sv.run(["set", path, "planner", bad])
            assertOneLineError(result, [fragment])
            XCTAssertEqual(try readSettings(settings),
                           ["planner": ["limit": .int(50), "context_mode": .string("full"), "temperature": .double(0.5)]],
                           "a rejected \(bad) changed the settings")
        }
        let unknownAgent = try sv.run(["set", path, "ghost", "limit=5"])
        assertOneLineError(unknownAgent, ["no agent \"ghost\""])
        let wrongKind = try sv.run(["set", path, "shell", "limit=5"])
        assertOneLineError(wrongKind, ["limit"])

        // The profile's name works too (the settings are per profile), and partial reset.
        let partial = try ok(["set", path, "planner", "--reset", "limit"])
        XCTAssertEqual(partial.stdout, "planner: overrides reset\n")
        XCTAssertEqual(try readSettings(settings), ["planner": ["context_mode": .string("full"), "temperature": .double(0.5)]])
        try ok(["set", path, "planner", "--reset"])
        XCTAssertEqual(try readSettings(settings), [:])
        XCTAssertFalse(fileExists(sv.tmuxSocket("knobs")), "set started something")
    }

    func readSettings(_ path: String) throws -> [String: [String: SettingValue]] {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: path), "no \(path)")
        return try JSONDecoder().decode([String: [String: SettingValue]].self, from: data)
    }
}
