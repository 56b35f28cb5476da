import Foundation
import Glibc
import XCTest
import CUV
@testable import Loop
import _TestSupport

/// The POSIX layer: one error type for syscalls and libuv alike, and the only place that knows
/// the retry rules and /proc.
final class PosixTests: XCTestCase {
    func testLibuvStatusesAndErrnoAreTheSameError() throws {
        let fromLibuv = PosixError(libuv: Int32(UV_ENOENT.rawValue), "connect")
        XCTAssertEqual(fromLibuv, PosixError("connect", code: ENOENT))
        XCTAssertEqual(fromLibuv.name, "ENOENT")
        XCTAssertEqual(fromLibuv.description, "connect: No such file or directory")
        XCTAssertEqual(PosixError("open", path: "/x/a.log", code: EACCES).description, "open /x/a.log: Permission denied")
        // libuv's own codes keep libuv's message.
        XCTAssertEqual(PosixError(libuv: Int32(UV_EOF.rawValue), "read").description, "read: end of file")
    }

    func testAStreamFailureIsAPosixError() throws {
        let loop = EventLoop()
        defer { loop.close() }
        let dir = TemporaryDirectory()
        var failure: PosixError?
        let client = PipeStream(loop: loop)
        client.connect(path: dir.file("nobody.sock")) { failure = $0 }
        try runLoop(loop, until: "connect fails") { failure != nil }
        XCTAssertEqual(failure?.code, ENOENT)
        client.close()
    }

    func testOpenAndPreadReportThePath() throws {
        let dir = TemporaryDirectory()
        guard case .failure(let error) = Posix.open(dir.file("missing"), O_RDONLY) else { return XCTFail("opened a missing file") }
        XCTAssertEqual(error, PosixError("open", path: dir.file("missing"), code: ENOENT))
        let path = dir.file("f")
        try Data("hello world".utf8).write(to: URL(fileURLWithPath: path))
        let fd = try Posix.open(path, O_RDONLY).get()
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 5)
        let n = try buffer.withUnsafeMutableBytes { try Posix.pread(fd, into: $0, offset: 6).get() }
        XCTAssertEqual(String(decoding: buffer[0..<n], as: UTF8.self), "world")
    }

    func testProcFSReadsThisProcess() {
        XCTAssertEqual(ProcFS.ownExecutable().map { access($0, X_OK) }, 0)
        XCTAssertNotNil(ProcFS.text(getpid(), "wchan"))
        XCTAssertNotNil(ProcFS.descriptorTarget(getpid(), fd: 1))
    }

    /// "One way to do a syscall": no retry loop (EINTR/EAGAIN), raw read/write or /proc path
    /// outside `Posix` and `ProcFS`. Shell scripts run inside a container (ShellSession's) read
    /// that container's /proc and are not ours to route.
    func testNoSyscallRetryRulesOrProcParsingOutsideTheLayer() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sources = root.path + "/Sources"
        let layer: Set<String> = ["Loop/Posix.swift", "Loop/ProcFS.swift"]
        var strays: [String] = []
        let files = FileManager.default.enumerator(atPath: sources)!.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        XCTAssertGreaterThan(files.count, 100)
        for file in files where !layer.contains(file) && !file.hasPrefix("_TestSupport/") {
            let text = try String(contentsOfFile: sources + "/" + file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.trimmingCharacters(in: .whitespaces)
                if code.hasPrefix("//") { continue }
                let swiftProc = code.contains("\"/proc/") // a Swift string naming a /proc file
                let retry = code.contains("== EINTR") || code.contains("== EAGAIN") || code.contains("== EWOULDBLOCK")
                let raw = code.range(of: #"Glibc\.p?(write|read)\(|(^|[^.\w])(write|read)\((fd|fds\[\d\]|\w+FD|\d), "#, options: .regularExpression) != nil
                if swiftProc || retry || raw { strays.append("\(file):\(number + 1): \(code)") }
            }
        }
        XCTAssertEqual(strays, [], "use Loop.Posix / Loop.ProcFS:\n" + strays.joined(separator: "\n"))
    }
}
