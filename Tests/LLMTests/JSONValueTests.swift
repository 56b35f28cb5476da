import XCTest
import Foundation
@testable import LLM
import AgentProtocol

final class JSONValueTests: XCTestCase {
    func testRoundTripAndSortedKeys() throws {
        let v = try JSONValue.parse(#"{"b": [1, 2.5, -3e2, true, false, null], "a": {"z": "x", "y": ""}}"#)
        XCTAssertEqual(v.serialized(), #"{"a":{"y":"","z":"x"},"b":[1,2.5,-300,true,false,null]}"#)
        XCTAssertEqual(try JSONValue.parse(v.serialized()), v)
    }

    func testBoolAndNumberAreDistinct() throws {
        XCTAssertEqual(try JSONValue.parse("[true, 1]"), .array([.bool(true), .number(1)]))
        XCTAssertNotEqual(JSONValue.bool(true), JSONValue.number(1))
    }

    func testStringEscapes() throws {
        let v = try JSONValue.parse(#""a\"b\\c\/d\n\t\u00e9\ud83c\udf89\u0001""#)
        XCTAssertEqual(v, .string("a\"b\\c/d\n\té🎉\u{01}"))
        XCTAssertEqual(v.serialized(), #""a\"b\\c/d\n\té🎉\u0001""#)
        // Lone surrogates become U+FFFD rather than crashing.
        XCTAssertEqual(try JSONValue.parse(#""\ud800x""#), .string("\u{FFFD}x"))
    }

    func testRejectsMalformed() {
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "tru", "\"abc", "{\"a\":1}x", "[1 2]", "\"\u{01}\"", "-", "1e"] {
            XCTAssertThrowsError(try JSONValue.parse(bad), "accepted \(bad)")
        }
    }

    func testNumbersFormatting() {
        XCTAssertEqual(JSONValue.number(1024).serialized(), "1024")
        XCTAssertEqual(JSONValue.number(0.7).serialized(), "0.7")
        XCTAssertEqual(JSONValue.number(-0.5).serialized(), "-0.5")
        XCTAssertEqual(JSONValue.number(.nan).serialized(), "null")
    }

    func testCodableInterop() throws {
        let v: JSONValue = ["a": [1, "x", nil, true], "b": 2.5]
        let data = try JSONEncoder().encode(v)
        XCTAssertEqual(try JSONDecoder().decode(JSONValue.self, from: data), v)
    }

    /// One implementation: JSONValue is read and written by OrderedJSON's parser and writer.
    func testTheSameTextAsTheProtocolsJSON() throws {
        let v: JSONValue = ["b": [1, 2.5, "x\u{8}\u{2028}"], "a": nil, "c": ["d": true]]
        XCTAssertEqual(v.serialized(), OrderedJSON(v).serialized())
        XCTAssertEqual(v.serialized(), #"{"a":null,"b":[1,2.5,"x\b\u2028"],"c":{"d":true}}"#)
        XCTAssertEqual(JSONValue(try OrderedJSON.parse(Array(v.serialized().utf8))), v)
        // A model's reply is taken as it comes: invalid UTF-8 reads as U+FFFD.
        XCTAssertEqual(try JSONValue.parse([0x22, 0x61, 0xFF, 0x22]), .string("a\u{FFFD}"))
        XCTAssertThrowsError(try JSONValue.parse("[1,]")) { XCTAssertTrue($0 is JSONParseError) }
    }

    func testDeepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000)
        XCTAssertThrowsError(try JSONValue.parse(deep))
    }
}
