import XCTest
import Glibc
import Foundation
@testable import Loop
import _TestSupport

final class LoopTests: XCTestCase {
    func testTimerFiresOnceAndHandleIsReleasedAfterClose() throws {
        let loop = EventLoop()
        var fired = 0
        weak var weakTimer: LoopTimer?
        do {
            let timer = LoopTimer(loop: loop)
            weakTimer = timer
            timer.start(milliseconds: 1) { fired += 1; timer.close() }
        }
        try runLoop(loop, until: "timer") { fired == 1 && weakTimer == nil }
        loop.close()
    }

    /// Fires once, not before its deadline; a new arming replaces the old one; a stopped timer
    /// stays quiet; a deadline that has passed fires at once.
    func testPreciseTimer() throws {
        let loop = EventLoop()
        let timer = try PreciseTimer(loop: loop)
        var firedAt: [UInt64] = []
        let start = PreciseTimer.now()
        timer.start(at: start + 50_000) { XCTFail("replaced: must not fire") }
        timer.start(at: start + 300) { firedAt.append(PreciseTimer.now()) }
        try runLoop(loop, until: "the timer") { !firedAt.isEmpty }
        XCTAssertGreaterThanOrEqual(firedAt[0], start + 300)
        XCTAssertFalse(timer.isArmed)
        timer.start(at: PreciseTimer.now() + 1_000) { XCTFail("stopped: must not fire") }
        timer.stop()
        var passed = false
        let quiet = LoopTimer(loop: loop)
        quiet.start(milliseconds: 20) { passed = true }
        try runLoop(loop, until: "20 ms after the stopped timer's time") { passed }
        timer.start(at: 0) { firedAt.append(PreciseTimer.now()) }
        try runLoop(loop, until: "a passed deadline") { firedAt.count == 2 }
        timer.close()
        quiet.close()
        loop.close()
    }

    func testUnixSocketEchoPreservesBytesInOrder() throws {
        let loop = EventLoop()
        let dir = TemporaryDirectory()
        let path = dir.file("s.sock")
        let server = PipeStream(loop: loop)
        try server.bind(path: path)
        var serverSide: PipeStream?
        try server.listen { conn in
            serverSide = conn
            try? conn.startReading { result in
                if case .data(let bytes) = result { conn.write(bytes) }
            }
        }
        let payload = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var received: [UInt8] = []
        let client = PipeStream(loop: loop)
        var connected = false
        client.connect(path: path) { error in
            XCTAssertNil(error)
            connected = true
            client.write(payload)
            try? client.startReading { result in
                if case .data(let bytes) = result { received.append(contentsOf: bytes) }
            }
        }
        try runLoop(loop, until: "echo") { connected && received.count >= payload.count }
        XCTAssertEqual(received, payload)
        XCTAssertNotNil(serverSide)
        loop.close()
    }

    func testProcessExitStatusAndPipeOutput() throws {
        let loop = EventLoop()
        let out = PipeStream(loop: loop)
        var output = ""
        var exit: ProcessExit?
        _ = try ChildProcess(loop: loop, arguments: ["sh", "-c", "printf 'a b'; exit 7"], stdio: [.ignore, .pipe(out, childReads: false), .inherit(2)]) { exit = $0 }
        try out.startReading { if case .data(let b) = $0 { output += String(decoding: b, as: UTF8.self) } }
        try runLoop(loop, until: "exit") { exit != nil }
        XCTAssertEqual(exit, .exited(7))
        try runLoop(loop, until: "output") { output == "a b" }
        loop.close()
    }

    func testMissingProgramIsAClearError() {
        let loop = EventLoop()
        XCTAssertThrowsError(try ChildProcess(loop: loop, arguments: ["/nonexistent/prog"]) { _ in }) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/prog"), "\(error)")
        }
        XCTAssertNil(resolveExecutable("definitely-not-a-program-xyz", path: "/usr/bin:/bin"))
        XCTAssertNotNil(resolveExecutable("sh", path: "/usr/bin:/bin"))
        loop.close()
    }

    /// The child must own its terminal: Ctrl-C typed on the master interrupts it.
    func testPtyChildHasControllingTerminalSoCtrlCInterrupts() throws {
        let loop = EventLoop()
        let pty = try PseudoTerminal(rows: 24, cols: 80)
        let children = try ChildWatcher(loop: loop)
        let pid = try pty.spawn(executable: "/bin/sh", arguments: ["sh", "-c", "stty size; echo ready; exec sleep 100"],
                                environment: ["PATH": "/usr/bin:/bin"], directory: "/tmp")
        var exit: ProcessExit?
        children.watch(pid) { exit = $0 }
        let master = try PipeStream(loop: loop, fd: pty.masterFD)
        var output = ""
        try master.startReading { if case .data(let b) = $0 { output += String(decoding: b, as: UTF8.self) } }
        try runLoop(loop, until: "ready") { output.contains("ready") }
        XCTAssertTrue(output.contains("24 80"), output)
        master.write([0x03])
        try runLoop(loop, until: "SIGINT exit") { exit != nil }
        XCTAssertEqual(exit, .signaled(SIGINT))
        children.close()
        loop.close()
    }

    func testMailboxDeliversFromAnotherThread() throws {
        let loop = EventLoop()
        var got: [Int] = []
        let mailbox = LoopMailbox<Int>(loop: loop) { got.append($0) }
        let thread = Foundation.Thread { for i in 0..<100 { mailbox.post(i) } }
        thread.start()
        try runLoop(loop, until: "messages") { got.count == 100 }
        XCTAssertEqual(got, Array(0..<100))
        mailbox.close()
        loop.close()
    }
}
