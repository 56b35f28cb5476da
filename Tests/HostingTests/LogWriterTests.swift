import XCTest
@testable import Hosting

final class LogWriterTests: XCTestCase {
    var tmp: TempDir!
    override func setUp() { tmp = TempDir() }
    override func tearDown() { tmp.remove() }

    func testCreatesParentDirectoriesAndAppends() throws {
        let path = tmp.file("logs/p/a.log")
        let w = try LogWriter(path: path, maxBytes: 1000, keep: 3)
        XCTAssertEqual(try w.write([UInt8]("hello ")), 0)
        XCTAssertEqual(try w.write([UInt8]("world")), 6)
        XCTAssertEqual(w.offset, 11)
        XCTAssertEqual(readFileString(path), "hello world")
        XCTAssertFalse(fileExists(path + ".base"), "base sidecar is written only when rotating")
    }

    /// Removed from outside: a new file at the path, with what went into the removed one
    /// since it was last seen, at the same offsets.
    func testRemovedFileIsReopenedWithoutLoss() throws {
        let path = tmp.file("a.log")
        let w = try LogWriter(path: path, maxBytes: 0, keep: 0)
        try w.write([UInt8]("before "))
        XCTAssertFalse(w.reopenIfRemoved())
        unlink(path)
        XCTAssertEqual(try w.write([UInt8]("after")), 7)
        XCTAssertTrue(w.reopenIfRemoved())
        XCTAssertEqual(readFileString(path), "after")
        XCTAssertEqual(readFileString(path + ".base")?.trimmingCharacters(in: .whitespacesAndNewlines), "7")
        XCTAssertEqual(try w.write([UInt8]("!")), 12)
        XCTAssertEqual(try LogWriter.readBase(logPath: path) + (try FileIO.fileSize(path) ?? 0), 13)
        // Renamed away (logrotate): the old bytes stay there, the new file continues the offsets.
        rename(path, path + ".old")
        XCTAssertTrue(w.reopenIfRemoved())
        XCTAssertEqual(try w.write([UInt8]("new")), 13)
        XCTAssertEqual(readFileString(path), "new")
        XCTAssertEqual(readFileString(path + ".old"), "after!")
    }

    func testRotationKeep3ExactContentsAndOffsets() throws {
        let path = tmp.file("a.log")
        let w = try LogWriter(path: path, maxBytes: 10, keep: 3)
        var offsets: [UInt64] = []
        for chunk in ["aaaa", "bbbb", "cc", "dddd", "eeeeeeee", "ffff", "gg", "hhhh"] {
            offsets.append(try w.write([UInt8](chunk)))
        }
        XCTAssertEqual(offsets, [0, 4, 8, 10, 14, 22, 26, 28])
        // aaaa bbbb cc (10) | dddd (14>10 with eeeeeeee -> rotate) | eeeeeeee (8) | ffff gg (6) + hhhh = 10 ok
        // Sequence: [aaaabbbbcc] -> rot -> [dddd] -> rot -> [eeeeeeee] -> rot -> [ffffgghhhh]
        XCTAssertEqual(readFileString(path), "ffffgghhhh")
        XCTAssertEqual(readFileString(path + ".1"), "eeeeeeee")
        XCTAssertEqual(readFileString(path + ".2"), "dddd")
        XCTAssertEqual(readFileString(path + ".3"), "aaaabbbbcc")
        XCTAssertFalse(fileExists(path + ".4"))
        XCTAssertEqual(readFileString(path + ".base")?.trimmingCharacters(in: .whitespacesAndNewlines), "22")
        XCTAssertEqual(w.offset, 32)

        // One more rotation drops the oldest.
        XCTAssertEqual(try w.write([UInt8]("iii")), 32)
        XCTAssertEqual(readFileString(path), "iii")
        XCTAssertEqual(readFileString(path + ".1"), "ffffgghhhh")
        XCTAssertEqual(readFileString(path + ".2"), "eeeeeeee")
        XCTAssertEqual(readFileString(path + ".3"), "dddd")
        XCTAssertFalse(fileExists(path + ".4"))
        XCTAssertEqual(readFileString(path + ".base")?.trimmingCharacters(in: .whitespacesAndNewlines), "32")
    }

    func testOversizedWriteGoesInWhole() throws {
        let path = tmp.file("a.log")
        let w = try LogWriter(path: path, maxBytes: 4, keep: 1)
        XCTAssertEqual(try w.write([UInt8]("0123456789")), 0)  // empty file: no rotation, whole write
        XCTAssertEqual(readFileString(path), "0123456789")
        XCTAssertEqual(try w.write([UInt8]("x")), 10)
        XCTAssertEqual(readFileString(path), "x")
        XCTAssertEqual(readFileString(path + ".1"), "0123456789")
    }

    func testKeep1() throws {
        let path = tmp.file("a.log")
        let w = try LogWriter(path: path, maxBytes: 5, keep: 1)
        for c in ["abc", "def", "ghi", "jk"] { try w.write([UInt8](c)) }
        XCTAssertEqual(readFileString(path), "ghijk")
        XCTAssertEqual(readFileString(path + ".1"), "def")
        XCTAssertFalse(fileExists(path + ".2"))
        XCTAssertEqual(w.offset, 11)
    }

    func testKeep0ReplacesFile() throws {
        let path = tmp.file("a.log")
        let w = try LogWriter(path: path, maxBytes: 5, keep: 0)
        XCTAssertEqual(try w.write([UInt8]("abcd")), 0)
        XCTAssertEqual(try w.write([UInt8]("efgh")), 4)
        XCTAssertEqual(readFileString(path), "efgh")
        XCTAssertFalse(fileExists(path + ".1"))
        XCTAssertEqual(w.baseOffset, 4)
    }

    func testReopenContinuesOffsets() throws {
        let path = tmp.file("a.log")
        do {
            let w = try LogWriter(path: path, maxBytes: 8, keep: 2)
            try w.write([UInt8]("12345"))
            try w.write([UInt8]("6789"))   // rotates: base 5
            w.close()
        }
        let w2 = try LogWriter(path: path, maxBytes: 8, keep: 2)
        XCTAssertEqual(w2.baseOffset, 5)
        XCTAssertEqual(w2.offset, 9)
        XCTAssertEqual(try w2.write([UInt8]("ab")), 9)
        XCTAssertEqual(try w2.write([UInt8]("cdefg")), 11)  // 6+5 > 8: rotate
        XCTAssertEqual(readFileString(path), "cdefg")
        XCTAssertEqual(readFileString(path + ".1"), "6789ab")
        XCTAssertEqual(readFileString(path + ".2"), "12345")

        // Re-open without any rotation since: offsets keep counting from size.
        w2.close()
        let w3 = try LogWriter(path: path, maxBytes: 100, keep: 2)
        XCTAssertEqual(w3.offset, 16)
        XCTAssertEqual(try w3.write([UInt8]("z")), 16)
    }

    func testRotationRemovesFilesBeyondKeep() throws {
        let path = tmp.file("a.log")
        for n in 1...4 { writeFile(path + ".\(n)", "stale \(n)") }
        let w = try LogWriter(path: path, maxBytes: 4, keep: 1)
        try w.write([UInt8]("abc"))
        try w.write([UInt8]("def"))
        XCTAssertEqual(readFileString(path + ".1"), "abc")
        for n in 2...4 { XCTAssertFalse(fileExists(path + ".\(n)")) }
        XCTAssertEqual(String(decoding: try LogReader.readAll(path: path), as: UTF8.self), "abcdef")
        XCTAssertEqual(try LogReader.segments(path: path).first?.start, 0)
    }

    func testNoRotationWhenMaxBytesZero() throws {
        let path = tmp.file("a.log")
        let w = try LogWriter(path: path, maxBytes: 0, keep: 3)
        for _ in 0..<10 { try w.write([UInt8]("0123456789")) }
        XCTAssertEqual(readFileBytes(path)?.count, 100)
        XCTAssertFalse(fileExists(path + ".1"))
    }

    func testWriteAfterCloseThrows() throws {
        let w = try LogWriter(path: tmp.file("a.log"), maxBytes: 10, keep: 1)
        w.close()
        XCTAssertThrowsError(try w.write([1]))
    }

    func testBadBaseFileIsAnError() throws {
        let path = tmp.file("a.log")
        writeFile(path + ".base", "garbage")
        XCTAssertThrowsError(try LogWriter(path: path, maxBytes: 10, keep: 1))
    }
}
