/// "%.1f" without Foundation's String(format:).
public func formatSeconds(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}

public func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
