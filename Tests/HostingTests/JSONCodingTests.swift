import Foundation  // only for the interop checks against JSONEncoder/JSONDecoder
import XCTest
@testable import AgentHost

final class JSONCodingTests: XCTestCase {
    enum Phase: String, Codable, Equatable { case running, stopped }
    enum Level: Int, Codable, Equatable { case low = 1, high = 9 }
    enum Shape: Codable, Equatable { case circle(radius: Double), rect(w: Int, h: Int), none }

    struct Inner: Codable, Equatable {
        var name: String
        var note: String?
        var tags: [String] = []
    }

    struct Sample: Codable, Equatable {
        var id = "agent-1"
        var phase = Phase.running
        var level = Level.high
        var shape = Shape.rect(w: 3, h: -4)
        var big = UInt64.max
        var small = Int64.min
        var neg = -42
        var tiny: Int8 = -128
        var ratio = 0.1
        var wee = 1e-300
        var huge = 1.5e300
        var whole = 2.0
        var single: Float = 0.1
        var on = true
        var missing: Int?
        var present: Int? = 7
        var inner = Inner(name: "a \"quoted\"\nline é 😀", note: nil, tags: ["x", "y"])
        var maybeInner: Inner?
        var list: [Int?] = [1, nil, 3]
        var grid: [[Int]] = [[1, 2], [], [3]]
        var env: [String: String] = ["PATH": "bin", "HOME": "~"]
        var byNumber: [Int: Inner] = [2: Inner(name: "two"), 10: Inner(name: "ten", note: "n")]
    }

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
    func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

    func testRoundTrip() throws {
        let s = Sample()
        XCTAssertEqual(try JSONCoding.decode(Sample.self, from: JSONCoding.encodeBytes(s)), s)
        XCTAssertEqual(try JSONCoding.decode(Sample.self, from: JSONCoding.encodeBytes(s, pretty: true, sortedKeys: true)), s)
        XCTAssertEqual(try JSONCoding.decode(Sample.self, from: JSONCoding.encode(s)), s)
        var other = s
        other.maybeInner = Inner(name: "m")
        other.shape = .none
        other.missing = 0
        XCTAssertEqual(try JSONCoding.decode(Sample.self, from: JSONCoding.encodeBytes(other)), other)
    }

    func testTopLevelValuesAndOptionals() throws {
        XCTAssertEqual(text(try JSONCoding.encodeBytes(Int?.none)), "null")
        XCTAssertEqual(text(try JSONCoding.encodeBytes([1.5, -0.0, 100])), "[1.5,-0,100]")
        XCTAssertEqual(try JSONCoding.decode(String.self, from: bytes(#" "hi" "#)), "hi")
        XCTAssertEqual(try JSONCoding.decode(Int?.self, from: bytes("null")), nil)
        struct Opt: Codable, Equatable { var a: Int?; var b: String? }
        XCTAssertEqual(text(try JSONCoding.encodeBytes(Opt(a: nil, b: "x"))), #"{"b":"x"}"#)
        XCTAssertEqual(try JSONCoding.decode(Opt.self, from: bytes(#"{"a":null}"#)), Opt(a: nil, b: nil))
    }

    func testKeyOrderAndSortedKeys() throws {
        struct Z: Codable { var zeta = 1, alpha = 2, Mid = 3, a10 = 4, a9 = 5 }
        XCTAssertEqual(text(try JSONCoding.encodeBytes(Z())), #"{"zeta":1,"alpha":2,"Mid":3,"a10":4,"a9":5}"#)
        XCTAssertEqual(text(try JSONCoding.encodeBytes(Z(), sortedKeys: true)), #"{"Mid":3,"a10":4,"a9":5,"alpha":2,"zeta":1}"#)
        // Nested objects are sorted too, including dictionaries (whose own order is random).
        let nested = ["b": ["y": 1, "x": 2], "a": [:]]
        XCTAssertEqual(try JSONCoding.encode(nested, sortedKeys: true).serialized(), #"{"a":{},"b":{"x":2,"y":1}}"#)
    }

    func testPretty() throws {
        struct P: Codable { var name = "x"; var list = [1, 2]; var empty: [Int] = []; var obj = ["k": true]; var none: [String: Int] = [:] }
        let expected = """
        {
          "name": "x",
          "list": [
            1,
            2
          ],
          "empty": [],
          "obj": {
            "k": true
          },
          "none": {}
        }

        """
        XCTAssertEqual(text(try JSONCoding.encodeBytes(P(), pretty: true)), expected)
        XCTAssertEqual(try JSONCoding.encode(P()).serialized(pretty: true) + "\n", expected)
        XCTAssertEqual(try JSONCoding.encode(P()).serialized(pretty: false), #"{"name":"x","list":[1,2],"empty":[],"obj":{"k":true},"none":{}}"#)
    }

    /// Swift's shortest round-trip text must be valid JSON and read back to the same bits.
    func testDoubleText() throws {
        var values: [Double] = [0.1, 1e-300, 1.5e300, -0.0, 0, 1e-5, 1e-7, 1e16, 1e22, 1.2345678901234568e20, .leastNonzeroMagnitude,
                                .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 2.5, 1 / 3]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 { values.append(Double(bitPattern: rng.next() & ~(0x7FF << 52) | (UInt64.random(in: 0..<0x7FF) << 52))) }
        for v in values {
            let encoded = try JSONCoding.encodeBytes(v)
            XCTAssertNoThrow(try OrderedJSON.parse(encoded), text(encoded))
            XCTAssertEqual(try JSONCoding.decode(Double.self, from: encoded).bitPattern, v.bitPattern, text(encoded))
            XCTAssertEqual(encoded, Array(try JSONEncoder().encode(v)), "same text as Foundation for \(v)")
        }
        for f: Float in [0.1, 1e-5, 3.4e38, .leastNonzeroMagnitude, -1] {
            XCTAssertEqual(try JSONCoding.decode(Float.self, from: JSONCoding.encodeBytes(f)), f)
        }
    }

    func testIntegersFromLiteralText() throws {
        XCTAssertEqual(try JSONCoding.decode(UInt64.self, from: bytes("18446744073709551615")), .max)
        XCTAssertEqual(try JSONCoding.decode(Int64.self, from: bytes("-9223372036854775808")), .min)
        XCTAssertEqual(try JSONCoding.decode(Int.self, from: bytes("1.0")), 1)  // JSONDecoder accepts these too
        XCTAssertEqual(try JSONCoding.decode(Int.self, from: bytes("1e2")), 100)
        XCTAssertEqual(try JSONCoding.decode(Int.self, from: bytes("2500e-2")), 25)
        XCTAssertEqual(try JSONCoding.decode(UInt.self, from: bytes("-0")), 0)
        XCTAssertEqual(try JSONCoding.decode(Int.self, from: bytes("0e-99999999999999999999")), 0)
        for (literal, decode) in [
            ("1.5", { try JSONCoding.decode(Int.self, from: $0) as Any }),
            ("1e-1", { try JSONCoding.decode(Int.self, from: $0) as Any }),
            ("256", { try JSONCoding.decode(UInt8.self, from: $0) as Any }),
            ("-129", { try JSONCoding.decode(Int8.self, from: $0) as Any }),
            ("-1", { try JSONCoding.decode(UInt.self, from: $0) as Any }),
            ("18446744073709551616", { try JSONCoding.decode(UInt64.self, from: $0) as Any }),
            ("1e99999999999999999999", { try JSONCoding.decode(Int.self, from: $0) as Any }),
            ("1e400", { try JSONCoding.decode(Double.self, from: $0) as Any }),
        ] as [(String, ([UInt8]) throws -> Any)] {
            XCTAssertThrowsError(try decode(bytes(literal)), literal) { error in
                guard case DecodingError.dataCorrupted(let c)? = error as? DecodingError else { return XCTFail("\(literal): \(error)") }
                XCTAssertTrue(c.debugDescription.contains(literal), c.debugDescription)
            }
        }
        // Hand-built numbers never went through the parser; garbage must not trap.
        XCTAssertThrowsError(try JSONCoding.decode(Int.self, from: OrderedJSON.number("1x")))
        XCTAssertThrowsError(try JSONCoding.decode(Int.self, from: OrderedJSON.number("-")))
        XCTAssertThrowsError(try JSONCoding.decode(Int.self, from: OrderedJSON.number("1e")))
    }

    func testInteropWithFoundation() throws {
        let s = Sample()
        let foundation = JSONEncoder()
        foundation.outputFormatting = [.sortedKeys]
        // Same bytes as Foundation for compact sorted output (no "/" in the sample: Foundation writes "\/").
        XCTAssertEqual(text(try JSONCoding.encodeBytes(s, sortedKeys: true)), text(Array(try foundation.encode(s))))
        XCTAssertEqual(try JSONDecoder().decode(Sample.self, from: Data(JSONCoding.encodeBytes(s, pretty: true))), s)
        foundation.outputFormatting = [.prettyPrinted]
        XCTAssertEqual(try JSONCoding.decode(Sample.self, from: Array(foundation.encode(s))), s)
        var other = s
        other.maybeInner = Inner(name: "/slash/", note: "\u{1}\u{7f}")
        XCTAssertEqual(try JSONCoding.decode(Sample.self, from: Array(foundation.encode(other))), other)
        XCTAssertEqual(try JSONDecoder().decode(Sample.self, from: Data(JSONCoding.encodeBytes(other))), other)
    }

    class Base: Codable { var base = 1 }
    final class Derived: Base {
        var extra = "e"
        enum K: CodingKey { case extra }
        override init() { super.init() }
        required init(from d: Decoder) throws {
            extra = try d.container(keyedBy: K.self).decode(String.self, forKey: .extra)
            try super.init(from: d.container(keyedBy: K.self).superDecoder())
        }
        override func encode(to e: Encoder) throws {
            var c = e.container(keyedBy: K.self)
            try c.encode(extra, forKey: .extra)
            try super.encode(to: c.superEncoder())
        }
    }

    func testSuperEncoderAndDecoder() throws {
        let d = Derived()
        d.base = 5
        let json = try JSONCoding.encodeBytes(d)
        XCTAssertEqual(text(json), #"{"extra":"e","super":{"base":5}}"#)
        XCTAssertEqual(try JSONCoding.decode(Derived.self, from: json).base, 5)
        XCTAssertEqual(try JSONDecoder().decode(Derived.self, from: Data(json)).base, 5)
    }

    func testUnkeyedRetryAfterFailure() throws {
        struct Mixed: Decodable, Equatable {
            var items: [String] = []
            init(from d: Decoder) throws {
                var c = try d.unkeyedContainer()
                while !c.isAtEnd {
                    if try c.decodeNil() { items.append("nil"); continue }
                    if let i = try? c.decode(Int.self) { items.append("int \(i)") } else { items.append(try c.decode(String.self)) }
                }
            }
        }
        XCTAssertEqual(try JSONCoding.decode(Mixed.self, from: bytes(#"[1,"a",null,2]"#)).items, ["int 1", "a", "nil", "int 2"])
    }

    // MARK: - Errors

    func testMissingKeyNamesThePath() {
        let json = bytes(#"{"outer":{"inners":[{"name":"a"},{"note":"no name"}]}}"#)
        struct Named: Codable { var name: String; var note: String? }
        struct Outer: Codable { var inners: [Named] }
        struct Top: Codable { var outer: Outer }
        XCTAssertThrowsError(try JSONCoding.decode(Top.self, from: json)) { error in
            guard case DecodingError.keyNotFound(let key, let c)? = error as? DecodingError else { return XCTFail("\(error)") }
            XCTAssertEqual(key.stringValue, "name")
            XCTAssertEqual(c.codingPath.map(\.stringValue), ["outer", "inners", "Index 1"])
            XCTAssertTrue(c.debugDescription.contains("outer.inners[1].name"), c.debugDescription)
        }
    }

    func testWrongTypeAndNull() {
        XCTAssertThrowsError(try JSONCoding.decode(Inner.self, from: bytes(#"{"name":5}"#))) { error in
            guard case DecodingError.typeMismatch(let type, let c)? = error as? DecodingError else { return XCTFail("\(error)") }
            XCTAssertTrue(type == String.self)
            XCTAssertEqual(c.codingPath.map(\.stringValue), ["name"])
            XCTAssertEqual(c.debugDescription, "Expected String at name but found a number.")
        }
        XCTAssertThrowsError(try JSONCoding.decode(Inner.self, from: bytes(#"{"name":null}"#))) { error in
            guard case DecodingError.valueNotFound(_, let c)? = error as? DecodingError else { return XCTFail("\(error)") }
            XCTAssertEqual(c.codingPath.map(\.stringValue), ["name"])
        }
        XCTAssertThrowsError(try JSONCoding.decode(Inner.self, from: bytes("[]"))) { error in
            guard case DecodingError.typeMismatch? = error as? DecodingError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try JSONCoding.decode(Phase.self, from: bytes(#""paused""#))) { error in
            guard case DecodingError.dataCorrupted? = error as? DecodingError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try JSONCoding.decode([Int].self, from: bytes("[1,true]"))) { error in
            guard case DecodingError.typeMismatch(_, let c)? = error as? DecodingError else { return XCTFail("\(error)") }
            XCTAssertTrue(c.debugDescription.contains("at [1]"), c.debugDescription)
        }
    }

    func testMalformedJSON() {
        XCTAssertThrowsError(try JSONCoding.decode(Inner.self, from: bytes(#"{"name":"a",}"#))) { error in
            guard case DecodingError.dataCorrupted(let c)? = error as? DecodingError else { return XCTFail("\(error)") }
            XCTAssertTrue(c.codingPath.isEmpty)
            XCTAssertEqual((c.underlyingError as? OrderedJSON.ParseError)?.offset, 12)
            XCTAssertTrue(c.debugDescription.contains("byte 12"), c.debugDescription)
        }
        XCTAssertThrowsError(try JSONCoding.decode(Inner.self, from: []))
    }

    func testEncodingErrors() {
        struct F: Encodable { var values: [Double] }
        XCTAssertThrowsError(try JSONCoding.encode(F(values: [1, .nan]))) { error in
            guard case EncodingError.invalidValue(_, let c)? = error as? EncodingError else { return XCTFail("\(error)") }
            XCTAssertEqual(c.codingPath.map(\.stringValue), ["values", "Index 1"])
            XCTAssertTrue(c.debugDescription.contains("values[1]"), c.debugDescription)
        }
        XCTAssertThrowsError(try JSONCoding.encode(Float.infinity))
        struct Nothing: Encodable { func encode(to _: Encoder) {} }
        XCTAssertThrowsError(try JSONCoding.encode(Nothing()))  // as JSONEncoder: top level must encode something
        XCTAssertEqual(try JSONCoding.encode([Nothing()]).serialized(), "[{}]")
    }
}
