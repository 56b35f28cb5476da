import XCTest
@testable import Hosting

final class LogReaderTests: XCTestCase {
    var tmp: TempDir!
    override func setUp() { tmp = TempDir() }
    override func tearDown() { tmp.remove() }

    /// Writes lines "line 0\n" ... with small rotation so they span files.
    func makeLog(lines: Int, maxBytes: UInt64 = 32, keep: Int = 5) throws -> (String, String) {
        let path = tmp.file("logs/a.log")
        let w = try LogWriter(path: path, maxBytes: maxBytes, keep: keep)
        var all = ""
        for i in 0..<lines {
            let l = "line \(i)\n"
            all += l
            try w.write([UInt8](l))
        }
        return (path, all)
    }

    func testSegmentsAndReadAllAcrossRotation() throws {
        let (path, all) = try makeLog(lines: 12)
        let segs = try LogReader.segments(path: path)
        XCTAssertGreaterThan(segs.count, 2)
        XCTAssertEqual(segs.first?.start, 0)
        for (a, b) in zip(segs, segs.dropFirst()) { XCTAssertEqual(a.end, b.start) }
        XCTAssertEqual(segs.last?.path, path)
        XCTAssertEqual(segs.last?.end, UInt64(all.utf8.count))
        XCTAssertEqual(String(decoding: try LogReader.readAll(path: path), as: UTF8.self), all)
    }

    func testLastLinesAcrossRotation() throws {
        let (path, _) = try makeLog(lines: 12)
        XCTAssertEqual(try LogReader.lastLines(path: path, count: 3), ["line 9", "line 10", "line 11"])
        // Needs lines from several rotated files.
        XCTAssertEqual(try LogReader.lastLines(path: path, count: 8), (4..<12).map { "line \($0)" })
        XCTAssertEqual(try LogReader.lastLines(path: path, count: 100), (0..<12).map { "line \($0)" })
        XCTAssertEqual(try LogReader.lastLines(path: path, count: 0), [])
    }

    func testLastLinesWithOldestRotatedAway() throws {
        let (path, _) = try makeLog(lines: 30, keep: 1)
        let lines = try LogReader.lastLines(path: path, count: 100)
        XCTAssertEqual(lines.last, "line 29")
        XCTAssertLessThan(lines.count, 30)
        // Whatever is left is a contiguous tail.
        let first = Int(lines[0].split(separator: " ")[1])!
        XCTAssertEqual(lines, (first..<30).map { "line \($0)" })
    }

    func testLastLinesUnterminatedAndMissing() throws {
        let path = tmp.file("b.log")
        XCTAssertEqual(try LogReader.lastLines(path: path, count: 5), [])
        let w = try LogWriter(path: path, maxBytes: 0, keep: 0)
        try w.write([UInt8]("a\n\nb\npartial"))
        XCTAssertEqual(try LogReader.lastLines(path: path, count: 2), ["b", "partial"])
        XCTAssertEqual(try LogReader.lastLines(path: path, count: 4), ["a", "", "b", "partial"])
    }

    func testLastLinesOnLargeFileReadsFromTheEnd() throws {
        // 200k lines (~2.5 MB) spanning many tail chunks; correctness of chunk joins.
        let path = tmp.file("big.log")
        let w = try LogWriter(path: path, maxBytes: 0, keep: 0)
        var buf: [UInt8] = []
        for i in 0..<200_000 { buf += [UInt8]("row \(i) xxxxxxxx\n") }
        try w.write(buf)
        XCTAssertEqual(try LogReader.lastLines(path: path, count: 2), ["row 199998 xxxxxxxx", "row 199999 xxxxxxxx"])
        let many = try LogReader.lastLines(path: path, count: 10_000)
        XCTAssertEqual(many.count, 10_000)
        XCTAssertEqual(many.first, "row 190000 xxxxxxxx")
        // The tail read must not have needed the whole file.
        let tail = try LogReader.tailBytes(path: path, newlines: 3)
        XCTAssertLessThan(tail.count, 100)
    }

    func testLastLinesStripped() throws {
        let path = tmp.file("c.log")
        let w = try LogWriter(path: path, maxBytes: 0, keep: 0)
        try w.write([UInt8]("\(ESC)[31mred\(ESC)[0m\r\nprogress 1\rprogress 2\r\n\(ESC)]0;title\u{07}done\r\n"))
        XCTAssertEqual(try LogReader.lastLines(path: path, count: 3, stripTerminal: true),
                       ["progress 1", "progress 2", "done"])
        XCTAssertEqual(try LogReader.lastLines(path: path, count: 10, stripTerminal: true),
                       ["red", "progress 1", "progress 2", "done"])
    }

    func testReadByGlobalOffset() throws {
        let (path, all) = try makeLog(lines: 12)
        let allBytes = [UInt8](all)
        for from in [0, 5, 31, 32, 33, 60, allBytes.count - 1] {
            let r = try LogReader.read(path: path, from: UInt64(from), maxBytes: 40)
            XCTAssertEqual(r.offset, UInt64(from))
            XCTAssertEqual(r.bytes, Array(allBytes[from..<min(from + 40, allBytes.count)]), "from \(from)")
        }
        let end = try LogReader.read(path: path, from: UInt64(allBytes.count), maxBytes: 10)
        XCTAssertEqual(end.bytes, [])
    }

    func testReadByOffsetAfterOldestDropped() throws {
        let (path, all) = try makeLog(lines: 30, keep: 1)
        let allBytes = [UInt8](all)
        let r = try LogReader.read(path: path, from: 0, maxBytes: 1 << 20)
        XCTAssertGreaterThan(r.offset, 0)
        XCTAssertEqual(r.bytes, Array(allBytes[Int(r.offset)...]))
    }
}
