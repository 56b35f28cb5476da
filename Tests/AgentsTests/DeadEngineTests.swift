import Foundation
import Glibc
import XCTest
@testable import Agents
import Hosting
import Loop
import _TestSupport

/// An engine that does not answer, as each built-in agent's tools meet it: the docker CLI's
/// own message becomes "engine 'NAME' (ADDRESS) does not answer: ...". The engine is a TCP
/// address where nothing listens (the real docker CLI fails at once; no daemon is needed).
final class DeadEngineTests: XCTestCase {
    var loop: EventLoop!
    let dead = EngineEndpoint(name: "b", options: ["--host", "tcp://127.0.0.1:1"])

    override func setUp() { loop = EventLoop() }

    override func tearDown() {
        try? runLoop(loop, until: "handles closed", seconds: 0.3) { false }
        loop.close()
    }

    func box() throws -> DockerBox {
        guard let docker = resolveExecutable("docker", path: ProcessInfo.processInfo.environment["PATH"]) else {
            throw XCTSkip("SKIP: the docker CLI is not installed")
        }
        return DockerBox(container: "sv-dead-a", dockerExecutable: docker, hostWorkspace: NSTemporaryDirectory(),
                         environment: ProcessInfo.processInfo.environment, withheld: [], engineOptions: dead.options, engine: dead)
    }

    var expected: String { "engine 'b' (tcp://127.0.0.1:1) does not answer: Cannot connect to the Docker daemon at tcp://127.0.0.1:1" }

    func testTheCLIsWordsForAnUnreachableEngineAreRecognisedAndNothingElse() {
        let far = EngineEndpoint(name: "far", options: ["--host", "tcp://10.0.0.2:2376"])
        XCTAssertEqual(far.explain("Cannot connect to the Docker daemon at tcp://10.0.0.2:2376. Is the docker daemon running?\n"),
                       "engine 'far' (tcp://10.0.0.2:2376) does not answer: Cannot connect to the Docker daemon at tcp://10.0.0.2:2376. Is the docker daemon running?")
        XCTAssertEqual(far.explain("some output\nerror during connect: Get \"https://10.0.0.2:2376/v1.41/info\": dial tcp 10.0.0.2:2376: connect: no route to host"),
                       "engine 'far' (tcp://10.0.0.2:2376) does not answer: error during connect: Get \"https://10.0.0.2:2376/v1.41/info\": dial tcp 10.0.0.2:2376: connect: no route to host")
        XCTAssertNil(far.explain("Error response from daemon: container abc is not running"))
        XCTAssertNil(far.explain("curl: (7) Failed to connect to example.org port 80: Connection refused"))
        XCTAssertEqual(EngineEndpoint(name: "ctx", options: ["--context", "lab"]).notAnswering("x"), "engine 'ctx' (docker context lab) does not answer: x")
    }

    /// The coder's commands and the goal runner's checks (one-shot box commands).
    func testABoxCommandNamesTheEngine() throws {
        let box = try box()
        var result: CommandResult?
        BoxCommand(loop: loop, box: box, shellCommand: "echo hi", timeout: 30) { result = $0 }
        try runLoop(loop, until: "the box command", seconds: 30) { result != nil }
        XCTAssertNotEqual(result?.exit, .exited(0))
        XCTAssertTrue(result?.output.contains(expected) == true, result?.output ?? "-")
    }

    /// The goal runner's shell session.
    func testAShellSessionThatCannotStartNamesTheEngine() throws {
        let session = ShellSession(loop: loop, box: try box(), environment: [:], options: ShellSessionOptions())
        defer { session.close() }
        var outcome: ShellOutcome?
        session.run("echo hi") { outcome = $0 }
        try runLoop(loop, until: "the command", seconds: 30) { outcome != nil }
        XCTAssertTrue(outcome?.status.description.contains(expected) == true, "\(String(describing: outcome))")
    }

    /// The exec agent's Python runtime.
    func testAPythonRuntimeThatCannotStartNamesTheEngine() throws {
        let runtime = PythonRuntime(loop: loop, box: try box(), options: PythonRuntime.Options())
        defer { runtime.close() }
        var error: String??
        runtime.start { error = .some($0) }
        try runLoop(loop, until: "the runtime to fail", seconds: 30) { error != nil }
        XCTAssertTrue((error ?? nil)?.contains(expected) == true, "\(String(describing: error))")
    }
}
