import Foundation
import Glibc
import Hosting
import Profile
import XCTest
import _TestSupport

/// The Docker backend end to end: real tmux, real shims, a real engine, the test image
/// (debootstrap bookworm), network none or host only. Every container a test makes carries
/// `supervisor.home=<the test's SUPERVISOR_HOME>` and is removed by that label at teardown,
/// after the harness's `down`, also when the test fails.
final class DockerEndToEndTests: EndToEndTestCase {
    static let fakeKey = "sk-FAKE-do-not-leak-7f3a9c"

    override func setUpWithError() throws {
        if let reason = DockerTestSupport.unavailableReason { throw XCTSkip("SKIP Docker tests: \(reason)") }
        var home = ""
        // Registered before the harness's own clean-up, so it runs after it (teardown is LIFO).
        addTeardownBlock { if !home.isEmpty { DockerTestSupport.removeContainers(label: "\(ContainerSpec.labelHome)=\(home)") } }
        try super.setUpWithError()
        home = sv.root
        // The key `up` has in its environment: it must reach no container.
        sv.environment["OPENAI_API_KEY"] = Self.fakeKey
        sv.environment["SV_TEST_ALLOWED"] = "allowed-value"
    }

    /// A workspace the container's default user (uid 1000 when the tests run as root) can write.
    func workspace(_ name: String) -> String {
        let path = sv.home.file("ws-\(name)")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o777)
        return path
    }

    func backend(network: String = "none", extra: String = "") -> String {
        """
        [backend]
        type = "docker"
        image = \(tomlString(DockerTestSupport.image))
        network = \(tomlString(network))
        memory = "256m"
        cpus = 1.5
        pids_limit = 200
        \(extra)

        """
    }

    func inspect(_ container: String, _ format: String) -> String {
        DockerTestSupport.docker(["inspect", "--format", format, container]).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func container(_ profile: String, _ agent: String) -> String { ContainerSpec.containerName(profile: profile, agent: agent) }

    /// `base` with a random suffix: the profile name is in the container names (`sv-PROFILE-AGENT`),
    /// and another checkout may run these tests on the same engine at the same time.
    func profileName(_ base: String) -> String { DockerTestSupport.uniqueTag(base + "-") }

    // MARK: lifecycle, labels, limits, hardening, no key

    func testUpMakesOneHardenedLabelledContainerPerAgentAndDownRemovesThem() throws {
        let p = profileName("dlife")
        let ws = workspace("life")
        let path = sv.writeProfile(p, backend(extra: "env = [\"SV_TEST_ALLOWED\"]") +
            agent("one", sh("echo one-up; env; exec sleep 600"), extra: "cwd = \(tomlString(ws))") +
            agent("two", sh("echo two-up; exec sleep 600"), extra: "cwd = \(tomlString(ws))\n[agents.backend]\nnetwork = \"host\"\nread_only = true"))
        try upDetached(path)
        try sv.waitForLog(p, "one", containing: "one-up")
        try sv.waitForLog(p, "two", containing: "two-up")

        for (agent, network) in [("one", "none"), ("two", "host")] {
            let name = container(p, agent)
            XCTAssertEqual(inspect(name, "{{.State.Running}}"), "true", name)
            XCTAssertEqual(inspect(name, "{{index .Config.Labels \"supervisor.profile\"}} {{index .Config.Labels \"supervisor.agent\"}}"), "\(p) \(agent)")
            XCTAssertEqual(inspect(name, "{{.HostConfig.NetworkMode}}"), network)
            XCTAssertEqual(inspect(name, "{{json .HostConfig.CapDrop}}"), "[\"ALL\"]")
            XCTAssertEqual(inspect(name, "{{json .HostConfig.CapAdd}}"), "[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FOWNER\",\"CAP_SETGID\",\"CAP_SETUID\"]")
            XCTAssertEqual(inspect(name, "{{json .HostConfig.SecurityOpt}}"), "[\"no-new-privileges\"]")
            XCTAssertEqual(inspect(name, "{{.HostConfig.PidsLimit}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.Init}}"),
                           "200 268435456 1500000000 true")
            XCTAssertEqual(inspect(name, "{{.Config.User}}"), ContainerSpec.defaultUser())
            XCTAssertNotEqual(inspect(name, "{{.Config.User}}").split(separator: ":").first, "0", "never root by default")
            XCTAssertEqual(inspect(name, "{{.HostConfig.ReadonlyRootfs}}"), agent == "two" ? "true" : "false")
            // No API key anywhere in the container's configuration or its processes' environment.
            let everything = DockerTestSupport.docker(["inspect", name]).output
            XCTAssertFalse(everything.contains(Self.fakeKey), "the key is in docker inspect of \(name)")
            XCTAssertFalse(everything.contains("OPENAI_API_KEY"))
            let environ = DockerTestSupport.docker(["exec", name, "sh", "-c", "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'"]).output
            XCTAssertFalse(environ.contains(Self.fakeKey), "the key is in a process environment inside \(name)")
        }
        // The allow-listed variable is passed, the key is not; the agent's own `env` output is in its log.
        try sv.waitForLog(p, "one", containing: "SV_TEST_ALLOWED=allowed-value")
        XCTAssertNil(sv.log(p, "one").range(of: Data(Self.fakeKey.utf8)), "the key is in the agent's output")
        XCTAssertEqual(inspect(container(p, "one"), "{{range .Mounts}}{{.Source}}:{{.Destination}}{{end}}"), "\(ws):/workspace")

        let statuses = try sv.status(p)
        XCTAssertEqual(statuses.map(\.container), [container(p, "one"), container(p, "two")])
        XCTAssertEqual(statuses.map(\.containerState), ["running", "running"])
        let table = try ok(["status", p]).stdout
        XCTAssertTrue(table.contains("CONTAINER") && table.contains(container(p, "one")) && table.contains("(running)"), table)

        try ok(["down", p])
        XCTAssertEqual(DockerTestSupport.docker(["ps", "-a", "-q", "--filter", "label=supervisor.home=\(sv.root)"]).output, "")
    }

    // MARK: a command agent inside its container, through tmux

    func testCommandAgentRunsInItsContainerAndIsReachableThroughTmux() throws {
        let p = profileName("dcmd")
        let ws = workspace("cmd")
        let path = sv.writeProfile(p, backend() +
            agent("shell", ["bash", "--norc", "--noprofile", "-i"], extra: "cwd = \(tomlString(ws))\nstop_timeout = 2\nenv = { PS1 = \"in-box$ \" }"))
        try upDetached(path)
        try sv.waitForLog(p, "shell", containing: "in-box$ ")
        try ok(["send", p, "shell", "echo host=$(hostname) dir=$(pwd) sum=$((40+2)); tty; echo from-box > made.txt"])
        try sv.waitForLog(p, "shell", containing: "host=\(container(p, "shell")) dir=/workspace sum=42")
        try sv.waitForLog(p, "shell", containing: "/dev/pts/")
        try waitFor("the file written in the box to appear in the host workspace") {
            (try? String(contentsOfFile: ws + "/made.txt", encoding: .utf8)) == "from-box\n"
        }
        // The agent's pane shows the same: attaching reaches the program in the container.
        try waitFor("the pane to show the answer") {
            try sv.tmux(p, ["capture-pane", "-p", "-t", "=\(p):=shell"]).stdout.contains("host=" + self.container(p, "shell"))
        }
        XCTAssertEqual(try sv.tmux(p, ["send-keys", "-t", "=\(p):=shell", "-l", "echo typed-$((2*3))"]).status, 0)
        XCTAssertEqual(try sv.tmux(p, ["send-keys", "-t", "=\(p):=shell", "Enter"]).status, 0)
        try sv.waitForLog(p, "shell", containing: "typed-6")

        // `stop` reaches the program inside (docker exec forwards no signal: the shim signals it
        // there; an interactive bash ignores SIGTERM, so this is the SIGKILL after stop_timeout).
        try ok(["stop", p, "shell"])
        try sv.waitForState(p, "shell", "stopped") { $0.state == .stopped }
        try waitFor("no bash left in the container") {
            !DockerTestSupport.docker(["top", self.container(p, "shell"), "-o", "pid,args"]).output.contains("bash --norc")
        }
        try ok(["down", p])
    }

    // MARK: a container killed mid-run, recovered by restart

    func testKilledContainerIsReportedAndRecreatedByRestart() throws {
        let p = profileName("dkill")
        let ws = workspace("kill")
        let path = sv.writeProfile(p, backend() +
            agent("victim", sh("echo up-in-$(hostname); exec sleep 600"), extra: "cwd = \(tomlString(ws))\nrestart = \"never\""))
        try upDetached(path)
        let name = container(p, "victim")
        try sv.waitForLog(p, "victim", containing: "up-in-" + name)
        let firstID = inspect(name, "{{.Id}}")

        XCTAssertTrue(DockerTestSupport.docker(["kill", name]).succeeded)
        try sv.waitForState(p, "victim", "ended with its container") { $0.state == .exited || $0.state == .failed }
        let reported = try sv.status(p).first
        XCTAssertEqual(reported?.containerState, "exited (137)")
        XCTAssertTrue(try ok(["status", p]).stdout.contains("exited (137)"))

        let restarted = try ok(["restart", p, "victim"])
        XCTAssertTrue(restarted.stdout.contains("running"), "\(restarted)")
        try waitFor("a fresh container") { self.inspect(name, "{{.State.Running}}") == "true" }
        XCTAssertNotEqual(inspect(name, "{{.Id}}"), firstID)
        try waitFor("the agent's second start in the log") {
            self.sv.log(p, "victim").split(separator: UInt8(ascii: "\n")).filter { String(decoding: $0, as: UTF8.self).contains("up-in-" + name) }.count >= 2
        }
        let events = String(decoding: FileManager.default.contents(atPath: sv.eventsPath(p, "victim")) ?? Data(), as: UTF8.self)
        XCTAssertTrue(events.contains("\"type\":\"container\"") && events.contains("exited (137); recreated it"), events)
        XCTAssertEqual(try sv.status(p).first?.containerState, "running")
        try ok(["down", p])
    }

    // MARK: removal by label only; preserve_container

    func testDownRemovesOnlyItsOwnContainersAndKeepsPreservedOnes() throws {
        let p = profileName("down1")
        let unrelated = "sv-unrelated-\(DockerTestSupport.uniqueTag("u"))"
        let tag = DockerTestSupport.uniqueTag("t")
        addTeardownBlock { DockerTestSupport.removeContainers(label: "\(DockerTestSupport.testLabel)=\(tag)") }
        _ = try DockerTestSupport.startContainer(name: unrelated, tag: tag)

        let ws = workspace("own")
        let path = sv.writeProfile(p, backend() +
            agent("gone", sh("exec sleep 600"), extra: "cwd = \(tomlString(ws))") +
            agent("kept", sh("echo state > /tmp/kept-state; echo kept-up; exec sleep 600"),
                  extra: "cwd = \(tomlString(ws))\n[agents.backend]\npreserve_container = true"))
        try upDetached(path)
        try sv.waitForLog(p, "kept", containing: "kept-up")
        let keptID = inspect(container(p, "kept"), "{{.Id}}")
        try ok(["down", p])
        XCTAssertEqual(DockerTestSupport.docker(["inspect", container(p, "gone")]).succeeded, false, "removed")
        XCTAssertEqual(inspect(container(p, "kept"), "{{.State.Running}}"), "false", "preserved: stopped, not removed")
        XCTAssertEqual(inspect(unrelated, "{{.State.Running}}"), "true", "a container without our label survives down")

        // The next `up` starts the preserved container again, with what the agent left in it.
        try upDetached(path)
        try sv.waitForLog(p, "kept", containing: "kept-up")
        XCTAssertEqual(inspect(container(p, "kept"), "{{.Id}}"), keptID)
        XCTAssertEqual(DockerTestSupport.docker(["exec", container(p, "kept"), "cat", "/tmp/kept-state"]).output, "state\n")
        try ok(["down", p])
    }

    // MARK: the default image

    func testImageBuildShipsTheDockerfileAndNeedsAnEngine() throws {
        let printed = try ok(["image", "build", "--print"]).stdout
        XCTAssertTrue(printed.contains("ARG BASE=ubuntu:22.04") && printed.contains("useradd --uid 1000"), printed)
        XCTAssertFalse(printed.contains("sudo "), "no sudo in the default image")
        let noEngine = try sv.run(["image", "build"], environment: ["DOCKER_HOST": "unix:///nonexistent/docker.sock"])
        assertOneLineError(noEngine, ["supervisor image build needs Docker", "no Docker engine answers"])
    }

    // MARK: one clear error before anything starts

    func testDockerProblemsAreOneClearErrorBeforeAnythingStarts() throws {
        let (p1, p2, p3) = (profileName("derr1"), profileName("derr2"), profileName("derr3"))
        let ws = workspace("err")
        let missing = sv.writeProfile(p1, "[backend]\ntype = \"docker\"\nimage = \"supervisor-test:no-such-tag\"\nnetwork = \"none\"\n" +
                                      agent("a", sh("true"), extra: "cwd = \(tomlString(ws))"))
        assertOneLineError(try sv.run(["up", missing, "--detach"]), ["image supervisor-test:no-such-tag is not on the Docker engine"])
        assertOneLineError(try sv.run(["validate", missing]), ["image supervisor-test:no-such-tag"])
        XCTAssertFalse(fileExists(sv.tmuxSocket(p1)), "nothing started")

        let fine = sv.writeProfile(p2, backend() + agent("a", sh("true"), extra: "cwd = \(tomlString(ws))"))
        let noEngine = try sv.run(["up", fine, "--detach"], environment: ["DOCKER_HOST": "unix:///nonexistent/docker.sock"])
        assertOneLineError(noEngine, ["needs Docker", "no Docker engine answers at unix:///nonexistent/docker.sock"])
        // A PATH with tmux but no docker.
        let bin = sv.home.file("tmux-only-bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        symlink(SupervisorHarness.tmuxExecutable, bin + "/tmux")
        var noDocker = sv.environment
        noDocker["PATH"] = bin
        assertOneLineError(try sv.run(["up", fine, "--detach"], replaceEnvironment: noDocker), ["docker command is not installed"])
        XCTAssertFalse(fileExists(sv.tmuxSocket(p2)), "nothing started")

        let leaky = sv.writeProfile(p3, backend(extra: "env = [\"LANG\", \"OPENAI_API_KEY\"]") + agent("a", sh("true"), extra: "cwd = \(tomlString(ws))"))
        assertOneLineError(try sv.run(["validate", leaky]), ["OPENAI_API_KEY", "API keys never enter a container"])
        assertOneLineError(try sv.run(["up", leaky, "--detach"]), ["OPENAI_API_KEY", "API keys never enter a container"])
        XCTAssertEqual(DockerTestSupport.docker(["ps", "-a", "-q", "--filter", "label=supervisor.home=\(sv.root)"]).output, "", "no container made")
    }

    // MARK: a container user that can write the workspace

    /// Run as root (a server, CI, a container), supervisor never makes root the container's user
    /// by default, and the default user must be able to write the workspace: its owner when not
    /// root; a workspace only root may write is refused at `validate`/`up` (one line naming the
    /// directory and the fix) instead of failing at the agent's first write; `user = "root"` runs it.
    func testTheContainerUserCanWriteTheWorkspaceOrUpRefuses() throws {
        let (p1, p2, p3) = (profileName("dusr1"), profileName("dusr2"), profileName("dusr3"))
        try XCTSkipIf(getuid() != 0, "needs root (the case is supervisor run as root)")
        let writer = sh("touch /workspace/x && echo touch-ok || echo touch-failed; echo uid=$(id -u); exec sleep 600")

        let rootOnly = sv.home.file("ws-root-only")
        try FileManager.default.createDirectory(atPath: rootOnly, withIntermediateDirectories: true)
        chmod(rootOnly, 0o755)
        let refused = sv.writeProfile(p1, backend() + agent("a", writer, extra: "cwd = \(tomlString(rootOnly))"))
        for command in [["validate", refused], ["up", refused, "--detach"]] {
            assertOneLineError(try sv.run(command), ["agent \"a\"", rootOnly, "belongs to root", "1000:1000", "user = \"root\"", "chown"])
        }
        XCTAssertFalse(fileExists(sv.tmuxSocket(p1)), "nothing started")
        XCTAssertEqual(DockerTestSupport.docker(["ps", "-a", "-q", "--filter", "label=supervisor.home=\(sv.root)"]).output, "", "no container made")

        // The profile says root: it runs as root and writes.
        let asRoot = sv.writeProfile(p2, backend(extra: "user = \"root\"") + agent("a", writer, extra: "cwd = \(tomlString(rootOnly))"))
        try upDetached(asRoot)
        try sv.waitForLog(p2, "a", containing: "uid=")
        let rootLog = String(decoding: sv.log(p2, "a"), as: UTF8.self)
        XCTAssertTrue(rootLog.contains("touch-ok") && rootLog.contains("uid=0"), rootLog)
        try ok(["down", p2])

        // A workspace that belongs to a user: the container runs as that user, whose files stay theirs.
        let owned = sv.home.file("ws-owned")
        try FileManager.default.createDirectory(atPath: owned, withIntermediateDirectories: true)
        chmod(owned, 0o755)
        XCTAssertEqual(chown(owned, 4242, 4343), 0)
        let byOwner = sv.writeProfile(p3, backend() + agent("a", writer, extra: "cwd = \(tomlString(owned))"))
        try upDetached(byOwner)
        try sv.waitForLog(p3, "a", containing: "uid=")
        let ownerLog = String(decoding: sv.log(p3, "a"), as: UTF8.self)
        XCTAssertTrue(ownerLog.contains("touch-ok") && ownerLog.contains("uid=4242"), ownerLog)
        XCTAssertEqual(inspect(container(p3, "a"), "{{.Config.User}}"), "4242:4343")
        var info = stat()
        XCTAssertEqual(stat(owned + "/x", &info), 0)
        XCTAssertEqual(info.st_uid, 4242)
        try ok(["down", p3])
    }
}
