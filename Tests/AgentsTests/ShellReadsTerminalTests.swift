import XCTest
@testable import Agents
@testable import Loop

/// The goal runner's "is this command waiting for someone to type?" reads /proc the one way
/// `TerminalWait` does; only "is it our terminal" is its own.
final class ShellReadsTerminalTests: XCTestCase {
    let terminal = "/dev/pts/7"
    func target(_ fd: Int) -> String? { fd == 3 ? terminal : fd == 4 ? "pipe:[99]" : fd == 0 ? terminal : nil }
    func line(_ number: Int, fd: Int) -> String { "\(number) 0x\(String(fd, radix: 16)) 0x0 0x1 0x0 0x0 0x0 0x7ffc 0x7f00\n" }

    func testEveryReadSyscallOnOurTerminalCounts() throws {
        XCTAssertFalse(TerminalWait.readSyscalls.isEmpty)
        for number in TerminalWait.readSyscalls.sorted() {
            XCTAssertTrue(ShellSession.readsTerminal(syscall: line(number, fd: 3), wchan: "", terminal: terminal, fdTarget: target), "\(number)")
            XCTAssertFalse(ShellSession.readsTerminal(syscall: line(number, fd: 4), wchan: "", terminal: terminal, fdTarget: target), "\(number) on a pipe")
        }
        let write = (0..<400).first { !TerminalWait.readSyscalls.contains($0) }!
        XCTAssertFalse(ShellSession.readsTerminal(syscall: line(write, fd: 3), wchan: "n_tty_read", terminal: terminal, fdTarget: target))
    }

    func testWithoutASyscallLineTheKernelWaitDecides() {
        XCTAssertTrue(ShellSession.readsTerminal(syscall: "running\n", wchan: "n_tty_read\n", terminal: terminal, fdTarget: target))
        XCTAssertTrue(ShellSession.readsTerminal(syscall: nil, wchan: "wait_woken", terminal: terminal, fdTarget: target))
        XCTAssertFalse(ShellSession.readsTerminal(syscall: nil, wchan: "do_wait", terminal: terminal, fdTarget: target))
    }

    /// pread64 on a terminal is a read for the shim's waiting probe too (the goal runner's
    /// own list had it; the shared one did not).
    func testPread64IsARead() {
        #if arch(x86_64)
        let pread64 = 17
        #else
        let pread64 = 67
        #endif
        XCTAssertTrue(TerminalWait.isWaitingForTerminal(state: UInt8(ascii: "S"), wchan: "", syscall: (pread64, 0), fdTarget: "/dev/pts/1"))
        XCTAssertTrue(ShellSession.readsTerminal(syscall: line(pread64, fd: 3), wchan: "", terminal: terminal, fdTarget: target))
    }
}
