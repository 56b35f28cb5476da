import Foundation
import Glibc
import Hosting
import Profile
import XCTest
import _TestSupport

/// One profile across two real Docker engines: the default one and a second dockerd this test
/// starts (scripts/second-engine.sh: its own data root, exec root, pid file and socket, inside a
/// network namespace the test makes, reached over TCP with TLS on a veth pair, certificates made
/// by openssl, the test image loaded with docker save | docker load). Everything it started is
/// removed at teardown, also when the test fails; without root or `ip` it is skipped.
final class MultiEngineEndToEndTests: EndToEndTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static var script: String { repository + "/scripts/second-engine.sh" }

    var engineDir = ""
    var far: [String: String] = [:]

    override func setUpWithError() throws {
        if let reason = DockerTestSupport.unavailableReason { throw XCTSkip("SKIP Docker tests: \(reason)") }
        var home = ""
        // Short (its unix socket lives in it) and unique (other checkouts may run this at the same time).
        engineDir = "/tmp/" + DockerTestSupport.uniqueTag("sve-")
        let dir = engineDir
        // Teardown runs last-registered first: containers go (both engines), then the engine.
        addTeardownBlock { [unowned self] in _ = try? self.runScript(["down", dir], timeout: 120) }
        addTeardownBlock { [unowned self] in
            guard !home.isEmpty else { return }
            DockerTestSupport.removeContainers(label: "\(ContainerSpec.labelHome)=\(home)")
            if let sock = self.far["SOCK"] { self.removeContainers(host: sock, label: "\(ContainerSpec.labelHome)=\(home)") }
        }
        try super.setUpWithError()
        home = sv.root
        let check = try runScript(["check"], timeout: 30)
        if !check.succeeded {
            let why = check.output.trimmingCharacters(in: .whitespacesAndNewlines)
            FileHandle.standardError.write(Data("SKIP several-engines test: \(why)\n".utf8))
            throw XCTSkip("SKIP several-engines test: \(why)")
        }
        let started = try runScript(["up", dir, DockerTestSupport.image], timeout: 300)
        guard started.succeeded else { throw HostingError("second engine did not start: \(started.errorOutput)") }
        for line in started.output.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { far[parts[0]] = parts[1] }
        }
        XCTAssertNotNil(far["HOST"])
    }

    /// Runs the script directly (not through the harness, whose directory is gone by the time
    /// the last teardown block runs).
    func runScript(_ arguments: [String], timeout: Double) throws -> SubprocessResult {
        try runSubprocess([Self.script] + arguments, environment: ProcessInfo.processInfo.environment, timeout: timeout)
    }

    /// `docker --host HOST ARGS` on the second engine (its unix socket: the test's side door).
    @discardableResult
    func farDocker(_ arguments: [String]) -> SubprocessResult {
        DockerTestSupport.engine.on(EngineEndpoint(name: "far", options: ["--host", far["SOCK"] ?? ""])).run(arguments)
    }

    func removeContainers(host: String, label: String) {
        let engine = DockerTestSupport.engine.on(EngineEndpoint(name: "far", options: ["--host", host]))
        let ids = engine.run(["ps", "--all", "--quiet", "--filter", "label=\(label)"], timeout: 20).output.split(whereSeparator: \.isNewline).map(String.init)
        if !ids.isEmpty { engine.run(["rm", "--force", "--volumes"] + ids, timeout: 60) }
    }

    /// Until the agent's log holds `text` `count` times (each start of a command agent prints its banner once).
    func waitForLines(_ profile: String, _ agent: String, _ text: String, count: Int, seconds: Double = 90) throws {
        try waitFor("\(agent)'s log to hold \(text) \(count) times", seconds: seconds) {
            String(decoding: self.sv.log(profile, agent), as: UTF8.self).components(separatedBy: text).count > count
        }
    }

    /// The `[engines.far]` table: the second engine over TCP with TLS.
    var farEngine: String {
        """
        [engines.far]
        host = \(tomlString(far["HOST"]!))
        tls_ca = \(tomlString(far["CA"]!))
        tls_cert = \(tomlString(far["CERT"]!))
        tls_key = \(tomlString(far["KEY"]!))
        """
    }

    /// A workspace that is a git work tree with an ignored file: a volume seeded from it gets
    /// .gitignore and seed.txt, not ignored.txt nor .git.
    func gitWorkspace(_ name: String) throws -> String {
        let path = workspace(name)
        for (file, text) in [(".gitignore", "ignored.txt\n"), ("seed.txt", "from-host\n"), ("ignored.txt", "stays-here\n")] {
            try text.write(toFile: path + "/" + file, atomically: true, encoding: .utf8)
        }
        XCTAssertTrue(try runSubprocess(["git", "-C", path, "init", "-q"]).succeeded)
        return path
    }

    func workspace(_ name: String) -> String {
        let path = sv.home.file("ws-\(name)")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o777)
        return path
    }

    func testOneProfileOnTwoEnginesSurvivesLosingOne() throws {
        // Unique: other checkouts may run this test on the same engine at the same time.
        let p = "multi\(UInt32.random(in: 0..<1_000_000))"
        let script = sv.home.write("goal.script", """
            --- turn 1
            hostname > where.txt; echo ran-in-$(hostname)
            --- turn 2
            DONE: recorded where it ran

            """)
        func goal(_ name: String, engine: String) -> String {
            """
            [[agents]]
            name = "\(name)"
            kind = "goal"
            goal = "record the host name"
            done_when = "test -s where.txt"
            cwd = \(tomlString(workspace(name)))
            restart = "never"
            limit = 5
            engine = "\(engine)"

            """
        }
        func command(_ name: String, engine: String) -> String {
            agent(name, sh("echo \(name)-up; while read line; do echo got-$line; done"),
                  extra: "engine = \"\(engine)\"\ncwd = \(tomlString(workspace(name)))\nrestart = \"on-failure\"\nbackoff_initial = 0.2\nmax_restarts = 2")
        }
        let path = sv.writeProfile(p, """
            \(farEngine)

            [llm]
            provider = "script"
            script = \(tomlString(script))

            [backend]
            type = "docker"
            image = \(tomlString(DockerTestSupport.image))
            network = "none"
            memory = "256m"
            pids_limit = 200

            """ + goal("gnear", engine: "default") + goal("gfar", engine: "far") + command("a1", engine: "auto") + command("a2", engine: "auto"))
        // gfar's workspace is a git work tree: its volume on the TCP engine is seeded with what
        // git would track, not what .gitignore leaves out.
        let farWorkspace = try gitWorkspace("gfar")
        try upDetached(path)

        // The goal agents ran their commands in their containers, one on each engine.
        for (agent, onFar) in [("gnear", false), ("gfar", true)] {
            let state = try sv.waitForState(p, agent, "the goal run to end", seconds: 90) { !$0.state.isActive && !$0.runs.isEmpty }
            let log = String(decoding: sv.log(p, agent), as: UTF8.self)
            XCTAssertEqual(state.runs.map(\.exit), [.exited(0)], log)
            let name = ContainerSpec.containerName(profile: p, agent: agent)
            if onFar {
                // In the volume on that engine, not here; `pull` brings it back.
                XCTAssertFalse(fileExists(farWorkspace + "/where.txt"))
                let listing = farDocker(["exec", name, "ls", "-A", "/workspace"]).output.split(separator: "\n").map(String.init).sorted()
                XCTAssertEqual(listing, [".gitignore", "seed.txt", "where.txt"], "what git tracks or would track; no .git, no ignored file")
                let dest = sv.home.file("pulled-gfar")
                try ok(["pull", p, "gfar", dest])
                XCTAssertEqual(try String(contentsOfFile: dest + "/where.txt", encoding: .utf8), name + "\n")
                XCTAssertEqual(try String(contentsOfFile: dest + "/seed.txt", encoding: .utf8), "from-host\n")
            } else {
                XCTAssertEqual(try String(contentsOfFile: sv.home.file("ws-\(agent)/where.txt"), encoding: .utf8), name + "\n")
            }
            let onSecond = farDocker(["container", "inspect", "--format", "{{.Name}}", name]).succeeded
            let onDefault = DockerTestSupport.docker(["container", "inspect", "--format", "{{.Name}}", name]).succeeded
            XCTAssertEqual([onSecond, onDefault], [onFar, !onFar], "\(agent): container on the wrong engine")
        }

        // The two auto agents went one to each engine (each had one fixed agent; ties go to the
        // first engine), and the placement is recorded for the next `up`.
        for agent in ["a1", "a2"] { try sv.waitForLog(p, agent, containing: "\(agent)-up", seconds: 60) }
        var statuses = try sv.status(p)
        let engineOf = Dictionary(uniqueKeysWithValues: statuses.map { ($0.agent, $0.engine ?? "-") })
        XCTAssertEqual(engineOf, ["gnear": "default", "gfar": "far", "a1": "default", "a2": "far"])
        let placements = PlacementFile.read(path: sv.profileDir(p) + "/placements.json")
        XCTAssertEqual(placements["a1"], "default")
        XCTAssertEqual(placements["a2"], "far")
        for status in statuses where status.kind == "command" { XCTAssertEqual(status.containerState, "running", status.agent) }
        let events = String(decoding: FileManager.default.contents(atPath: sv.eventsPath(p, "a2")) ?? Data(), as: UTF8.self)
        XCTAssertTrue(events.contains("placed on engine far"), events)

        // The second engine goes away: the first keeps working, the second's agents say so.
        let stopped = try runScript(["stop", engineDir], timeout: 90)
        XCTAssertTrue(stopped.succeeded, stopped.errorOutput)
        try ok(["send", p, "a1", "still-here"])
        try sv.waitForLog(p, "a1", containing: "got-still-here")
        // Its client ends with the engine; the restart policy's next start finds the engine gone
        // (events and pane name it) and, the agent being `auto`, its shim places it again on
        // the engine that answers, with no command from anyone.
        try waitForLines(p, "a2", "a2-up", count: 2)
        let moved = String(decoding: FileManager.default.contents(atPath: sv.eventsPath(p, "a2")) ?? Data(), as: UTF8.self)
        XCTAssertTrue(moved.contains("engine 'far' (\(far["HOST"]!)) does not answer"), moved)
        XCTAssertTrue(moved.contains(#"placed on engine default (engine = \"auto\"; its engine far is not answering)"#), moved)
        XCTAssertEqual(PlacementFile.read(path: sv.profileDir(p) + "/placements.json")["a2"], "default")
        let started = Date()
        statuses = try sv.status(p)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20, "a dead engine must not hold up status")
        let byAgent = Dictionary(uniqueKeysWithValues: statuses.map { ($0.agent, $0) })
        XCTAssertEqual(byAgent["a1"]?.containerState, "running")
        XCTAssertEqual(byAgent["a1"]?.state, "running")
        XCTAssertEqual(byAgent["a2"]?.engine, "default")
        XCTAssertEqual(byAgent["a2"]?.containerState, "running")
        XCTAssertTrue(byAgent["gfar"]?.containerState?.hasPrefix("unknown (engine 'far' (\(far["HOST"]!)) does not answer: ") == true,
                      byAgent["gfar"]?.containerState ?? "-")
        try ok(["send", p, "a2", "moved"])
        try sv.waitForLog(p, "a2", containing: "got-moved")

        // `down` removes what it can reach and names the engine it cannot; once that engine is
        // back, cleanup.sh finds what is left there (engines.tsv outlives `down`).
        let down = try sv.run(["down", p], timeout: 120)
        XCTAssertTrue(down.stdout.contains("warning: engine far (\(far["HOST"]!)) does not answer"), down.stdout + down.stderr)
        let label = "label=\(ContainerSpec.labelHome)=\(sv.root)"
        XCTAssertEqual(DockerTestSupport.docker(["ps", "--all", "--quiet", "--filter", label]).output, "")
        let restarted = try runScript(["start", engineDir], timeout: 120)
        XCTAssertTrue(restarted.succeeded, restarted.errorOutput)
        XCTAssertEqual(farDocker(["ps", "--all", "--quiet", "--filter", label]).output.split(separator: "\n").count, 2, "gfar and a2 stay there")
        let cleanup = try sv.run([], executable: Self.repository + "/cleanup.sh", timeout: 120)
        XCTAssertEqual(cleanup.status, 0, cleanup.stdout + cleanup.stderr)
        XCTAssertTrue(cleanup.stdout.contains("on engine far"), cleanup.stdout)
        XCTAssertEqual(farDocker(["ps", "--all", "--quiet", "--filter", label]).output, "")
        XCTAssertEqual(DockerTestSupport.docker(["ps", "--all", "--quiet", "--filter", label]).output, "")
    }

    /// The shim's own restart moves an `auto` agent whose engine went away (no `up`, `start`
    /// or `restart` involved): to the engine with the fewest agents, its placement recorded,
    /// a `placement` event saying so, and its new workspace volume seeded from the host's cwd
    /// (what git would track) since the old volume cannot be reached. A fixed agent on the
    /// same engine stays and fails clearly through its restart policy; the others run on.
    func testAutoAgentMovesAtItsOwnRestartWhenItsEngineGoes() throws {
        let profile = "mv\(UInt32.random(in: 0..<1_000_000))"
        let localHost = ProcessInfo.processInfo.environment["DOCKER_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "unix:///var/run/docker.sock"
        let volume = ContainerSpec.workspaceVolumeName(profile: profile, agent: "mover")
        addTeardownBlock { DockerTestSupport.docker(["volume", "rm", "--force", volume]) }
        func command(_ name: String, engine: String, restarts: Int, cwd: String) -> String {
            agent(name, sh("echo \(name)-up; while read line; do echo got-$line; done"),
                  extra: "engine = \"\(engine)\"\ncwd = \(tomlString(cwd))\nrestart = \"on-failure\"\nbackoff_initial = 0.2\nmax_restarts = \(restarts)")
        }
        let moverWorkspace = try gitWorkspace("mover")
        // `near` is this machine's engine again, keeping workspaces in volumes as a remote one does.
        let path = sv.writeProfile(profile, """
            [engines.near]
            host = \(tomlString(localHost))
            workspace = "volume"

            \(farEngine)

            [backend]
            type = "docker"
            image = \(tomlString(DockerTestSupport.image))
            network = "none"
            memory = "256m"
            pids_limit = 200

            """ + command("stay", engine: "default", restarts: 2, cwd: workspace("stay"))
                + command("fixed", engine: "far", restarts: 1, cwd: workspace("fixed"))
                + command("mover", engine: "auto", restarts: 3, cwd: moverWorkspace))
        // An earlier `up` put the mover on far (the placement is kept while far answers).
        try FileManager.default.createDirectory(atPath: sv.profileDir(profile), withIntermediateDirectories: true)
        try PlacementFile.write(["mover": "far"], path: sv.profileDir(profile) + "/placements.json")
        try upDetached(path)
        for agent in ["stay", "fixed", "mover"] { try sv.waitForLog(profile, agent, containing: "\(agent)-up", seconds: 60) }
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: try sv.status(profile).map { ($0.agent, $0.engine ?? "-") }),
                       ["stay": "default", "fixed": "far", "mover": "far"])
        let stayPid = try sv.waitForState(profile, "stay", "running") { $0.state == .running }.agentPid

        let stopped = try runScript(["stop", engineDir], timeout: 90)
        XCTAssertTrue(stopped.succeeded, stopped.errorOutput)

        // The mover starts again by itself, on near: default has an agent, far does not answer.
        try waitForLines(profile, "mover", "mover-up", count: 2)
        let events = String(decoding: FileManager.default.contents(atPath: sv.eventsPath(profile, "mover")) ?? Data(), as: UTF8.self)
        XCTAssertTrue(events.contains(#"placed on engine near (engine = \"auto\"; its engine far is not answering)"#), events)
        XCTAssertTrue(events.contains("workspace re-seeded from the host (\(moverWorkspace))"), events)
        XCTAssertEqual(PlacementFile.read(path: sv.profileDir(profile) + "/placements.json")["mover"], "near")
        let container = ContainerSpec.containerName(profile: profile, agent: "mover")
        let listing = DockerTestSupport.docker(["exec", container, "ls", "-A", "/workspace"]).output.split(separator: "\n").map(String.init).sorted()
        XCTAssertEqual(listing, [".gitignore", "seed.txt"], "seeded with what git would track")
        try ok(["send", profile, "mover", "moved"])
        try sv.waitForLog(profile, "mover", containing: "got-moved")

        // The fixed agent stays on far: its starts fail naming the engine, and the policy gives up.
        let failed = try sv.waitForState(profile, "fixed", "to fail", seconds: 90) { $0.state == .failed }
        XCTAssertTrue(failed.lastError?.contains("engine 'far' (\(far["HOST"]!)) does not answer") == true, failed.lastError ?? "-")
        let statuses = Dictionary(uniqueKeysWithValues: try sv.status(profile).map { ($0.agent, $0) })
        XCTAssertEqual(statuses["fixed"]?.engine, "far")
        XCTAssertEqual(statuses["mover"]?.engine, "near")
        XCTAssertEqual(statuses["mover"]?.containerState, "running")
        // The agent on the default engine was not touched.
        XCTAssertEqual(statuses["stay"]?.state, "running")
        XCTAssertEqual(statuses["stay"]?.restarts, 0)
        XCTAssertEqual(try StateFile.read(path: sv.statePath(profile, "stay")).agentPid, stayPid)
        try ok(["down", profile], timeout: 120)
    }

    func testDownRemovesTheContainersOnEveryEngine() throws {
        let p = "multidown\(UInt32.random(in: 0..<1_000_000))"
        let path = sv.writeProfile(p, """
            \(farEngine)

            [backend]
            type = "docker"
            image = \(tomlString(DockerTestSupport.image))
            network = "none"

            """ + agent("near", sh("echo near-up; exec sleep 600"), extra: "cwd = \(tomlString(workspace("near")))")
              + agent("far", sh("echo made-far > pulled.txt; echo far-up; exec sleep 600"), extra: "engine = \"far\"\ncwd = \(tomlString(workspace("far")))"))
        // An engine without the image: one error saying how to copy it; `image copy` does.
        XCTAssertTrue(farDocker(["rmi", DockerTestSupport.image]).succeeded)
        let refused = try sv.run(["validate", path])
        assertOneLineError(refused, ["engine far", "supervisor image copy \(path) \(DockerTestSupport.image) --engine far"])
        try ok(["image", "copy", path, DockerTestSupport.image, "--engine", "far"], timeout: 180)
        try ok(["validate", path])
        try upDetached(path)
        try sv.waitForLog(p, "near", containing: "near-up", seconds: 60)
        try sv.waitForLog(p, "far", containing: "far-up", seconds: 60)
        let label = "label=\(ContainerSpec.labelHome)=\(sv.root)"
        XCTAssertEqual(farDocker(["ps", "--quiet", "--filter", label]).output.split(separator: "\n").count, 1)
        // `pull` copies the workspace out of the container on the second engine.
        let dest = sv.home.file("pulled")
        let preview = try ok(["pull", p, "far", dest, "--diff"])
        XCTAssertTrue(preview.stdout.contains("+made-far"), preview.stdout)
        XCTAssertFalse(fileExists(dest + "/pulled.txt"), "--diff copies nothing")
        try ok(["pull", p, "far", dest])
        XCTAssertEqual(try String(contentsOfFile: dest + "/pulled.txt", encoding: .utf8), "made-far\n")

        try ok(["down", p], timeout: 120)
        XCTAssertEqual(DockerTestSupport.docker(["ps", "--all", "--quiet", "--filter", label]).output, "")
        XCTAssertEqual(farDocker(["ps", "--all", "--quiet", "--filter", label]).output, "")
    }
}
