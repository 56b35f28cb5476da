import XCTest
@testable import Hosting

/// What the tmux server gets of `up`'s environment, and what each shim is handed when it asks.
final class KeyHandOverTests: XCTestCase {
    func spec(_ agent: String, pass: [String], withheld: [String] = ["SV_MODEL_KEY"]) -> ShimSpec {
        ShimSpec(profile: "p", agent: agent, kind: .command, executable: "/bin/true", arguments: ["true"],
                 environment: [:], directory: "/", logPath: "/l", eventsPath: "/e", logMaxBytes: 4096, logKeep: 1,
                 socketPath: "/s", statePath: "/st", tmuxSocket: nil, restart: "never", backoffInitial: 1, backoffMax: 1,
                 maxRestarts: 1, restartWindow: 1, stopTimeout: 1, notifySocket: "/n", container: nil,
                 passEnvironment: pass, withheldEnvironment: withheld)
    }

    let environment = ["PATH": "/usr/bin", "SV_MODEL_KEY": "model-key", "VENDOR_API_KEY": "vendor-key",
                       "GITHUB_TOKEN": "gh-token", "MAX_TOKENS": "5"]

    /// The server keeps no key at all, not even one an agent is given.
    func testTheTmuxServerGetsNoKeyEvenOneSomeAgentNeeds() {
        let specs = [spec("coder", pass: ["SV_MODEL_KEY"]), spec("cli", pass: ["VENDOR_API_KEY"]), spec("plain", pass: [])]
        XCTAssertEqual(Launcher.scrubbedEnvironment(environment, specs: specs), ["PATH": "/usr/bin", "MAX_TOKENS": "5"])
    }

    /// Each agent's shim is handed exactly the keys its spec lets it have; an agent with none
    /// is handed nothing, and a name missing from the environment is simply absent.
    func testEachShimIsHandedOnlyItsOwnKeys() {
        let specs = [spec("coder", pass: ["SV_MODEL_KEY"]), spec("cli", pass: ["VENDOR_API_KEY", "ABSENT_API_KEY"]), spec("plain", pass: [])]
        XCTAssertEqual(Launcher.keysByAgent(specs, environment: environment),
                       ["coder": ["SV_MODEL_KEY": "model-key"], "cli": ["VENDOR_API_KEY": "vendor-key"]])
    }

    /// The tmux client's environment reaches the server: nothing named like a secret goes.
    func testTmuxClientsCarryNoSecretNamedVariables() {
        let clean = Tmux.cleanEnvironment(environment.merging(["TMUX": "/x,1,0"]) { $1 })
        XCTAssertEqual(Set(clean.keys), ["PATH", "SV_MODEL_KEY", "MAX_TOKENS"]) // SV_MODEL_KEY: only `up` knows it is a key
    }
}
