import XCTest
import Foundation
import Glibc
import Loop
@testable import Hosting

/// The launcher's end of the notify socket, spoken to over a real socket: a shim's key
/// request, and shims of another build or of no protocol at all.
final class NotifyListenerTests: XCTestCase {
    var dir: TempDir!
    var path: String { dir.file("notify.sock") }

    override func setUp() { dir = TempDir() }
    override func tearDown() { dir.remove() }

    /// Sends `text` as a shim would (one message, then the end of its writing side); `reading`,
    /// returns what comes back before the listener closes the connection (which needs the
    /// listener's loop running on another thread).
    @discardableResult
    static func send(_ text: String, to path: String, reading: Bool = false) -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { return "cannot connect: \(errno)" }
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        shutdown(fd, Int32(SHUT_WR))
        var reply: [UInt8] = []
        guard reading else { return "" }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            reply += chunk[0..<n]
        }
        return String(decoding: reply, as: UTF8.self)
    }

    func waitError(_ listener: NotifyListener, for agents: [String], timeout: Double = 10) -> String {
        do {
            try listener.wait(for: agents, timeout: timeout, profile: "p")
            return "no error"
        } catch { return "\(error)" }
    }

    /// A shim of a build before the protocol (its unversioned `StartNotice`) or after it makes
    /// `up` stop at once with what to do, not wait for a notice it cannot read.
    func testAShimOfAnotherBuildIsNamedWithTheRemedy() throws {
        for (notice, version) in [(#"{"agent":"coder","pid":12}"#, 0), (#"{"v":7,"kind":"up","agent":"coder"}"#, 7)] {
            let listener = try NotifyListener(path: path)
            defer { listener.close() }
            Self.send(notice, to: path)
            XCTAssertEqual(waitError(listener, for: ["coder", "other"]),
                           "the shim of agent \"coder\" speaks notify protocol version \(version), this supervisor speaks 1: run `supervisor down p` and `supervisor up` again with one build")
        }
    }

    func testAStartedAndAFailedNoticeAreTold() throws {
        let listener = try NotifyListener(path: path)
        defer { listener.close() }
        Self.send(String(decoding: NotifyProtocol.encode(.started(agent: "a", pid: 1)), as: UTF8.self), to: path)
        XCTAssertEqual(waitError(listener, for: ["a"]), "no error")
        Self.send(String(decoding: NotifyProtocol.encode(.failed(agent: "b", error: "no image")), as: UTF8.self), to: path)
        XCTAssertEqual(waitError(listener, for: ["a", "b"]), "agent \"b\" could not start: no image")
    }

    /// A message that names no agent cannot fail one, but is told when the wait ends.
    func testGarbageIsToldWhenTheWaitEnds() throws {
        let listener = try NotifyListener(path: path)
        defer { listener.close() }
        Self.send("garbage", to: path)
        XCTAssertEqual(waitError(listener, for: ["a"], timeout: 0.2),
                       "agent(s) a did not start within 0s; the notify socket got 1 message(s) it could not read (notify protocol: not a JSON object); see `supervisor logs p a`")
    }

    /// A shim's request is answered with its own agent's keys among those it asked for; one it
    /// cannot read is refused, saying why, with no key.
    func testAKeyRequestGetsOnlyItsAgentsRequestedKeys() throws {
        let listener = try NotifyListener(path: path, keys: ["coder": ["A_KEY": "sk-a", "B_KEY": "sk-b"], "other": ["C_KEY": "sk-c"]])
        defer { listener.close() }
        final class Heard { var keys: [String: String]?; var answer = ""; var refusal = "" }
        let heard = Heard()
        // The shims' side runs on its own thread and loop while this one serves the socket.
        let shims = Thread { [path] in
            let loop = EventLoop()
            heard.keys = try? ShimKeys.fetch(socket: path, agent: "coder", names: ["A_KEY", "C_KEY"], loop: loop, timeout: 10).get()
            loop.close()
            let request = String(decoding: NotifyProtocol.encode(.keyRequest(agent: "coder", names: ["A_KEY", "C_KEY"])), as: UTF8.self)
            heard.answer = Self.send(request, to: path, reading: true) // what the shim filters again
            heard.refusal = Self.send(#"{"v":1,"kind":"key_request","agent":"bad","names":"A_KEY"}"#, to: path, reading: true)
            Self.send(String(decoding: NotifyProtocol.encode(.started(agent: "done", pid: nil)), as: UTF8.self), to: path)
        }
        shims.start()
        XCTAssertEqual(waitError(listener, for: ["done"]), "no error")
        XCTAssertEqual(heard.keys, ["A_KEY": "sk-a"])
        XCTAssertEqual(heard.answer, #"{"v":1,"kind":"keys","keys":{"A_KEY":"sk-a"}}"#)
        XCTAssertEqual(heard.refusal, #"{"v":1,"kind":"refused","error":"notify protocol: a \"key_request\" message without the fields it needs"}"#)
    }
}
