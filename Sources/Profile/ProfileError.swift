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

/// Collects semantic errors with their positions; the first in file order wins.
final class Diagnostics {
    struct Item { let position: SourcePosition; let sequence: Int; let message: String }
    let map: SourceMap
    private(set) var items: [Item] = []

    init(map: SourceMap) { self.map = map }

    func add(_ position: SourcePosition, _ message: String) {
        items.append(Item(position: position, sequence: items.count, message: message))
    }

    /// Error about the key itself (unknown key, key not for this kind).
    func atKey(_ path: [PathComponent], _ message: String) {
        add(position(path, value: false), "\(SourceMap.render(path)): \(message)")
    }

    /// Error about a value (type, enum, range).
    func atValue(_ path: [PathComponent], _ message: String) {
        add(position(path, value: true), "\(SourceMap.render(path)): \(message)")
    }

    /// Error about something missing from a table: points at the table's header
    /// (or the nearest enclosing thing that is in the file).
    func missing(_ path: [PathComponent], _ message: String) {
        add(position(Array(path.dropLast()), value: false), "\(SourceMap.render(path)): \(message)")
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
        items.min { ($0.position, $0.sequence) < ($1.position, $1.sequence) }
    }
}
