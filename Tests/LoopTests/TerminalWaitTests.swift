import XCTest
import Glibc
@testable import Loop

final class TerminalWaitTests: XCTestCase {
    func testParsingAndDecision() {
        let sys = TerminalWait.parseSyscall("63 0x0 0xffffe 0x1 0x0 0x0 0x0 0xfff 0xaaa\n")
        XCTAssertEqual(sys?.number, 63)
        XCTAssertEqual(sys?.firstArgument, 0)
        let s = UInt8(ascii: "S")
        XCTAssertTrue(TerminalWait.isWaitingForTerminal(state: s, wchan: "n_tty_read\n", syscall: nil, fdTarget: nil))
        XCTAssertFalse(TerminalWait.isWaitingForTerminal(state: UInt8(ascii: "R"), wchan: "n_tty_read", syscall: nil, fdTarget: nil))
        XCTAssertFalse(TerminalWait.isWaitingForTerminal(state: s, wchan: "hrtimer_nanosleep", syscall: nil, fdTarget: nil))
        if let read = TerminalWait.readSyscalls.first {
            XCTAssertTrue(TerminalWait.isWaitingForTerminal(state: s, wchan: "wait_woken", syscall: (read, 0), fdTarget: "/dev/pts/3"))
            XCTAssertFalse(TerminalWait.isWaitingForTerminal(state: s, wchan: "wait_woken", syscall: (read, 5), fdTarget: "socket:[123]"))
        }
    }

    /// A process of ours that is not reading a terminal (this test process) is not waiting.
    func testAProcessNotReadingATerminalIsNotWaiting() {
        XCTAssertFalse(TerminalWait.probe(agentPid: getpid()))
    }
}
