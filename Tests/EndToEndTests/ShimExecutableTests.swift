import Foundation
import Glibc
import Hosting
import XCTest
import _TestSupport

/// Which program hosts an agent: `supervisor-shim` (static, no Foundation, a few MB per agent)
/// when it sits next to `supervisor`, else `supervisor shim`.
final class ShimExecutableTests: EndToEndTestCase {
    func testShimsRunTheStaticHelperThatMapsNoSharedLibrary() throws {
        let path = sv.writeProfile("light", agent("a", sh("echo a-up; exec sleep 600")))
        try upDetached(path)
        let shimPid = try XCTUnwrap(try sv.status("light").first?.shimPid)

        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(shimPid)/exe")
        XCTAssertEqual(exe, resolved((sv.executable as NSString).deletingLastPathComponent) + "/supervisor-shim")
        XCTAssertEqual(arguments(of: shimPid).dropFirst().first, "shim", "down and cleanup.sh know a shim by argv[1]")
        // Fully static: no dynamic loader, no Swift runtime, Foundation or libcurl library mapped.
        let maps = try String(contentsOfFile: "/proc/\(shimPid)/maps", encoding: .utf8)
        let libraries = Set(maps.split(separator: "\n").compactMap { line in
            line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(5).first.map(String.init)
        }.filter { $0.contains(".so") })
        XCTAssertEqual(libraries, [], "the shim maps shared libraries")

        // It does the whole job: log, status, send, restart, down.
        try sv.waitForLog("light", "a", containing: "a-up")
        try ok(["restart", "light", "a"])
        XCTAssertEqual(try sv.status("light").first?.restarts, 0)
        try ok(["down", "light"])
        try waitFor("the shim to end after down") { !isRunningProcess(shimPid) }
    }

    func testWithoutTheHelperShimsAreSupervisorItself() throws {
        // A `supervisor` with no supervisor-shim beside it (a copy made by hand): a hard link in a
        // fresh directory under the build directory (same file system; tmux/supervisor.conf is
        // still found above it).
        let binDir = (sv.executable as NSString).deletingLastPathComponent
        let lonely = "\(binDir)/lonely-\(getpid())"
        try FileManager.default.createDirectory(atPath: lonely, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: lonely) }
        let copy = "\(lonely)/supervisor"
        if link(sv.executable, copy) != 0 { try FileManager.default.copyItem(atPath: sv.executable, toPath: copy) }

        let path = sv.writeProfile("alone", agent("a", sh("echo alone-up; exec sleep 600")))
        let up = try sv.run(["up", path, "--detach"], executable: copy)
        XCTAssertEqual(up.status, 0, "\(up)")
        let shimPid = try XCTUnwrap(try sv.status("alone").first?.shimPid)
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(shimPid)/exe")
        XCTAssertEqual(exe, resolved(copy))
        XCTAssertEqual(Array(arguments(of: shimPid).dropFirst().prefix(1)), ["shim"])
        try sv.waitForLog("alone", "a", containing: "alone-up")
        XCTAssertEqual(try sv.run(["down", "alone"], executable: copy).status, 0)
        try waitFor("the shim to end after down") { !isRunningProcess(shimPid) }
    }

    private func resolved(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }

    private func arguments(of pid: Int32) -> [String] {
        let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }
}
