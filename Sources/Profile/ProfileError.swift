/// One clear error about a profile: `<file>:<line>:<column>: <message>`.
/// Line and column are 1-based; both are 0 when the file could not be read.
public struct ProfileError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String
    public let line: Int
    public let column: Int
    public let message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file; self.line = line; self.column = column; self.message = message
    }

    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// Collects semantic errors with their positions; the first in file order wins, except that a
/// missing key gives way to a key error in the same table (`comand = [...]` is reported as the
/// unknown key it is, with its suggestion, not as a missing "command" at the table's header).
final class Diagnostics {
    enum Kind: Equatable {
        case other
        /// About a key that is there (unknown, not for this kind), in the table at this path.
        case key(table: String)
        /// About a key that is not there, in the table at this path.
        case missing(table: String)
    }
    struct Item { let position: SourcePosition; let sequence: Int; let message: String; var kind: Kind = .other }
    let map: SourceMap
    private(set) var items: [Item] = []

    init(map: SourceMap) { self.map = map }

    func add(_ position: SourcePosition, _ message: String, kind: Kind = .other) {
        items.append(Item(position: position, sequence: items.count, message: message, kind: kind))
    }

    /// Error about the key itself (unknown key, key not for this kind).
    func atKey(_ path: [PathComponent], _ message: String) {
        add(position(path, value: false), "\(SourceMap.render(path)): \(message)", kind: .key(table: SourceMap.render(Array(path.dropLast()))))
    }

    /// Error about a value (type, enum, range).
    func atValue(_ path: [PathComponent], _ message: String) {
        add(position(path, value: true), "\(SourceMap.render(path)): \(message)")
    }

    /// Error about something missing from a table: points at the table's header
    /// (or the nearest enclosing thing that is in the file).
    func missing(_ path: [PathComponent], _ message: String) {
        add(position(Array(path.dropLast()), value: false), "\(SourceMap.render(path)): \(message)",
            kind: .missing(table: SourceMap.render(Array(path.dropLast()))))
    }

    func position(_ path: [PathComponent], value: Bool) -> SourcePosition {
        var p = path
        while !p.isEmpty {
            let r = SourceMap.render(p)
            if let pos = value ? map.valuePosition(r) : map.keyPosition(r) { return pos }
            p.removeLast()
        }
        return .start
    }

    var first: Item? {
        guard let first = items.min(by: { ($0.position, $0.sequence) < ($1.position, $1.sequence) }) else { return nil }
        guard case .missing(let table) = first.kind else { return first }
        return items.filter { $0.kind == .key(table: table) }.min { ($0.position, $0.sequence) < ($1.position, $1.sequence) } ?? first
    }
}
