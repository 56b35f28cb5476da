import Foundation
import Glibc
import XCTest
@testable import Agents
import Hosting
import Loop
import Profile
import _TestSupport

/// DockerBox: argv shape (pure), then one-shot and persistent interactive processes in a real
/// container of the test image (skipped with a SKIP line when no engine can run).
///
/// For other agents' tests: `DockerBoxFixture` starts a throwaway container with a workspace
/// bind mount and hands back a DockerBox for it; it is removed at teardown.
final class DockerBoxTests: XCTestCase {
    func testABoxOnAnotherEngineCarriesItsOptionsAndAVolumeWorkspaceHasNoHostPath() {
        let box = DockerBox(container: "sv-p-a", dockerExecutable: "/usr/bin/docker", hostWorkspace: "/home/me/proj",
                            environment: [:], withheld: [], engineOptions: ["--context", "far"], workspaceOnHost: false)
        XCTAssertEqual(box.argv(["ls"], directory: nil, environment: [:], interactive: false, tty: false),
                       ["/usr/bin/docker", "--context", "far", "exec", "--workdir", "/workspace", "sv-p-a", "ls"])
        XCTAssertNil(box.hostPath(forBoxPath: "/workspace/a.py"))
        XCTAssertNil(box.boxPath(forHostPath: "/home/me/proj/a.py"))
    }

    func testArgvWrapsTheCommandInDockerExecAndDropsSecrets() {
        let box = DockerBox(container: "sv-p-a", dockerExecutable: "/usr/bin/docker", hostWorkspace: "/home/me/proj",
                            environment: ["PATH": "/usr/bin", "OPENAI_API_KEY": "sk-1", "MY_KEY": "x"], withheld: ["MY_KEY"])
        XCTAssertEqual(box.argv(["ls", "-l"], directory: nil, environment: [:], interactive: false, tty: false),
                       ["/usr/bin/docker", "exec", "--workdir", "/workspace", "sv-p-a", "ls", "-l"])
        XCTAssertEqual(box.argv(["bash"], directory: "/tmp", environment: ["TERM": "dumb", "PS1": "$ ", "MY_KEY": "x", "A_API_KEY": "y"],
                                interactive: true, tty: true),
                       ["/usr/bin/docker", "exec", "--interactive", "--tty", "--workdir", "/tmp", "--env", "PS1=$ ", "--env", "TERM=dumb", "sv-p-a", "bash"])
        let env = box.hostProcessEnvironment(["X": "1"])
        XCTAssertNil(env["OPENAI_API_KEY"]); XCTAssertNil(env["MY_KEY"])
        XCTAssertEqual(env["PATH"], "/usr/bin"); XCTAssertEqual(env["X"], "1")
    }

    func testPathTranslation() {
        let box = DockerBox(container: "c", dockerExecutable: "docker", hostWorkspace: "/home/me/proj", boxWorkspace: "/workspace",
                            mounts: [ContainerSpec.BindMount(host: "/srv/data", container: "/data", readOnly: true)], environment: [:], withheld: [])
        XCTAssertEqual(box.hostPath(forBoxPath: "/workspace/src/a.py"), "/home/me/proj/src/a.py")
        XCTAssertEqual(box.hostPath(forBoxPath: "/workspace"), "/home/me/proj")
        XCTAssertEqual(box.hostPath(forBoxPath: "/data/x"), "/srv/data/x")
        XCTAssertNil(box.hostPath(forBoxPath: "/workspacex/a"))
        XCTAssertNil(box.hostPath(forBoxPath: "/etc/hosts"))
        XCTAssertEqual(box.boxPath(forHostPath: "/home/me/proj/b"), "/workspace/b")
    }

    func testMakeBoxChoosesByBackend() {
        var agent = AgentSpec(name: "a", kind: .goal, cwd: "/tmp")
        let local = makeBox(config: AgentLaunchConfig(profile: "p", agent: agent, stateDir: "/s", logsDir: "/l", settingsFile: nil),
                            environment: ["PATH": "/bin"])
        XCTAssertTrue(local is LocalBox)
        agent.backend.type = .docker
        agent.backend.image = "img"
        agent.backend.workspace = "/w"
        let docker = makeBox(config: AgentLaunchConfig(profile: "p", agent: agent, stateDir: "/s", logsDir: "/l", settingsFile: nil),
                             environment: ["PATH": "/bin"])
        XCTAssertEqual((docker as? DockerBox)?.container, "sv-p-a")
        XCTAssertEqual(docker.boxWorkspace, "/w")
        XCTAssertEqual(docker.hostWorkspace, "/tmp")
    }

    func testCommandRunsInTheContainerWithTheWorkspaceMounted() throws {
        let fixture = try DockerBoxFixture(self)
        let loop = EventLoop()
        defer { loop.close() }
        FileManager.default.createFile(atPath: fixture.workspace.file("from-host.txt"), contents: Data("hello from host\n".utf8))
        var result: CommandResult?
        BoxCommand(loop: loop, box: fixture.box, shellCommand: "hostname; pwd; cat from-host.txt; echo made > in-box.txt; echo key=${OPENAI_API_KEY:-none}; exit 4",
                   timeout: 30) { result = $0 }
        try runLoop(loop, until: "command in container", seconds: 30) { result != nil }
        XCTAssertEqual(result?.exit, .exited(4))
        XCTAssertEqual(result?.output, "\(fixture.container)\n/workspace\nhello from host\nkey=none\n")
        XCTAssertEqual(try String(contentsOfFile: fixture.workspace.file("in-box.txt"), encoding: .utf8), "made\n")
    }

    func testPersistentInteractiveProcessOverPipes() throws {
        let fixture = try DockerBoxFixture(self)
        let loop = EventLoop()
        defer { loop.close() }
        let input = PipeStream(loop: loop), output = PipeStream(loop: loop)
        var received = ""
        var exit: ProcessExit?
        let argv = fixture.box.argv(["python3", "-u", "-i", "-q"], directory: nil, environment: ["PYTHONSTARTUP": ""], interactive: true, tty: false)
        let process = try ChildProcess(loop: loop, arguments: argv, environment: fixture.box.hostProcessEnvironment([:]),
                                       stdio: [.pipe(input, childReads: true), .pipe(output, childReads: false), .ignore]) { exit = $0 }
        try output.startReading { if case .data(let bytes) = $0 { received += String(decoding: bytes, as: UTF8.self) } }
        input.write(Array("x = 6\n".utf8)) { _ in }
        input.write(Array("print('answer', x * 7)\n".utf8)) { _ in }
        try runLoop(loop, until: "first answer", seconds: 30) { received.contains("answer 42") }
        // State persists between inputs: the same interpreter.
        input.write(Array("import socket; print('host', socket.gethostname(), x)\n".utf8)) { _ in }
        try runLoop(loop, until: "second answer", seconds: 30) { received.contains("host \(fixture.container) 6") }
        input.close()
        try runLoop(loop, until: "interpreter exit", seconds: 30) { exit != nil }
        XCTAssertEqual(exit, .exited(0))
        output.close()
        process.close()
    }

    func testInteractiveShellOnATerminal() throws {
        let fixture = try DockerBoxFixture(self)
        let loop = EventLoop()
        defer { loop.close() }
        let pty = try PseudoTerminal(rows: 24, cols: 100)
        let argv = fixture.box.argv(["bash", "--noprofile", "--norc", "-i"], directory: "/tmp", environment: ["TERM": "dumb", "PS1": "$ "],
                                    interactive: true, tty: true)
        let pid = try pty.spawn(executable: argv[0], arguments: argv, environment: fixture.box.hostProcessEnvironment([:]),
                                directory: fixture.box.hostProcessDirectory)
        let master = try PipeStream(loop: loop, fd: pty.masterFD)
        var screen = ""
        try master.startReading { if case .data(let bytes) = $0 { screen += String(decoding: bytes, as: UTF8.self) } }
        master.write(Array("cd /workspace; echo at-$(pwd)-$((6*7)); tty\r".utf8)) { _ in }
        try runLoop(loop, until: "shell answer", seconds: 30) { screen.contains("at-/workspace-42") && screen.contains("/dev/pts/") }
        master.write(Array("exit 3\r".utf8)) { _ in }
        var status: Int32 = 0
        try waitFor("shell exit", seconds: 30) { waitpid(pid, &status, WNOHANG) == pid }
        XCTAssertEqual((status >> 8) & 0xff, 3)
        master.close()
    }
}

/// A throwaway container of the test image with a fresh host directory bind-mounted at
/// /workspace, and a DockerBox for it. Skips the test (SKIP line) when no engine can run;
/// removes the container at teardown, also when the test fails.
final class DockerBoxFixture {
    let workspace = TemporaryDirectory(prefix: "svbox")
    let container: String
    let box: DockerBox

    init(_ test: XCTestCase, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        if let reason = DockerTestSupport.unavailableReason { throw XCTSkip("SKIP Docker tests: \(reason)") }
        let tag = DockerTestSupport.uniqueTag("box")
        container = "sv-test-\(tag)"
        test.addTeardownBlock { DockerTestSupport.removeContainers(label: "\(DockerTestSupport.testLabel)=\(tag)") }
        _ = try DockerTestSupport.startContainer(name: container, tag: tag, extra: [
            "--hostname", container, "--mount", "type=bind,source=\(workspace.path),target=/workspace", "--workdir", "/workspace"])
        box = DockerBox(container: container, dockerExecutable: DockerTestSupport.engine.executable, hostWorkspace: workspace.path,
                        environment: environment.merging(["OPENAI_API_KEY": "sk-fake-fixture"]) { $1 }, withheld: ["OPENAI_API_KEY"])
    }
}
