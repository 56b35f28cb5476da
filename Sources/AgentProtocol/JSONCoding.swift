// Standard library only, on purpose: the shim reads and writes its JSON files
// through this, and linking Foundation (or FoundationEssentials) just for
// JSONEncoder/JSONDecoder costs it megabytes of resident memory.

/// Codable over `OrderedJSON`, compatible with Foundation's JSONEncoder and
/// JSONDecoder at their default settings, so a file written by either side
/// reads back on the other: nil optionals are left out (`encodeIfPresent`),
/// missing keys and nulls decode as nil, non-finite floats are refused,
/// numbers are written as Swift's shortest round-trip text ("1.0" as "1").
/// Foundation's special cases for Date, Data, URL and Decimal don't apply:
/// those types don't exist without Foundation.
public enum JSONCoding {
    /// Object keys come out in the order they were encoded, or sorted by
    /// UTF-8 bytes (which is the order Foundation's `.sortedKeys` gives).
    public static func encode<T: Encodable>(_ value: T, sortedKeys: Bool = false) throws -> OrderedJSON {
        let root = Node()
        try value.encode(to: Enc(node: root, codingPath: []))
        if case .empty = root.kind {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "Top-level \(T.self) did not encode any values."))
        }
        return root.json(sortedKeys: sortedKeys)
    }

    /// Compact on one line (for JSONL and frames), or pretty for files people
    /// read: two-space indent, `"key": value`, and a final newline.
    public static func encodeBytes<T: Encodable>(_ value: T, pretty: Bool = false, sortedKeys: Bool = false) throws -> [UInt8] {
        let json = try encode(value, sortedKeys: sortedKeys)
        var out: [UInt8] = []
        if pretty {
            json.writePretty(to: &out, indent: 0)
            out.append(0x0A)
        } else {
            json.write(to: &out)
        }
        return out
    }

    public static func decode<T: Decodable>(_ type: T.Type, from json: OrderedJSON) throws -> T {
        try Dec(json: json, codingPath: []).decode(type)
    }

    /// Malformed JSON is `DecodingError.dataCorrupted` with the byte offset,
    /// the same error kind JSONDecoder throws, so callers catch one thing.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        let json: OrderedJSON
        do {
            json = try OrderedJSON.parse(bytes)
        } catch let e as OrderedJSON.ParseError {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "Invalid JSON at byte \(e.offset): \(e.reason).", underlyingError: e))
        }
        return try decode(type, from: json)
    }
}

extension OrderedJSON {
    /// Compact (as `serialized()`) or pretty (as `JSONCoding.encodeBytes`,
    /// without the final newline). Empty containers stay `{}` and `[]`.
    public func serialized(pretty: Bool) -> String {
        var out: [UInt8] = []
        if pretty { writePretty(to: &out, indent: 0) } else { write(to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    func writePretty(to out: inout [UInt8], indent: Int) {
        func newline(_ n: Int) { out.append(0x0A); out += repeatElement(0x20, count: n) }
        switch self {
        case .array(let items) where !items.isEmpty:
            out.append(0x5B)
            for (i, v) in items.enumerated() {
                if i > 0 { out.append(0x2C) }
                newline(indent + 2)
                v.writePretty(to: &out, indent: indent + 2)
            }
            newline(indent)
            out.append(0x5D)
        case .object(let fields) where !fields.isEmpty:
            out.append(0x7B)
            for (i, (k, v)) in fields.enumerated() {
                if i > 0 { out.append(0x2C) }
                newline(indent + 2)
                OrderedJSON.writeString(k, to: &out)
                out += [0x3A, 0x20]
                v.writePretty(to: &out, indent: indent + 2)
            }
            newline(indent)
            out.append(0x7D)
        default:
            write(to: &out)
        }
    }
}

// MARK: - Shared

/// Keys this coder makes itself: array positions (shown as `[i]` in error
/// paths) and "super".
private struct JSONKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) { stringValue = "Index \(intValue)"; self.intValue = intValue }
    static let superKey = JSONKey(stringValue: "super")
}

/// "spec.limits[2].name": error messages name where in the file the problem is.
private func describe(_ path: [any CodingKey]) -> String {
    guard !path.isEmpty else { return "the top level" }
    var s = ""
    for key in path {
        if let i = key.intValue, key is JSONKey { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + key.stringValue }
    }
    return s
}

// MARK: - Encoding

/// The encoder's mutable tree. Containers are handed out before their
/// contents are written, so they need a shared place to write into; it
/// becomes an immutable OrderedJSON at the end.
private final class Node {
    enum Kind { case empty, leaf(OrderedJSON), array, object }
    var kind = Kind.empty
    var items: [Node] = []
    var keys: [String] = []  // first-encoded order
    var fields: [String: Node] = [:]

    /// Encoding a key again replaces its value but keeps its position; nested
    /// containers and super encoders for a key that exists reuse it.
    func child(_ key: String, reuse: Bool) -> Node {
        if reuse, let n = fields[key] { return n }
        let n = Node()
        if fields.updateValue(n, forKey: key) == nil { keys.append(key) }
        return n
    }

    func json(sortedKeys: Bool) -> OrderedJSON {
        switch kind {
        case .empty: return .object([])  // a nested value that encoded nothing is {} in Foundation too
        case .leaf(let v): return v
        case .array: return .array(items.map { $0.json(sortedKeys: sortedKeys) })
        case .object:
            let order = sortedKeys ? keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } : keys
            return .object(order.map { ($0, fields[$0]!.json(sortedKeys: sortedKeys)) })
        }
    }
}

private struct Enc: Encoder, SingleValueEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy _: Key.Type) -> KeyedEncodingContainer<Key> {
        node.kind = .object  // keys written earlier stay: asking twice merges, as in Foundation
        return KeyedEncodingContainer(KeyedEnc<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.kind = .array
        return UnkeyedEnc(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    func encodeNil() { node.kind = .leaf(.null) }
    func encode(_ v: Bool) { node.kind = .leaf(.bool(v)) }
    func encode(_ v: String) { node.kind = .leaf(.string(v)) }
    func encode(_ v: Double) throws { try float(v) }
    func encode(_ v: Float) throws { try float(v) }
    func encode(_ v: Int) { int(v) }
    func encode(_ v: Int8) { int(v) }
    func encode(_ v: Int16) { int(v) }
    func encode(_ v: Int32) { int(v) }
    func encode(_ v: Int64) { int(v) }
    func encode(_ v: UInt) { int(v) }
    func encode(_ v: UInt8) { int(v) }
    func encode(_ v: UInt16) { int(v) }
    func encode(_ v: UInt32) { int(v) }
    func encode(_ v: UInt64) { int(v) }
    func encode<T: Encodable>(_ v: T) throws { try v.encode(to: self) }

    private func int<I: BinaryInteger>(_ v: I) { node.kind = .leaf(.number(String(v))) }

    /// Swift's `description` is the shortest text that reads back to the same
    /// value, and all its finite forms ("0.1", "1e-05", "1.5e+300", "-0.0")
    /// are valid JSON. The ".0" is dropped as Foundation does, so whole
    /// numbers match its output byte for byte.
    private func float<F: BinaryFloatingPoint & LosslessStringConvertible>(_ v: F) throws {
        guard v.isFinite else {
            throw EncodingError.invalidValue(v, .init(codingPath: codingPath, debugDescription: "Unable to encode \(F.self).\(v) directly in JSON at \(describe(codingPath))."))
        }
        var text = v.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        node.kind = .leaf(.number(text))
    }
}

private struct KeyedEnc<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [any CodingKey]

    private func at(_ key: any CodingKey, reuse: Bool = false) -> Enc {
        Enc(node: node.child(key.stringValue, reuse: reuse), codingPath: codingPath + [key])
    }

    mutating func encodeNil(forKey k: Key) { at(k).encodeNil() }
    mutating func encode(_ v: Bool, forKey k: Key) { at(k).encode(v) }
    mutating func encode(_ v: String, forKey k: Key) { at(k).encode(v) }
    mutating func encode(_ v: Double, forKey k: Key) throws { try at(k).encode(v) }
    mutating func encode(_ v: Float, forKey k: Key) throws { try at(k).encode(v) }
    mutating func encode(_ v: Int, forKey k: Key) { at(k).encode(v) }
    mutating func encode(_ v: Int8, forKey k: Key) { at(k).encode(v) }
    mutating func encode(_ v: Int16, forKey k: Key) { at(k).encode(v) }
    mutating func encode(_ v: Int32, forKey k: Key) { at(k).encode(v) }
    mutating func encode(_ v: Int64, forKey k: Key) { at(k).encode(v) }
    mutating func encode(_ v: UInt, forKey k: Key) { at(k).encode(v) }
    mutating func encode(_ v: UInt8, forKey k: Key) { at(k).encode(v) }
    mutating func encode(_ v: UInt16, forKey k: Key) { at(k).encode(v) }
    mutating func encode(_ v: UInt32, forKey k: Key) { at(k).encode(v) }
    mutating func encode(_ v: UInt64, forKey k: Key) { at(k).encode(v) }
    mutating func encode<T: Encodable>(_ v: T, forKey k: Key) throws { try v.encode(to: at(k)) }

    mutating func nestedContainer<NK: CodingKey>(keyedBy _: NK.Type, forKey k: Key) -> KeyedEncodingContainer<NK> {
        at(k, reuse: true).container(keyedBy: NK.self)
    }
    mutating func nestedUnkeyedContainer(forKey k: Key) -> any UnkeyedEncodingContainer { at(k, reuse: true).unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { at(JSONKey.superKey, reuse: true) }
    mutating func superEncoder(forKey k: Key) -> any Encoder { at(k, reuse: true) }
}

private struct UnkeyedEnc: UnkeyedEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    var count: Int { node.items.count }

    private func next() -> Enc {
        let key = JSONKey(intValue: count)
        let child = Node()
        node.items.append(child)
        return Enc(node: child, codingPath: codingPath + [key])
    }

    mutating func encodeNil() { next().encodeNil() }
    mutating func encode(_ v: Bool) { next().encode(v) }
    mutating func encode(_ v: String) { next().encode(v) }
    mutating func encode(_ v: Double) throws { try next().encode(v) }
    mutating func encode(_ v: Float) throws { try next().encode(v) }
    mutating func encode(_ v: Int) { next().encode(v) }
    mutating func encode(_ v: Int8) { next().encode(v) }
    mutating func encode(_ v: Int16) { next().encode(v) }
    mutating func encode(_ v: Int32) { next().encode(v) }
    mutating func encode(_ v: Int64) { next().encode(v) }
    mutating func encode(_ v: UInt) { next().encode(v) }
    mutating func encode(_ v: UInt8) { next().encode(v) }
    mutating func encode(_ v: UInt16) { next().encode(v) }
    mutating func encode(_ v: UInt32) { next().encode(v) }
    mutating func encode(_ v: UInt64) { next().encode(v) }
    mutating func encode<T: Encodable>(_ v: T) throws { try v.encode(to: next()) }

    mutating func nestedContainer<NK: CodingKey>(keyedBy _: NK.Type) -> KeyedEncodingContainer<NK> { next().container(keyedBy: NK.self) }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { next().unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { next() }
}

// MARK: - Decoding

private struct Dec: Decoder, SingleValueDecodingContainer {
    let json: OrderedJSON
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy _: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let fields) = json else { throw mismatch([String: Any].self) }
        return KeyedDecodingContainer(KeyedDec<Key>(fields: fields, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = json else { throw mismatch([Any].self) }
        return UnkeyedDec(items: items, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { json == .null }
    func decode(_: Bool.Type) throws -> Bool {
        guard case .bool(let b) = json else { throw mismatch(Bool.self) }
        return b
    }
    func decode(_: String.Type) throws -> String {
        guard case .string(let s) = json else { throw mismatch(String.self) }
        return s
    }
    func decode(_: Double.Type) throws -> Double { try float() }
    func decode(_: Float.Type) throws -> Float { try float() }
    func decode(_: Int.Type) throws -> Int { try int() }
    func decode(_: Int8.Type) throws -> Int8 { try int() }
    func decode(_: Int16.Type) throws -> Int16 { try int() }
    func decode(_: Int32.Type) throws -> Int32 { try int() }
    func decode(_: Int64.Type) throws -> Int64 { try int() }
    func decode(_: UInt.Type) throws -> UInt { try int() }
    func decode(_: UInt8.Type) throws -> UInt8 { try int() }
    func decode(_: UInt16.Type) throws -> UInt16 { try int() }
    func decode(_: UInt32.Type) throws -> UInt32 { try int() }
    func decode(_: UInt64.Type) throws -> UInt64 { try int() }
    func decode<T: Decodable>(_: T.Type) throws -> T { try T(from: self) }

    /// A null where a value is required is valueNotFound, anything else of the
    /// wrong kind typeMismatch: the split JSONDecoder makes.
    func mismatch(_ type: Any.Type) -> DecodingError {
        let found: String
        switch json {
        case .null:
            return .valueNotFound(type, .init(codingPath: codingPath, debugDescription: "Expected \(type) at \(describe(codingPath)) but found null."))
        case .bool: found = "a boolean"
        case .number: found = "a number"
        case .string: found = "a string"
        case .array: found = "an array"
        case .object: found = "an object"
        }
        return .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "Expected \(type) at \(describe(codingPath)) but found \(found)."))
    }

    private func notRepresentable(_ text: String, _ type: Any.Type) -> DecodingError {
        .dataCorrupted(.init(codingPath: codingPath, debugDescription: "Number \(text) at \(describe(codingPath)) does not fit in \(type)."))
    }

    /// From the literal text rather than via Double, which would round
    /// UInt64.max and friends.
    private func int<I: FixedWidthInteger>() throws -> I {
        guard case .number(let text) = json else { throw mismatch(I.self) }
        guard let v: I = exactInteger(text) else { throw notRepresentable(text, I.self) }
        return v
    }

    /// Out of range ("1e999") reads as infinity, which Foundation refuses too.
    private func float<F: BinaryFloatingPoint & LosslessStringConvertible>() throws -> F {
        guard case .number(let text) = json else { throw mismatch(F.self) }
        guard let v = F(text), v.isFinite else { throw notRepresentable(text, F.self) }
        return v
    }
}

/// The integer a JSON number literal denotes, nil if it has a fraction or
/// doesn't fit. Plain digits are read exactly over the whole range; "1.0" or
/// "1e2" go through Double and must be whole there, which is what JSONDecoder
/// does with them too.
private func exactInteger<I: FixedWidthInteger>(_ text: String) -> I? {
    I(text) ?? Double(text).flatMap { I(exactly: $0) }
}

private struct KeyedDec<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let fields: [(String, OrderedJSON)]
    let codingPath: [any CodingKey]
    /// First occurrence of a duplicated key wins, as in JSONDecoder and OrderedJSON's subscript.
    private let index: [String: OrderedJSON]

    init(fields: [(String, OrderedJSON)], codingPath: [any CodingKey]) {
        self.fields = fields
        self.codingPath = codingPath
        index = Dictionary(fields, uniquingKeysWith: { first, _ in first })
    }

    var allKeys: [Key] {
        var seen = Set<String>()
        return fields.compactMap { seen.insert($0.0).inserted ? Key(stringValue: $0.0) : nil }
    }
    func contains(_ k: Key) -> Bool { index[k.stringValue] != nil }

    private func at(_ k: any CodingKey) throws -> Dec {
        guard let v = index[k.stringValue] else {
            let context = DecodingError.Context(codingPath: codingPath, debugDescription: "No value for key \(describe(codingPath + [k])).")
            throw DecodingError.keyNotFound(k, context)
        }
        return Dec(json: v, codingPath: codingPath + [k])
    }

    func decodeNil(forKey k: Key) throws -> Bool { try at(k).decodeNil() }
    func decode(_ t: Bool.Type, forKey k: Key) throws -> Bool { try at(k).decode(t) }
    func decode(_ t: String.Type, forKey k: Key) throws -> String { try at(k).decode(t) }
    func decode(_ t: Double.Type, forKey k: Key) throws -> Double { try at(k).decode(t) }
    func decode(_ t: Float.Type, forKey k: Key) throws -> Float { try at(k).decode(t) }
    func decode(_ t: Int.Type, forKey k: Key) throws -> Int { try at(k).decode(t) }
    func decode(_ t: Int8.Type, forKey k: Key) throws -> Int8 { try at(k).decode(t) }
    func decode(_ t: Int16.Type, forKey k: Key) throws -> Int16 { try at(k).decode(t) }
    func decode(_ t: Int32.Type, forKey k: Key) throws -> Int32 { try at(k).decode(t) }
    func decode(_ t: Int64.Type, forKey k: Key) throws -> Int64 { try at(k).decode(t) }
    func decode(_ t: UInt.Type, forKey k: Key) throws -> UInt { try at(k).decode(t) }
    func decode(_ t: UInt8.Type, forKey k: Key) throws -> UInt8 { try at(k).decode(t) }
    func decode(_ t: UInt16.Type, forKey k: Key) throws -> UInt16 { try at(k).decode(t) }
    func decode(_ t: UInt32.Type, forKey k: Key) throws -> UInt32 { try at(k).decode(t) }
    func decode(_ t: UInt64.Type, forKey k: Key) throws -> UInt64 { try at(k).decode(t) }
    func decode<T: Decodable>(_ t: T.Type, forKey k: Key) throws -> T { try at(k).decode(t) }

    func nestedContainer<NK: CodingKey>(keyedBy t: NK.Type, forKey k: Key) throws -> KeyedDecodingContainer<NK> {
        try at(k).container(keyedBy: t)
    }
    func nestedUnkeyedContainer(forKey k: Key) throws -> any UnkeyedDecodingContainer { try at(k).unkeyedContainer() }
    /// A missing "super" reads as null, so a superclass with only optional fields still decodes.
    func superDecoder() -> any Decoder { Dec(json: index["super"] ?? .null, codingPath: codingPath + [JSONKey.superKey]) }
    func superDecoder(forKey k: Key) -> any Decoder { Dec(json: index[k.stringValue] ?? .null, codingPath: codingPath + [k]) }
}

private struct UnkeyedDec: UnkeyedDecodingContainer {
    let items: [OrderedJSON]
    let codingPath: [any CodingKey]
    var currentIndex = 0
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private var path: [any CodingKey] { codingPath + [JSONKey(intValue: currentIndex)] }

    private func atEnd(_ type: Any.Type) -> DecodingError {
        .valueNotFound(type, .init(codingPath: path, debugDescription: "No element left at \(describe(path))."))
    }

    /// Moves past an element only once it decoded, as JSONDecoder does, so a
    /// caller may retry it as another type.
    private mutating func next<T>(_ type: Any.Type, _ body: (Dec) throws -> T) throws -> T {
        guard !isAtEnd else { throw atEnd(type) }
        let v = try body(Dec(json: items[currentIndex], codingPath: path))
        currentIndex += 1
        return v
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { throw atEnd(Any?.self) }
        guard items[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode(_ t: Bool.Type) throws -> Bool { try next(t) { try $0.decode(t) } }
    mutating func decode(_ t: String.Type) throws -> String { try next(t) { try $0.decode(t) } }
    mutating func decode(_ t: Double.Type) throws -> Double { try next(t) { try $0.decode(t) } }
    mutating func decode(_ t: Float.Type) throws -> Float { try next(t) { try $0.decode(t) } }
    mutating func decode(_ t: Int.Type) throws -> Int { try next(t) { try $0.decode(t) } }
    mutating func decode(_ t: Int8.Type) throws -> Int8 { try next(t) { try $0.decode(t) } }
    mutating func decode(_ t: Int16.Type) throws -> Int16 { try next(t) { try $0.decode(t) } }
    mutating func decode(_ t: Int32.Type) throws -> Int32 { try next(t) { try $0.decode(t) } }
    mutating func decode(_ t: Int64.Type) throws -> Int64 { try next(t) { try $0.decode(t) } }
    mutating func decode(_ t: UInt.Type) throws -> UInt { try next(t) { try $0.decode(t) } }
    mutating func decode(_ t: UInt8.Type) throws -> UInt8 { try next(t) { try $0.decode(t) } }
    mutating func decode(_ t: UInt16.Type) throws -> UInt16 { try next(t) { try $0.decode(t) } }
    mutating func decode(_ t: UInt32.Type) throws -> UInt32 { try next(t) { try $0.decode(t) } }
    mutating func decode(_ t: UInt64.Type) throws -> UInt64 { try next(t) { try $0.decode(t) } }
    mutating func decode<T: Decodable>(_ t: T.Type) throws -> T { try next(t) { try $0.decode(t) } }

    mutating func nestedContainer<NK: CodingKey>(keyedBy t: NK.Type) throws -> KeyedDecodingContainer<NK> {
        try next(KeyedDecodingContainer<NK>.self) { try $0.container(keyedBy: t) }
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next((any UnkeyedDecodingContainer).self) { try $0.unkeyedContainer() }
    }
    mutating func superDecoder() throws -> any Decoder { try next((any Decoder).self) { $0 } }
}
