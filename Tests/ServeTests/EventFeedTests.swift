import AgentHost
import Foundation
import XCTest
@testable import Serve

/// The events file as a stream's source (whole lines with their offsets), and a client's
/// position in it (each event admitted once).
final class EventFeedTests: XCTestCase {
    func temporaryFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "events-\(UUID().uuidString).jsonl"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Whole lines only, each with the offset it starts at; a torn last line waits.
    func testReadsWholeLinesWithOffsets() throws {
        let path = try temporaryFile("{\"n\":1}\n{\"n\":2}\n{\"n\":")
        let read = EventFile.read(path: path, from: 0, maxBytes: 1 << 20)
        XCTAssertEqual(read.lines.map(\.at), [0, 8])
        XCTAssertEqual(read.lines.map { String(decoding: $0.bytes, as: UTF8.self) }, ["{\"n\":1}", "{\"n\":2}"])
        XCTAssertEqual(read.next, 16)
        XCTAssertFalse(read.rotated)
        let rest = EventFile.read(path: path, from: 8, inode: read.inode, maxBytes: 1 << 20)
        XCTAssertEqual(rest.lines.map(\.at), [8])
    }

    /// A file shorter than the offset, or another file at the path, was rotated: from its start.
    func testRotatedFileStartsAgain() throws {
        let path = try temporaryFile("{\"n\":1}\n")
        let read = EventFile.read(path: path, from: 100, maxBytes: 1 << 20)
        XCTAssertTrue(read.rotated)
        XCTAssertEqual(read.lines.map(\.at), [0])
        let other = EventFile.read(path: path, from: 0, inode: read.inode + 1, maxBytes: 1 << 20)
        XCTAssertTrue(other.rotated)
    }

    func event(_ at: Int) -> [UInt8] { Array("{\"type\":\"event\",\"at\":\(at),\"event\":{\"type\":\"tick\"}}".utf8) }

    /// What the HTTP read covered is not shown again, nor is an event the stream repeats; a
    /// rotated file starts the offsets again.
    func testPositionAdmitsEachEventOnce() {
        var position = EventPosition(from: 100)
        XCTAssertFalse(position.admit(event(40)), "before what HTTP read: shown already")
        XCTAssertTrue(position.admit(event(100)))
        XCTAssertFalse(position.admit(event(100)), "the same event twice")
        XCTAssertTrue(position.admit(event(130)))
        XCTAssertTrue(position.admit(Array(#"{"type":"state","status":{}}"#.utf8)))
        XCTAssertTrue(position.admit(Array(#"{"type":"events_rotated"}"#.utf8)))
        XCTAssertTrue(position.admit(event(0)), "a new file's first event")
    }
}
