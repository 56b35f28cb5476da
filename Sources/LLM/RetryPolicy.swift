#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

public enum RetryDecision: Equatable, Sendable {
    /// Retry after this many seconds.
    case retry(after: Double)
    case doNotRetry(reason: String)
}

/// Pure retry rules for one LLM request.
///
/// Retries 408, 409, 429, 5xx (incl. 529 overloaded) and connection failures
/// (status nil), only while nothing of the response has been streamed to the
/// agent. Delay: `retry-after-ms` or `retry-after` (seconds or HTTP date) when
/// given, otherwise full jitter `random() * min(maxDelay, baseDelay * 2^attempt)`.
/// `x-should-retry: true|false` from the server overrides the status rule.
public struct RetryPolicy: Equatable, Sendable {
    /// Total attempts allowed, the first included.
    public var maxAttempts: Int
    /// Seconds.
    public var baseDelay: Double
    /// Seconds; cap for the exponential backoff (not for a server's retry-after).
    public var maxDelay: Double
    /// Seconds; no retry whose delay would end past this since the first attempt started.
    public var maxTotal: Double

    public init(maxAttempts: Int = 4, baseDelay: Double = 0.5, maxDelay: Double = 30, maxTotal: Double = 120) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxTotal = maxTotal
    }

    public static func isRetryableStatus(_ status: Int) -> Bool {
        status == 408 || status == 409 || status == 429 || (500...599).contains(status)
    }

    /// - Parameters:
    ///   - status: HTTP status of the failed attempt; nil for a connection failure or timeout.
    ///   - headers: response headers (names case-insensitive).
    ///   - attempt: 0-based number of the attempt that just failed (0 = the first).
    ///   - elapsed: seconds since the first attempt started.
    ///   - streamedAnyByte: whether any content was already passed on (see `Assembler.streamedAnyByte`).
    ///   - random: uniform in [0, 1).
    ///   - now: current Unix time in seconds, for an HTTP-date `retry-after`.
    public func decide(
        status: Int?, headers: [(String, String)], attempt: Int, elapsed: Double, streamedAnyByte: Bool,
        random: () -> Double, now: Double = Date().timeIntervalSince1970
    ) -> RetryDecision {
        if let s = status, (200...299).contains(s) { return .doNotRetry(reason: "HTTP \(s) is not a failure") }
        if streamedAnyByte { return .doNotRetry(reason: "part of the response was already streamed") }
        let what = status.map { "HTTP \($0)" } ?? "connection failure"
        var retryable = status.map(Self.isRetryableStatus) ?? true
        if let v = Self.header("x-should-retry", in: headers)?.lowercased() {
            if v == "true" { retryable = true } else if v == "false" { retryable = false }
        }
        guard retryable else { return .doNotRetry(reason: "\(what) is not retryable") }
        guard attempt + 1 < maxAttempts else {
            return .doNotRetry(reason: "\(what) after \(attempt + 1) attempt(s), the maximum")
        }
        let delay: Double
        if let d = Self.retryAfter(headers: headers, now: now) {
            delay = d
        } else {
            let cap = min(maxDelay, baseDelay * pow2(attempt))
            delay = max(0, min(1, random())) * cap
        }
        if elapsed + delay > maxTotal {
            return .doNotRetry(reason: "\(what): retrying in \(Self.fmt(delay)) s would exceed the \(Self.fmt(maxTotal)) s budget")
        }
        return .retry(after: delay)
    }

    private func pow2(_ n: Int) -> Double {
        var r = 1.0
        for _ in 0..<max(0, min(n, 60)) { r *= 2 }
        return r
    }

    static func fmt(_ d: Double) -> String {
        let r = (d * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    static func header(_ name: String, in headers: [(String, String)]) -> String? {
        let n = name.lowercased()
        return headers.first { $0.0.lowercased() == n }.map { $0.1.trimmingSpaces() }
    }

    /// Seconds to wait from `retry-after-ms` (preferred) or `retry-after`
    /// (delta-seconds or HTTP date); nil when absent or unparsable.
    public static func retryAfter(headers: [(String, String)], now: Double) -> Double? {
        if let ms = header("retry-after-ms", in: headers), let v = Double(ms), v.isFinite, v >= 0 {
            return v / 1000
        }
        guard let ra = header("retry-after", in: headers) else { return nil }
        if let v = Double(ra), v.isFinite, v >= 0 { return v }
        if let t = HTTPDate.parse(ra) { return max(0, t - now) }
        return nil
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}

/// HTTP dates (RFC 9110 §5.6.7): IMF-fixdate, RFC 850 and asctime forms, to Unix seconds.
public enum HTTPDate {
    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    public static func parse(_ s: String) -> Double? {
        // Tokens split on space, comma and dash: handles
        // "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994".
        let tokens = s.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" }).map(String.init)
        var day: Int?, month: Int?, year: Int?, hms: (Int, Int, Int)?
        for t in tokens {
            if let m = months.firstIndex(of: t.lowercased()) { month = m + 1; continue }
            if t.contains(":") {
                let p = t.split(separator: ":").compactMap { Int($0) }
                guard p.count == 3 else { return nil }
                hms = (p[0], p[1], p[2])
                continue
            }
            if let n = Int(t) {
                if t.count == 4 {
                    year = n
                } else if day == nil {
                    day = n
                } else if year == nil {
                    year = n
                }
            }
        }
        guard let d = day, let mo = month, var y = year, let (h, mi, se) = hms,
              (1...31).contains(d), (0...23).contains(h), (0...59).contains(mi), (0...60).contains(se)
        else { return nil }
        if y < 100 { y += y < 70 ? 2000 : 1900 }
        return Double(daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se)
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}

/// Extracts the provider's error message from an HTTP error body.
public enum ProviderErrorBody {
    /// (error type if given, message) from Anthropic `{"type":"error","error":{"type":..,"message":..}}`,
    /// OpenAI `{"error":{"message":..,"type":..}}`, and the common `{"error":"..."}`,
    /// `{"message":..}` and `{"detail":..}` shapes of compatible servers.
    public static func parse(_ body: [UInt8]) -> (type: String?, message: String)? {
        guard let j = try? JSONValue.parse(body), case .object = j else { return nil }
        if let e = j["error"] {
            if let m = e["message"]?.stringValue {
                return (e["type"]?.stringValue ?? e["code"]?.stringValue, m)
            }
            if let s = e.stringValue { return (nil, s) }
        }
        if let m = j["message"]?.stringValue { return (j["type"]?.stringValue, m) }
        if let d = j["detail"] {
            if let s = d.stringValue { return (nil, s) }
            return (nil, d.serialized())
        }
        return nil
    }

    /// Only the message, or nil.
    public static func message(_ body: [UInt8]) -> String? { parse(body)?.message }

    /// A clear error for a failed HTTP response: the provider's message when the
    /// body has one, else the start of the body. `apiKey`, if given, is redacted.
    public static func error(provider: String, status: Int, body: [UInt8], apiKey: String? = nil) -> ProviderError {
        var e: ProviderError
        if let (type, msg) = parse(body) {
            e = ProviderError(provider: provider, kind: .api(type: type ?? ""), message: msg, status: status)
        } else {
            let text = String(decoding: body, as: UTF8.self).trimmingSpaces().truncated(300)
            e = ProviderError(provider: provider, kind: .http(status: status),
                              message: text.isEmpty ? "empty response body" : text, status: status)
        }
        if let k = apiKey { e = e.redacting(k) }
        return e
    }
}
