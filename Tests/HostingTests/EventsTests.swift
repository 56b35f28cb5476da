import XCTest
@testable import Hosting

final class EventsTests: XCTestCase {
    let now = 1_763_772_788.1239  // 2025-11-22T00:53:08.123Z

    func norm(_ s: String, agent: String = "goal") -> String? {
        EventLine.normalize([UInt8](s), agent: agent, now: now)
    }

    func testISO8601() {
        XCTAssertEqual(EventLine.iso8601(0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(EventLine.iso8601(now), "2025-11-22T00:53:08.123Z")
        XCTAssertEqual(EventLine.iso8601(951_782_400.5), "2000-02-29T00:00:00.500Z")
        XCTAssertEqual(EventLine.iso8601(-0.001), "1969-12-31T23:59:59.999Z")
    }

    func testAddsTsAndAgentCompactly() {
        XCTAssertEqual(norm(#"  { "type" : "step", "n": 3, "limit": 30 }  "# + "\n"),
                       #"{"ts":"2025-11-22T00:53:08.123Z","agent":"goal","type":"step","n":3,"limit":30}"#)
    }

    func testKeepsExistingTsAndAgent() {
        XCTAssertEqual(norm(#"{"ts":"x","agent":"other","type":"message","text":"hi"}"#),
                       #"{"ts":"x","agent":"other","type":"message","text":"hi"}"#)
        XCTAssertEqual(norm(#"{"type":"tokens","agent":"a","input":10,"output":2,"cost_usd":1.5e-3}"#),
                       #"{"ts":"2025-11-22T00:53:08.123Z","type":"tokens","agent":"a","input":10,"output":2,"cost_usd":1.5e-3}"#)
    }

    func testStringsAndNestingSurvive() {
        let line = #"{"type":"command","text":"echo \"a\tb\" \\ é \ud83c\udf89 \u0001","x":[1,{"y":null},true,false,-0.5]}"#
        let out = norm(line)!
        XCTAssertEqual(out, #"{"ts":"2025-11-22T00:53:08.123Z","agent":"goal","type":"command","text":"echo \"a\tb\" \\ é 🎉 \u0001","x":[1,{"y":null},true,false,-0.5]}"#)
        XCTAssertFalse(out.contains("\n"))
    }

    func testInvalidLinesAreWrapped() {
        XCTAssertEqual(norm("not json"),
                       #"{"ts":"2025-11-22T00:53:08.123Z","agent":"goal","type":"invalid","raw":"not json","v":1}"#)
        XCTAssertEqual(norm("[1,2]"),
                       #"{"ts":"2025-11-22T00:53:08.123Z","agent":"goal","type":"invalid","raw":"[1,2]","v":1}"#)
        XCTAssertEqual(norm(#"{"a":1} trailing"#)?.contains(#""type":"invalid""#), true)
        XCTAssertEqual(norm(#"{"a":01}"#)?.contains(#""type":"invalid""#), true)
        XCTAssertEqual(norm(#"{"a":"unterminated}"#)?.contains(#""type":"invalid""#), true)
        XCTAssertEqual(norm("{\"a\":\"raw\ttab\"}")?.contains(#""type":"invalid""#), true)
    }

    func testBlankLinesAreSkipped() {
        XCTAssertNil(norm(""))
        XCTAssertNil(norm("  \r\n"))
    }

    func testLongLinesAreTruncatedWithMarker() {
        let long = "{\"type\":\"message\",\"text\":\"" + String(repeating: "x", count: 70_000) + "\"}"
        let out = norm(long)!
        XCTAssertTrue(out.contains(#""type":"invalid""#))
        XCTAssertTrue(out.hasSuffix(#","truncated":true,"v":1}"#))
        XCTAssertLessThan(out.utf8.count, EventLine.maxLineBytes + 200)
        XCTAssertGreaterThan(out.utf8.count, EventLine.maxLineBytes)
    }

    func testShimEvents() {
        XCTAssertEqual(EventLine.start(agent: "a", pid: 42, now: 0),
                       #"{"ts":"1970-01-01T00:00:00.000Z","agent":"a","type":"start","pid":42,"v":1}"#)
        XCTAssertEqual(EventLine.exit(agent: "a", status: .signaled(9), restarts: 2, now: 0),
                       #"{"ts":"1970-01-01T00:00:00.000Z","agent":"a","type":"exit","status":{"signal":9},"restarts":2,"v":1}"#)
        XCTAssertEqual(EventLine.exit(agent: "a", status: .exited(0), restarts: 0, now: 0),
                       #"{"ts":"1970-01-01T00:00:00.000Z","agent":"a","type":"exit","status":{"code":0},"restarts":0,"v":1}"#)
    }

    func testSplitterAcrossChunks() {
        var s = EventLineSplitter()
        XCTAssertEqual(s.feed([UInt8]("{\"a\":")), [])
        XCTAssertEqual(s.feed([UInt8]("1}\n{\"b\"")), [[UInt8]("{\"a\":1}")])
        XCTAssertEqual(s.feed([UInt8](":2}\n\nx")), [[UInt8]("{\"b\":2}"), []])
        XCTAssertEqual(s.finish(), [UInt8]("x"))
        XCTAssertNil(s.finish())
    }

    func testSplitterEveryBoundary() {
        let stream = [UInt8]("one\ntwo two\n\nthree\n")
        for cut in 0...stream.count {
            var s = EventLineSplitter()
            let lines = s.feed(Array(stream[..<cut])) + s.feed(Array(stream[cut...]))
            XCTAssertEqual(lines.map { String(decoding: $0, as: UTF8.self) }, ["one", "two two", "", "three"], "cut \(cut)")
            XCTAssertNil(s.finish())
        }
    }

    func testSplitterBoundsLongLines() {
        var s = EventLineSplitter(maxLineBytes: 10)
        var lines: [[UInt8]] = []
        for _ in 0..<100 { lines += s.feed([UInt8](repeating: 0x61, count: 7)) }
        lines += s.feed([UInt8]("\nok\n"))
        XCTAssertEqual(lines, [[UInt8](repeating: 0x61, count: 11), [UInt8]("ok")])
    }

    func testJSONValueParse() throws {
        XCTAssertEqual(try OrderedJSON.parse([UInt8](" {\"k\": [1, \"v\"]} "))["k"], .array([.number("1"), .string("v")]))
        XCTAssertThrowsError(try OrderedJSON.parse([UInt8](String(repeating: "[", count: 100) + String(repeating: "]", count: 100))))
        XCTAssertThrowsError(try OrderedJSON.parse([0x22, 0xFF, 0x22]))  // invalid UTF-8 inside a string
    }
}
