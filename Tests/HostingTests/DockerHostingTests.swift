import Foundation
import Glibc
import XCTest
@testable import Hosting
import Profile
import _TestSupport

/// The container spec (pure) and the container lifecycle against a real engine.
final class DockerContainerSpecTests: XCTestCase {
    func spec(preserve: Bool = false, user: String? = nil, readOnly: Bool = false) -> ContainerSpec {
        var agent = AgentSpec(name: "goal", kind: .goal, cwd: "/tmp/ws,1")
        agent.backend.type = .docker
        agent.backend.image = "img:1"
        agent.backend.network = "none"
        agent.backend.env = ["LANG"]
        agent.backend.user = user
        agent.backend.readOnly = readOnly
        agent.backend.preserveContainer = preserve
        agent.backend.mounts = [Mount(host: "/data", container: "/data", readOnly: true)]
        let profile = Profile(name: "p", sourcePath: "/x/p.toml", directory: "/x", workdir: "/x", llm: LLMSettings(),
                              backend: agent.backend, logs: LogSettings(dir: "/x/logs"), agents: [agent])
        return ContainerSpec.make(profile: profile, agent: agent, home: "/h", dockerExecutable: "/usr/bin/docker")
    }

    func testRunArgumentsAreHardenedLabelledAndLimited() {
        let args = spec().runArguments
        let joined = args.joined(separator: " ")
        XCTAssertEqual(args.first, "run")
        for fragment in ["--name sv-p-goal", "--init", "--cap-drop ALL", "--cap-add CHOWN", "--cap-add DAC_OVERRIDE",
                         "--cap-add FOWNER", "--cap-add SETGID", "--cap-add SETUID", "--security-opt no-new-privileges",
                         "--pids-limit 1024", "--memory 2g", "--network none", "--workdir /workspace",
                         "--label supervisor.profile=p", "--label supervisor.agent=goal", "--label supervisor.home=/h",
                         "--env LANG", "--mount type=bind,\"source=/tmp/ws,1\",target=/workspace",
                         "--mount type=bind,source=/data,target=/data,readonly", "--entrypoint sleep img:1 infinity"] {
            XCTAssertTrue(joined.contains(fragment), "missing \(fragment) in \(joined)")
        }
        XCTAssertEqual(args.filter { $0 == "--cap-add" }.count, 5)
        XCTAssertFalse(joined.contains("--read-only"))
        XCTAssertTrue(spec(readOnly: true).runArguments.joined(separator: " ").contains("--read-only --tmpfs /tmp"))
    }

    func testDefaultUserIsNeverRoot() {
        XCTAssertEqual(ContainerSpec.defaultUser(uid: 0, gid: 0), "1000:1000")
        XCTAssertEqual(ContainerSpec.defaultUser(uid: 1234, gid: 99), "1234:99")
        // Run as root, the default user must be able to write the workspace: its owner when not
        // root, the unprivileged user when anyone may write it, else none (up refuses).
        func owned(_ uid: uid_t, _ gid: gid_t, _ mode: mode_t) -> ContainerSpec.FileOwner { .init(uid: uid, gid: gid, mode: mode) }
        XCTAssertEqual(ContainerSpec.defaultUser(uid: 0, gid: 0, workspace: owned(4242, 77, 0o755)), "4242:77")
        XCTAssertEqual(ContainerSpec.defaultUser(uid: 0, gid: 0, workspace: owned(0, 0, 0o1777)), "1000:1000")
        XCTAssertNil(ContainerSpec.defaultUser(uid: 0, gid: 0, workspace: owned(0, 0, 0o755)))
        XCTAssertNil(ContainerSpec.defaultUser(uid: 0, gid: 0, workspace: owned(0, 1000, 0o775)))
        XCTAssertEqual(ContainerSpec.defaultUser(uid: 1234, gid: 99, workspace: owned(0, 0, 0o755)), "1234:99")
        XCTAssertEqual(spec(user: "root").user, "root")
    }

    func testConfigDigestFollowsTheSettings() {
        XCTAssertEqual(spec().configDigest, spec().configDigest)
        XCTAssertNotEqual(spec().configDigest, spec(preserve: true).configDigest)
        XCTAssertNotEqual(spec().configDigest, spec(user: "root").configDigest)
        XCTAssertTrue(spec().runArguments.contains("supervisor.config=\(spec().configDigest)"))
    }

    func testCommandArgvRunsTheProgramInTheContainerOnATerminal() {
        let argv = spec().commandArgv(["python3", "-c", "print('a b')"], environmentNames: ["B", "A"])
        XCTAssertEqual(Array(argv.prefix(8)), ["/usr/bin/docker", "exec", "--interactive", "--tty", "--workdir", "/workspace", "--env", "TERM"])
        XCTAssertEqual(Array(argv[8..<12]), ["--env", "A", "--env", "B"])
        XCTAssertEqual(argv[12], "sv-p-goal")
        XCTAssertEqual(Array(argv.suffix(3)), ["python3", "-c", "print('a b')"])
    }

    func testInspectLineParses() {
        let line = "abc123\t/sv-p-a\texited\t137\t{\"supervisor.profile\":\"p\",\"supervisor.agent\":\"a\"}"
        let info = ContainerInfo.parse(line: line)
        XCTAssertEqual(info?.name, "sv-p-a")
        XCTAssertEqual(info?.summary, "exited (137)")
        XCTAssertEqual(info?.labels["supervisor.agent"], "a")
        XCTAssertEqual(ContainerInfo.parse(line: "x\t/y\trunning\t0\tnull")?.labels, [:])
    }

    func testSecretNames() {
        for name in ["OPENAI_API_KEY", "my_api_key", "GITHUB_API_TOKEN", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY",
                     "PGPASSWORD", "client_secret"] { XCTAssertTrue(Secrets.isSecretName(name), name) }
        for name in ["PATH", "LANG", "API_KEYS_DIR", "HOME", "AWS_REGION", "MAX_TOKENS", "TOKENIZERS_PARALLELISM", "SECRETS_DIR"] {
            XCTAssertFalse(Secrets.isSecretName(name), name)
        }
        XCTAssertTrue(Secrets.isAPIKeyName("my_api_key"))
        XCTAssertFalse(Secrets.isAPIKeyName("GITHUB_TOKEN"))
        XCTAssertNil(DockerEngine(executable: "/bin/true", environment: ["OPENAI_API_KEY": "k", "PATH": "/bin"]).environment["OPENAI_API_KEY"])
    }

    func testAllowListNamingAnAPIKeyIsRefused() throws {
        let dir = TemporaryDirectory()
        func load(_ env: String) throws -> Profile {
            let path = dir.write("p.toml", """
                name = "p"
                [llm]
                provider = "openai-compatible"
                model = "m"
                api_key_env = "MY_SECRET"
                [backend]
                type = "docker"
                image = "img"
                env = [\(env)]
                [[agents]]
                name = "a"
                kind = "goal"
                goal = "g"
                """)
            return try ProfileLoader.load(path: path)
        }
        XCTAssertNoThrow(try DockerPreflight.checkEnvironmentAllowList(try load("\"LANG\"")))
        for bad in ["MY_SECRET", "OPENAI_API_KEY", "OTHER_API_KEY"] {
            XCTAssertThrowsError(try DockerPreflight.checkEnvironmentAllowList(try load("\"LANG\", \"\(bad)\""))) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(bad) && text.contains("API key") && text.contains("p.toml:"), text)
            }
        }
        // Other secrets are refused too (the docker CLI never gets their values, so they could not arrive anyway).
        XCTAssertThrowsError(try DockerPreflight.checkEnvironmentAllowList(try load("\"GITHUB_TOKEN\""))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("GITHUB_TOKEN") && text.contains("named like a secret") && text.contains("p.toml:"), text)
        }
    }

    func testDockerfileCopyMatchesTheRepository() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try String(contentsOf: repo.appendingPathComponent("docker/Dockerfile"), encoding: .utf8)
        XCTAssertEqual(DockerImage.dockerfile + "\n", file, "docker/Dockerfile and DockerImage.dockerfile must be the same")
    }

    /// Goal agents stop servers with killall/fuser and fetch files with wget (the sanitizer even
    /// has a wget rule): the default image must have them.
    func testDefaultImageInstallsPsmiscAndWget() {
        let install = DockerImage.dockerfile.split(separator: "\n").drop { !$0.contains("apt-get install") }
            .prefix { !$0.contains("rm -rf /var/lib/apt/lists") }.joined(separator: " ")
        let packages = Set(install.split(whereSeparator: { $0 == " " || $0 == "\\" }).map(String.init))
        for p in ["psmisc", "wget", "procps", "curl", "netcat-openbsd"] {
            XCTAssertTrue(packages.contains(p), "\(p) is not installed by the default image: \(install)")
        }
    }
}

/// `ContainerLifecycle` and removal by label, against the engine (skipped, with a SKIP line,
/// when none can run).
final class DockerLifecycleTests: XCTestCase {
    var tag = ""
    var home = ""

    override func setUpWithError() throws {
        if let reason = DockerTestSupport.unavailableReason { throw XCTSkip("SKIP Docker tests: \(reason)") }
        tag = DockerTestSupport.uniqueTag("h")
        home = "/tmp/sv-docker-test-\(tag)"
        let home = self.home, tag = self.tag
        addTeardownBlock {
            DockerTestSupport.removeContainers(label: "\(ContainerSpec.labelHome)=\(home)")
            DockerTestSupport.removeContainers(label: "\(DockerTestSupport.testLabel)=\(tag)")
        }
    }

    func makeSpec(agent: String, preserve: Bool = false, memory: String = "128m") -> ContainerSpec {
        ContainerSpec(name: "sv-\(tag)-\(agent)", image: DockerTestSupport.image, profile: tag, agent: agent, home: home,
                      network: "none", memory: memory, cpus: 0.5, pidsLimit: 64, readOnly: false,
                      mounts: [ContainerSpec.BindMount(host: "/tmp", container: "/workspace", readOnly: false)], environmentNames: [],
                      user: "\(getuid()):\(getgid())", workspace: "/workspace", preserve: preserve,
                      dockerExecutable: DockerTestSupport.engine.executable)
    }

    func ensure(_ spec: ContainerSpec) throws -> ContainerAction {
        var outcome: Result<ContainerAction, HostingError>?
        ContainerLifecycle.synchronous(DockerTestSupport.engine).ensure(spec) { outcome = $0 }
        return try XCTUnwrap(outcome).get()
    }

    func testEnsureCreatesReusesAndRecreatesADeadOrChangedContainer() throws {
        let spec = makeSpec(agent: "a")
        XCTAssertEqual(try ensure(spec), .created)
        let engine = DockerTestSupport.engine
        let first = try XCTUnwrap(engine.inspect(spec.name))
        XCTAssertTrue(first.running)
        XCTAssertEqual(first.labels["supervisor.profile"], tag)
        XCTAssertEqual(first.labels["supervisor.agent"], "a")
        XCTAssertEqual(try ensure(spec), .reused)

        DockerTestSupport.docker(["kill", spec.name])
        XCTAssertEqual(engine.inspect(spec.name)?.running, false)
        guard case .recreated(let reason) = try ensure(spec) else { return XCTFail("not recreated") }
        XCTAssertTrue(reason.contains("exited (137)"), reason)
        let second = try XCTUnwrap(engine.inspect(spec.name))
        XCTAssertTrue(second.running)
        XCTAssertNotEqual(first.id, second.id)

        // A changed setting (here the memory limit) gives a fresh container.
        guard case .recreated(let why) = try ensure(makeSpec(agent: "a", memory: "96m")) else { return XCTFail("not recreated") }
        XCTAssertTrue(why.contains("another configuration"), why)
        XCTAssertEqual(DockerTestSupport.docker(["inspect", "--format", "{{.HostConfig.Memory}}", spec.name]).output, "100663296\n")
    }

    func testPreservedContainerIsStoppedNotRemovedAndStartsAgainWithItsFiles() throws {
        let spec = makeSpec(agent: "keep", preserve: true)
        XCTAssertEqual(try ensure(spec), .created)
        XCTAssertTrue(DockerTestSupport.docker(["exec", spec.name, "sh", "-c", "echo kept > /tmp/marker"]).succeeded)
        let engine = DockerTestSupport.engine
        XCTAssertEqual(engine.removeContainers(profile: tag, home: home), [])
        XCTAssertEqual(engine.inspect(spec.name)?.running, false, "preserved: stopped, not removed")
        guard case .restarted = try ensure(spec) else { return XCTFail("not restarted") }
        XCTAssertEqual(DockerTestSupport.docker(["exec", spec.name, "cat", "/tmp/marker"]).output, "kept\n")
        engine.removeContainers(profile: tag, home: home, includePreserved: true)
        XCTAssertNil(engine.inspect(spec.name))
    }

    func testRemovalByLabelLeavesOtherContainersAlone() throws {
        let engine = DockerTestSupport.engine
        XCTAssertEqual(try ensure(makeSpec(agent: "a")), .created)
        XCTAssertEqual(try ensure(makeSpec(agent: "b")), .created)
        // Unrelated: no supervisor label at all, and one of the same profile under another home.
        let unrelated = "sv-\(tag)-unrelated"
        _ = try DockerTestSupport.startContainer(name: unrelated, tag: tag)
        var other = makeSpec(agent: "c")
        other.home = home + "-other"
        let otherHome = other.home
        addTeardownBlock { DockerTestSupport.removeContainers(label: "\(ContainerSpec.labelHome)=\(otherHome)") }
        XCTAssertEqual(try ensure(other), .created)

        XCTAssertEqual(engine.containers(profile: tag, home: home)?.count, 2)
        XCTAssertEqual(engine.removeContainers(profile: tag, home: home), [])
        XCTAssertEqual(engine.containers(profile: tag, home: home)?.count, 0)
        XCTAssertEqual(engine.inspect(unrelated)?.running, true, "a container without our labels survives")
        XCTAssertEqual(engine.inspect(other.name)?.running, true, "another home's container survives")
    }

    func testANameTakenBySomethingElseIsAClearError() throws {
        let spec = makeSpec(agent: "taken")
        _ = try DockerTestSupport.startContainer(name: spec.name, tag: tag)
        XCTAssertThrowsError(try ensure(spec)) { error in
            XCTAssertTrue("\(error)".contains("supervisor did not make"), "\(error)")
        }
        XCTAssertEqual(DockerTestSupport.engine.inspect(spec.name)?.running, true, "left alone")
    }

    func testAMissingImageIsAClearErrorAndLeavesNothing() throws {
        var spec = makeSpec(agent: "noimage")
        spec.image = "supervisor-test:does-not-exist"
        XCTAssertThrowsError(try ensure(spec)) { error in
            XCTAssertTrue("\(error)".contains("cannot start container \(spec.name) from image supervisor-test:does-not-exist"), "\(error)")
        }
        XCTAssertNil(DockerTestSupport.engine.inspect(spec.name))
    }
}
