import TOMLKit

/// Typed, position-aware access to one TOML table. Every problem is recorded
/// in the shared Diagnostics (nothing throws); a getter returns nil when the
/// key is absent or its value was rejected.
struct TableReader {
    let table: TOMLTable
    let path: [PathComponent]
    let diagnostics: Diagnostics

    enum Bound {
        case positive
        case nonNegative
        case atLeast(Double)
        case between(Double, Double)
        /// A time in seconds: positive and at most `maxDuration`, so every later conversion
        /// (milliseconds for timers, nanoseconds, backoff doubling) stays in range.
        case duration
        /// A count of times (restarts, retries): 0 up to `maxCount`.
        case count

        /// 30 days: longer than any timeout, backoff or budget means anything.
        static let maxDuration = 30.0 * 24 * 3600
        static let maxCount = 1_000_000.0

        func allows(_ v: Double) -> Bool {
            switch self {
            case .duration: return v > 0 && v <= Bound.maxDuration
            case .count: return v >= 0 && v <= Bound.maxCount
            case .positive: return v > 0
            case .nonNegative: return v >= 0
            case .atLeast(let m): return v >= m
            case .between(let a, let b): return v >= a && v <= b
            }
        }

        var text: String {
            switch self {
            case .positive: return "must be greater than 0"
            case .nonNegative: return "must be 0 or more"
            case .atLeast(let m): return "must be at least \(Text.number(m))"
            case .between(let a, let b): return "must be between \(Text.number(a)) and \(Text.number(b))"
            case .duration: return "must be a number of seconds greater than 0 and at most \(Text.number(Bound.maxDuration)) (30 days)"
            case .count: return "must be between 0 and \(Text.number(Bound.maxCount))"
            }
        }
    }

    var keys: [String] { table.keys }
    func has(_ key: String) -> Bool { table[key] != nil }
    func child(_ key: String) -> [PathComponent] { path + [.key(key)] }

    static func describe(_ type: TOMLType) -> String {
        switch type {
        case .table: return "a table"
        case .array: return "an array"
        case .string: return "a string"
        case .int: return "an integer"
        case .double: return "a floating-point number"
        case .bool: return "a boolean"
        case .date: return "a date"
        case .time: return "a time"
        case .dateTime: return "a date-time"
        }
    }

    func wrongType(_ path: [PathComponent], expected: String, found: TOMLValueConvertible) {
        diagnostics.atValue(path, "expected \(expected), found \(Self.describe(found.type))")
    }

    /// Reports keys not in `allowed` (with a suggestion when one is close).
    func rejectUnknownKeys(allowed: [String], hint: (String) -> String? = { _ in nil }) {
        for key in keys where !allowed.contains(key) {
            diagnostics.atKey(child(key), Self.unknownKeyMessage(key, allowed: allowed, hint: hint(key)))
        }
    }

    static func unknownKeyMessage(_ key: String, allowed: [String], hint: String?) -> String {
        var m = "unknown key \(Text.quote(key))"
        if let h = hint {
            m += "; \(h)"
        } else if let s = Text.suggestion(for: key, among: allowed) {
            m += " (did you mean \"\(s)\"?)"
        } else {
            m += "; expected one of: \(allowed.joined(separator: ", "))"
        }
        return m
    }

    // MARK: scalars

    func string(_ key: String, nonEmpty: Bool = false) -> String? {
        guard let v = table[key] else { return nil }
        return Self.string(v, at: child(key), nonEmpty: nonEmpty, diagnostics)
    }

    static func string(_ v: TOMLValueConvertible, at path: [PathComponent], nonEmpty: Bool, _ d: Diagnostics) -> String? {
        guard let s = v.string else {
            d.atValue(path, "expected a string, found \(describe(v.type))")
            return nil
        }
        if nonEmpty && s.isEmpty {
            d.atValue(path, "must not be empty")
            return nil
        }
        return s
    }

    func enumeration<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type, noun: String = "value") -> E?
    where E.RawValue == String {
        guard let s = string(key) else { return nil }
        let allowed = E.allCases.map { $0.rawValue }
        if let e = E(rawValue: s) { return e }
        diagnostics.atValue(child(key), Self.enumMessage(s, allowed: allowed, noun: noun))
        return nil
    }

    static func enumMessage(_ s: String, allowed: [String], noun: String = "value") -> String {
        "unknown \(noun) \(Text.quote(s))\(Text.didYouMean(s, allowed)); expected one of: \(allowed.joined(separator: ", "))"
    }

    func int(_ key: String, _ bound: Bound? = nil) -> Int? {
        guard let v = table[key] else { return nil }
        guard let n = v.int else {
            wrongType(child(key), expected: "an integer", found: v)
            return nil
        }
        if let b = bound, !b.allows(Double(n)) {
            diagnostics.atValue(child(key), "\(b.text), found \(n)")
            return nil
        }
        return n
    }

    /// A number: integer or float.
    func number(_ key: String, _ bound: Bound? = nil) -> Double? {
        guard let v = table[key] else { return nil }
        return Self.number(v, at: child(key), bound, diagnostics)
    }

    static func number(_ v: TOMLValueConvertible, at path: [PathComponent], _ bound: Bound?, _ d: Diagnostics) -> Double? {
        let n: Double
        if let i = v.int { n = Double(i) }
        else if let x = v.double { n = x }
        else {
            d.atValue(path, "expected a number, found \(describe(v.type))")
            return nil
        }
        if !n.isFinite {
            d.atValue(path, "must be a finite number, found \(n)")
            return nil
        }
        if let b = bound, !b.allows(n) {
            d.atValue(path, "\(b.text), found \(Text.number(n))")
            return nil
        }
        return n
    }

    func bool(_ key: String) -> Bool? {
        guard let v = table[key] else { return nil }
        guard let b = v.bool else {
            wrongType(child(key), expected: "a boolean (true or false)", found: v)
            return nil
        }
        return b
    }

    func subtable(_ key: String) -> TableReader? {
        guard let v = table[key] else { return nil }
        guard let t = v.table else {
            wrongType(child(key), expected: "a table", found: v)
            return nil
        }
        return TableReader(table: t, path: child(key), diagnostics: diagnostics)
    }

    /// An array of strings; each element checked by `check` (return an error text to reject it).
    func stringArray(_ key: String, nonEmpty: Bool = false, check: (String) -> String? = { _ in nil }) -> [String]? {
        guard let v = table[key] else { return nil }
        guard let a = v.array else {
            wrongType(child(key), expected: "an array of strings", found: v)
            return nil
        }
        if nonEmpty && a.count == 0 {
            diagnostics.atValue(child(key), "must not be empty")
            return nil
        }
        var out: [String] = []
        var ok = true
        for i in 0..<a.count {
            let p = child(key) + [.index(i)]
            guard let s = Self.string(a[i], at: p, nonEmpty: false, diagnostics) else { ok = false; continue }
            if let problem = check(s) {
                diagnostics.atValue(p, problem)
                ok = false
                continue
            }
            out.append(s)
        }
        return ok ? out : nil
    }
}
