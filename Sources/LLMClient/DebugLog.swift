import Glibc
import LLM
import Loop

/// Debug mode: every request and response appended to a file as JSON lines. Secret headers are
/// redacted by name and the API key by value, wherever it would appear.
///
/// Writes are synchronous appends (O_APPEND, one write per line): debug mode only.
final class DebugLog {
    let path: String
    private let secret: String?
    private var fd: Int32 = -1

    init(path: String, secret: String?) {
        self.path = path
        self.secret = secret
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    static func headers(_ hs: [(String, String)]) -> JSONValue {
        .array(hs.map { name, value in
            let v = HTTPRequestSpec.secretHeaderNames.contains(name.lowercased()) ? "[REDACTED]" : value
            return ["name": .string(name), "value": .string(v)]
        })
    }

    func write(_ entry: [String: JSONValue]) {
        guard fd >= 0 else { return }
        var o = entry
        o["time"] = .number((EventLoopClock.unixSeconds() * 1000).rounded() / 1000)
        var line = JSONValue.object(o).serialized()
        if let secret, secret.count >= 4 { line = line.replacing(secret, with: "[REDACTED]") }
        line += "\n"
        Posix.writeAll(fd, line)
    }
}

enum EventLoopClock {
    static func unixSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
