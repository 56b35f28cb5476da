import Glibc
import Loop
import XCTest
@testable import Hosting
import Profile
import _TestSupport

/// Where `auto` agents go (pure: health and recorded placements are inputs).
final class EnginePlacementTests: XCTestCase {
    let g: Int64 = 1 << 30
    func request(_ agent: String, _ choice: String?, memory: Int64 = 2 << 30) -> EnginePlacement.Request {
        EnginePlacement.Request(agent: agent, choice: choice, memoryBytes: memory)
    }

    func testAutoGoesToTheEngineWithFewestAgentsThenMostMemory() throws {
        let health: [String: EngineHealth] = ["default": .up(memoryBytes: 8 * g), "far": .up(memoryBytes: 16 * g)]
        let d = try EnginePlacement.place([request("fixed", nil), request("x", "auto"), request("y", "auto"), request("z", "auto")],
                                          engines: ["default", "far"], health: health, recorded: [:])
        // fixed on default -> x to far (fewest) -> y: 1 each, far has more memory left -> z: default (fewer).
        XCTAssertEqual(d.engine, ["fixed": "default", "x": "far", "y": "far", "z": "default"])
        XCTAssertEqual(d.notes["x"], #"placed on engine far (engine = "auto")"#)
        XCTAssertNil(d.notes["fixed"])
    }

    func testRecordedPlacementIsKeptWhileItsEngineAnswers() throws {
        let up: [String: EngineHealth] = ["default": .up(memoryBytes: 8 * g), "far": .up(memoryBytes: 8 * g)]
        let kept = try EnginePlacement.place([request("x", "auto"), request("y", "auto")], engines: ["default", "far"], health: up,
                                             recorded: ["x": "far", "y": "far"])
        XCTAssertEqual(kept.engine, ["x": "far", "y": "far"])
        XCTAssertTrue(kept.notes.isEmpty)

        let farDown: [String: EngineHealth] = ["default": .up(memoryBytes: 8 * g), "far": .down(reason: "connection refused")]
        let moved = try EnginePlacement.place([request("x", "auto")], engines: ["default", "far"], health: farDown, recorded: ["x": "far"])
        XCTAssertEqual(moved.engine, ["x": "default"])
        XCTAssertEqual(moved.notes["x"], #"placed on engine default (engine = "auto"; its engine far is not answering)"#)

        let gone = try EnginePlacement.place([request("x", "auto")], engines: ["default"], health: farDown, recorded: ["x": "far"])
        XCTAssertEqual(gone.notes["x"], #"placed on engine default (engine = "auto"; its engine far is no longer in the profile)"#)
    }

    func testNoEngineAnsweringIsOneErrorNamingEach() {
        let down: [String: EngineHealth] = ["default": .down(reason: "no socket"), "far": .down(reason: "timed out after 15 s")]
        XCTAssertThrowsError(try EnginePlacement.place([request("x", "auto")], engines: ["default", "far"], health: down, recorded: [:])) { e in
            XCTAssertEqual("\(e)", #"agent "x" (engine = "auto"): no engine of the profile answers (default: no socket; far: timed out after 15 s)"#)
        }
    }

    func testSizes() {
        XCTAssertEqual(EnginePlacement.bytes("2g"), 2 * g)
        XCTAssertEqual(EnginePlacement.bytes("512m"), 512 << 20)
        XCTAssertEqual(EnginePlacement.bytes("100"), 100)
    }

    func testContainerOnAnotherEngineCarriesItsOptionsEverywhere() {
        var agent = AgentSpec(name: "goal", kind: .goal, cwd: "/w")
        agent.backend.type = .docker
        agent.backend.image = "img:1"
        let profile = Profile(name: "p", sourcePath: "/x/p.toml", directory: "/x", workdir: "/x", llm: LLMSettings(),
                              backend: agent.backend, logs: LogSettings(dir: "/x/logs"), agents: [agent])
        let far = EngineEndpoint(name: "far", options: ["--host", "tcp://h:2376", "--tlsverify", "--tlscacert", "/c"])
        let spec = ContainerSpec.make(profile: profile, agent: agent, home: "/h", dockerExecutable: "/usr/bin/docker", engine: far)
        XCTAssertEqual(spec.engineName, "far")
        XCTAssertEqual(Array(spec.commandArgv(["prog"], environmentNames: []).prefix(7)),
                       ["/usr/bin/docker", "--host", "tcp://h:2376", "--tlsverify", "--tlscacert", "/c", "exec"])
        let local = ContainerSpec.make(profile: profile, agent: agent, home: "/h", dockerExecutable: "/usr/bin/docker", engine: .default)
        XCTAssertNil(local.engine)
        XCTAssertEqual(local.configDigest, spec.configDigest)

        // The lifecycle adds the engine's options to every command it runs.
        var seen: [[String]] = []
        let lifecycle = ContainerLifecycle { arguments, done in
            seen.append(arguments)
            done(SubprocessResult(exit: .exited(1), output: "", errorOutput: "Cannot connect to the Docker daemon at tcp://h:2376"))
        }
        var outcome: Result<ContainerAction, HostingError>?
        lifecycle.ensure(spec) { outcome = $0 }
        XCTAssertEqual(seen.first.map { Array($0.prefix(5)) }, ["--host", "tcp://h:2376", "--tlsverify", "--tlscacert", "/c"])
        guard case .failure(let error)? = outcome else { return XCTFail("expected a failure") }
        XCTAssertTrue("\(error)".contains("engine 'far' (tcp://h:2376) does not answer: Cannot connect"), "\(error)")
    }

    /// An engine whose host vanished answers nothing at all: the shim's docker calls give up
    /// after their timeout and the start fails as an engine that does not answer (so an `auto`
    /// agent moves). The "engine" is a docker CLI stand-in that never answers.
    func testADockerCallThatHangsCountsAsAnEngineThatDoesNotAnswer() throws {
        let dir = TemporaryDirectory(prefix: "hang")
        let silent = dir.file("docker")
        try "#!/bin/sh\nexec sleep 30\n".write(toFile: silent, atomically: true, encoding: .utf8)
        chmod(silent, 0o755)
        let far = EngineEndpoint(name: "far", options: ["--host", "tcp://h:2376"])
        let spec = ContainerSpec(name: "sv-p-a", image: "img", profile: "p", agent: "a", home: "/h", network: "none", memory: "1g",
                                 cpus: nil, pidsLimit: 10, readOnly: false, mounts: [], environmentNames: [], user: "1:1",
                                 workspace: "/workspace", preserve: false, dockerExecutable: silent, engine: far)
        let loop = EventLoop()
        defer { loop.close() }
        var outcome: Result<ContainerAction, HostingError>?
        ContainerLifecycle.onLoop(loop, executable: silent, environment: ["PATH": "/usr/bin:/bin"], timeout: 0.3).ensure(spec) { outcome = $0 }
        try runLoop(loop, until: "the start to give up", seconds: 20) { outcome != nil }
        guard case .failure(let error)? = outcome else { return XCTFail("expected a failure, got \(String(describing: outcome))") }
        XCTAssertTrue("\(error)".contains("engine 'far' (tcp://h:2376) does not answer: timed out"), "\(error)")
    }

    func testAnEngineWithVolumeWorkspacesMountsAVolumeNotTheHostDirectory() {
        var agent = AgentSpec(name: "goal", kind: .goal, cwd: "/w")
        agent.backend.type = .docker
        agent.backend.image = "img:1"
        let profile = Profile(name: "p", sourcePath: "/x/p.toml", directory: "/x", workdir: "/x", llm: LLMSettings(),
                              backend: agent.backend, logs: LogSettings(dir: "/x/logs"), agents: [agent])
        let far = EngineEndpoint(name: "far", options: ["--host", "tcp://h:2376"], workspaceVolume: true)
        let spec = ContainerSpec.make(profile: profile, agent: agent, home: "/h", dockerExecutable: "/usr/bin/docker", engine: far)
        XCTAssertEqual(spec.workspaceVolume, "sv-p-goal-ws")
        XCTAssertTrue(spec.runArguments.contains("type=volume,source=sv-p-goal-ws,target=/workspace"), "\(spec.runArguments)")
        XCTAssertFalse(spec.runArguments.joined(separator: " ").contains("source=/w"))
        let bound = ContainerSpec.make(profile: profile, agent: agent, home: "/h", dockerExecutable: "/usr/bin/docker",
                                       engine: EngineEndpoint(name: "near", options: ["--host", "unix:///s"]))
        XCTAssertNil(bound.workspaceVolume)
        XCTAssertTrue(bound.runArguments.contains("type=bind,source=/w,target=/workspace"))
    }
}
