import Glibc
import XCTest
@testable import Hosting

/// What another local user could prepare must not be trusted: directories, specs, links.
final class FileSafetyTests: XCTestCase {
    var tmp: TempDir!
    override func setUp() { tmp = TempDir() }
    override func tearDown() { tmp.remove() }

    func testDirectoriesOthersCanWriteOrOwnAreUntrusted() throws {
        let dir = tmp.file("d")
        XCTAssertNil(FileIO.untrustedDirectoryProblem(dir), "an absent directory is made by us")
        try FileIO.makeDirectories(dir)
        var st = stat()
        XCTAssertEqual(stat(dir, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o700, "created private")
        XCTAssertNil(FileIO.untrustedDirectoryProblem(dir))
        chmod(dir, 0o777)
        XCTAssertTrue(FileIO.untrustedDirectoryProblem(dir)?.contains("chmod o-w") ?? false)
        chmod(dir, 0o1777)
        XCTAssertNil(FileIO.untrustedDirectoryProblem(dir), "sticky: others cannot replace our entries")
        chmod(dir, 0o700)
        try XCTSkipUnless(geteuid() == 0, "needs root to give a directory away")
        chown(dir, 65534, 65534)
        XCTAssertTrue(FileIO.untrustedDirectoryProblem(dir)?.contains("belongs to user id 65534") ?? false)
    }

    /// The shim runs what its spec says: a spec someone else wrote is refused.
    func testSpecNotWrittenByUsIsRefused() throws {
        let spec = ShimSpec(profile: "p", agent: "a", kind: .command, executable: "/bin/true", arguments: ["true"],
                            environment: [:], directory: "/", logPath: tmp.file("a.log"), eventsPath: tmp.file("a.events.jsonl"),
                            logMaxBytes: 4096, logKeep: 1, socketPath: tmp.file("s.sock"), statePath: tmp.file("state.json"),
                            tmuxSocket: nil, restart: "never", backoffInitial: 1, backoffMax: 1, maxRestarts: 1,
                            restartWindow: 1, stopTimeout: 1, notifySocket: nil, container: nil)
        let path = tmp.file("spec.json")
        try spec.write(to: path)
        XCTAssertEqual(try ShimSpec.read(path: path).executable, "/bin/true")
        chmod(path, 0o666)
        XCTAssertThrowsError(try ShimSpec.read(path: path))
        chmod(path, 0o600)
        try XCTSkipUnless(geteuid() == 0, "needs root to give a file away")
        chown(path, 65534, 65534)
        XCTAssertThrowsError(try ShimSpec.read(path: path)) { XCTAssertTrue("\($0)".contains("belongs to user id 65534"), "\($0)") }
    }

    /// Every file we write refuses a planted link.
    func testWritesRefuseSymbolicLinks() throws {
        let target = tmp.file("target")
        try FileIO.writeAtomically(target, Array("keep".utf8))
        let link = tmp.file("a.log")
        XCTAssertEqual(symlink(target, link), 0)
        XCTAssertThrowsError(try LogWriter(path: link, maxBytes: 0, keep: 0))
        XCTAssertEqual(try FileIO.readAll(target), Array("keep".utf8))
        // The atomic writer's temporary file too.
        XCTAssertEqual(symlink(target, tmp.file("s.json.tmp.\(getpid())")), 0)
        try FileIO.writeAtomically(tmp.file("s.json"), Array("new".utf8))
        XCTAssertEqual(try FileIO.readAll(target), Array("keep".utf8))
    }
}
