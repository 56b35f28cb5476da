import XCTest
import Glibc
import Loop
@testable import Agents
import _TestSupport

final class BoxTests: XCTestCase {
    func testHeadTailBufferKeepsBothEndsAndCountsTheMiddle() {
        var buffer = HeadTailBuffer(limit: 10)
        let text = Array("0123456789abcdefghij".utf8)
        text.withUnsafeBytes { raw in
            for i in 0..<raw.count { buffer.append(UnsafeRawBufferPointer(rebasing: raw[i..<(i + 1)])) }
        }
        XCTAssertEqual(buffer.dropped, 10)
        XCTAssertEqual(buffer.text, "01234\n[... 10 bytes left out ...]\nfghij")
    }

    func testLocalCommandCapturesOutputStatusAndWithholdsSecrets() throws {
        let loop = EventLoop()
        let dir = TemporaryDirectory()
        let box = LocalBox(workspace: dir.path, environment: ["PATH": "/usr/bin:/bin", "SECRET_KEY": "sk-123"], withheld: ["SECRET_KEY"])
        var result: CommandResult?
        BoxCommand(loop: loop, box: box, shellCommand: "pwd; echo err >&2; echo key=${SECRET_KEY:-none}; exit 3", timeout: 10) { result = $0 }
        try runLoop(loop, until: "command") { result != nil }
        XCTAssertEqual(result?.exit, .exited(3))
        XCTAssertEqual(result?.output, "\(dir.path)\nerr\nkey=none\n")
        loop.close()
    }

    /// The commands a built-in agent runs (the goal's and the coder's shells) see no variable
    /// named like a secret, whatever the agent itself was given.
    func testLocalCommandsGetNoSecretNamedVariables() {
        let box = LocalBox(workspace: "/tmp", environment: ["PATH": "/bin", "GITHUB_TOKEN": "t", "PGPASSWORD": "p", "MAX_TOKENS": "9"], withheld: [])
        XCTAssertEqual(box.hostProcessEnvironment(["TERM": "dumb"]), ["PATH": "/bin", "MAX_TOKENS": "9", "TERM": "dumb"])
    }

    func testTimeoutKillsTheWholeProcessGroup() throws {
        let loop = EventLoop()
        let dir = TemporaryDirectory()
        let box = LocalBox(workspace: dir.path, environment: ["PATH": "/usr/bin:/bin"], withheld: [])
        var result: CommandResult?
        BoxCommand(loop: loop, box: box, shellCommand: "sleep 100 & echo $! > child.pid; echo started; wait", timeout: 0.3) { result = $0 }
        try runLoop(loop, until: "timeout") { result != nil }
        XCTAssertTrue(result!.timedOut)
        XCTAssertEqual(result?.output, "started\n")
        let child = Int32(String(decoding: FileManager.default.contents(atPath: dir.file("child.pid"))!, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))!
        try waitFor("background child killed") { kill(child, 0) != 0 }
        loop.close()
    }
}
