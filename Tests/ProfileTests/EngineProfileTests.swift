import XCTest
@testable import Profile

/// `[engines.NAME]` and an agent's `engine`: what is accepted, the CLI options it becomes, and
/// where each mistake is reported.
final class EngineProfileTests: XCTestCase {
    static let dockerAgent = """
    [[agents]]
    name = "a"
    kind = "command"
    command = ["true"]
    engine = "far"
    [agents.backend]
    type = "docker"
    image = "img:1"
    """

    func testEnginesBecomeCLIOptionsAndAgentsKeepTheirChoice() throws {
        let text = """
        [engines.far]
        host = "tcp://10.200.0.2:2376"
        tls_ca = "certs/ca.pem"
        tls_cert = "certs/cert.pem"
        tls_key = "/abs/key.pem"
        [engines.ctx]
        context = "build-box"
        [engines.ssh]
        host = "ssh://me@box"
        [backend]
        type = "docker"
        image = "img:1"
        engine = "auto"
        [[agents]]
        name = "a"
        kind = "command"
        command = ["true"]
        engine = "far"
        [[agents]]
        name = "b"
        kind = "command"
        command = ["true"]
        [[agents]]
        name = "c"
        kind = "command"
        command = ["true"]
        [agents.backend]
        engine = "default"
        """
        let p = try ProfileLoader.parse(text: text, path: "/p/e.toml")
        XCTAssertEqual(p.engines.map(\.name), ["far", "ctx", "ssh"])
        XCTAssertEqual(p.engines[0].cliOptions, ["--host", "tcp://10.200.0.2:2376", "--tlsverify", "--tlscacert", "/p/certs/ca.pem",
                                                 "--tlscert", "/p/certs/cert.pem", "--tlskey", "/abs/key.pem"])
        XCTAssertEqual(p.engines[0].line, 1)
        XCTAssertEqual(p.engines[1].cliOptions, ["--context", "build-box"])
        XCTAssertEqual(p.engines[2].cliOptions, ["--host", "ssh://me@box"])
        XCTAssertEqual(p.agents.map(\.backend.engine), ["far", "auto", "default"])
        XCTAssertEqual(p.engines.map(\.workspaceVolume), [true, true, true], "another machine does not see this one's files")
    }

    func testWorkspaceModeFollowsTheAddressUnlessSaid() throws {
        let p = try ProfileLoader.parse(text: "[engines.near]\nhost = \"unix:///s\"\n[engines.nfs]\nhost = \"ssh://me@b\"\nworkspace = \"bind\"\n"
                                        + Self.dockerAgent.replacingOccurrences(of: "\"far\"", with: "\"near\""), path: "/p/e.toml")
        XCTAssertEqual(p.engines.map(\.workspaceVolume), [false, false])
        XCTAssertThrowsError(try ProfileLoader.parse(text: "[engines.far]\nhost = \"unix:///s\"\nworkspace = \"nfs\"\n" + Self.dockerAgent, path: "/p/e.toml")) { e in
            XCTAssertTrue("\(e)".hasPrefix("/p/e.toml:3:13: engines.far.workspace: \"nfs\" is not a workspace mode"), "\(e)")
        }
    }

    func testUnverifiedTLSIsSaidOnTheCommandLine() throws {
        let p = try ProfileLoader.parse(text: "[engines.far]\nhost = \"tcp://h:2376\"\ntls_verify = false\n" + Self.dockerAgent, path: "/p/e.toml")
        XCTAssertEqual(p.engines[0].cliOptions, ["--host", "tcp://h:2376", "--tls"])
    }

    func testMistakesPointAtTheirPlace() {
        let cases: [ErrorCase] = [
            ErrorCase(name: "unknown engine", text: Self.dockerAgent, at: "5:10", says: [#"agents[0].engine: no engine named "far""#]),
            ErrorCase(name: "tcp without a CA", text: "[engines.far]\nhost = \"tcp://h:2376\"\n" + Self.dockerAgent,
                      at: "1:1", says: ["engines.far.tls_ca:", "verified by default and needs tls_ca", "tls_verify = false"]),
            ErrorCase(name: "tcp without a port", text: "[engines.far]\nhost = \"tcp://h\"\ntls_ca = \"c\"\n" + Self.dockerAgent,
                      at: "2:8", says: [#"engines.far.host: "tcp://h" needs a host and a port"#]),
            ErrorCase(name: "not an address", text: "[engines.far]\nhost = \"http://h:1\"\n" + Self.dockerAgent,
                      at: "2:8", says: [#"is not an engine address; expected "unix:///path""#]),
            ErrorCase(name: "ssh without a user", text: "[engines.far]\nhost = \"ssh://box\"\n" + Self.dockerAgent,
                      at: "2:8", says: ["needs a user and a host"]),
            ErrorCase(name: "both host and context", text: "[engines.far]\nhost = \"unix:///s\"\ncontext = \"x\"\n" + Self.dockerAgent,
                      at: "3:1", says: ["either host or context, not both"]),
            ErrorCase(name: "neither", text: "[engines.far]\ntls_ca = \"c\"\n" + Self.dockerAgent,
                      at: "1:1", says: ["engines.far.host:", "needs host ="]),
            ErrorCase(name: "tls on a unix socket", text: "[engines.far]\nhost = \"unix:///s\"\ntls_ca = \"c\"\n" + Self.dockerAgent,
                      at: "3:1", says: ["engines.far.tls_ca: tls_ca applies to a tcp:// host only"]),
            ErrorCase(name: "cert without key", text: "[engines.far]\nhost = \"tcp://h:1\"\ntls_ca = \"c\"\ntls_cert = \"x\"\n" + Self.dockerAgent,
                      at: "1:1", says: ["tls_cert and tls_key go together"]),
            ErrorCase(name: "reserved name", text: "[engines.auto]\nhost = \"unix:///s\"\n" + Self.dockerAgent,
                      at: "1:1", says: [#"engines.auto: the engine name "auto" is reserved"#]),
            ErrorCase(name: "unknown engine key", text: "[engines.far]\nhost = \"unix:///s\"\nhots = 1\n" + Self.dockerAgent,
                      at: "3:1", says: [#"engines.far.hots: unknown key"#]),
            ErrorCase(name: "engine on a local agent", text: "[engines.far]\nhost = \"unix:///s\"\n[[agents]]\nname = \"a\"\nkind = \"command\"\ncommand = [\"true\"]\nengine = \"far\"\n",
                      at: "7:1", says: [#"agents[0].engine: engine applies to backend type "docker" only"#]),
        ]
        for c in cases {
            do {
                _ = try ProfileLoader.parse(text: c.text, path: c.path)
                XCTFail("\(c.name): expected an error")
            } catch let e as ProfileError {
                XCTAssertEqual("\(e.line):\(e.column)", c.at, "\(c.name): \(e)")
                for s in c.says { XCTAssertTrue(e.message.contains(s), "\(c.name): \(e.message) lacks \(s)") }
            } catch { XCTFail("\(c.name): \(error)") }
        }
    }
}
