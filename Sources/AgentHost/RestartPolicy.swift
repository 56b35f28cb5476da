
/// How an agent process ended.
///
/// Encoded as `{"code":N}` or `{"signal":N}` so state files and events are
/// easy to read with jq.
public enum ExitStatus: Codable, Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// Exit 0 is success; any other code or any signal is a failure. A signal
    /// the supervisor sent itself (a requested stop) is the caller's business.
    public var isFailure: Bool {
        switch self {
        case .exited(let code): return code != 0
        case .signaled: return true
        }
    }

    /// Decodes a raw `waitpid` status word (Linux layout).
    public init(waitStatus status: Int32) {
        let sig = status & 0x7F
        if sig == 0 {
            self = .exited((status >> 8) & 0xFF)
        } else {
            self = .signaled(sig)
        }
    }

    /// Shell convention: the code, or 128 + signal.
    public var shellCode: Int32 {
        switch self {
        case .exited(let c): return c
        case .signaled(let s): return 128 + s
        }
    }

    public var description: String {
        switch self {
        case .exited(let c): return "exit code \(c)"
        case .signaled(let s): return "signal \(s)"
        }
    }

    private enum CodingKeys: String, CodingKey { case code, signal }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let code = try c.decodeIfPresent(Int32.self, forKey: .code) {
            self = .exited(code)
        } else if let sig = try c.decodeIfPresent(Int32.self, forKey: .signal) {
            self = .signaled(sig)
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "exit status needs \"code\" or \"signal\""))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .exited(let code): try c.encode(code, forKey: .code)
        case .signaled(let sig): try c.encode(sig, forKey: .signal)
        }
    }
}

/// Restart settings. Times are seconds.
public struct RestartPolicy: Codable, Equatable, Sendable {
    /// The profile's `restart` values (Profile's `RestartMode`, which this module cannot see).
    public enum Mode: String, Codable, CaseIterable, Sendable {
        case never
        case onFailure = "on-failure"
        case always
    }

    public var mode: Mode
    /// First delay; doubles for each consecutive restart.
    public var backoffInitial: Double
    /// Cap on the delay. A run that lasts longer than this counts as healthy
    /// and resets the doubling.
    public var backoffMax: Double
    /// Restarts allowed within `window` before giving up; 0 = none (a profile checks it is
    /// at most 1,000,000: there is no "unlimited").
    public var maxRestarts: Int
    /// Sliding window for `maxRestarts`.
    public var window: Double

    public init(mode: Mode, backoffInitial: Double = 1, backoffMax: Double = 60,
                maxRestarts: Int = 5, window: Double = 300) {
        self.mode = mode
        self.backoffInitial = backoffInitial
        self.backoffMax = backoffMax
        self.maxRestarts = maxRestarts
        self.window = window
    }
}

public enum RestartDecision: Equatable, Sendable {
    /// Start the agent again after this many seconds.
    case restart(after: Double)
    /// The policy does not restart this exit; the agent stays exited.
    case done
    /// Too many restarts within the window; the agent is failed.
    case giveUp(reason: String)
}

/// The restart bookkeeping for one agent. Pure: time and randomness come in
/// as arguments so tests are exact and the shim drives it from its loop.
public struct RestartTracker: Sendable {
    public let policy: RestartPolicy
    /// Times of restarts still inside the window.
    public private(set) var recentRestarts: [Double] = []
    /// Consecutive quick restarts so far (the backoff exponent).
    public private(set) var consecutive: Int = 0
    /// All restarts decided by this tracker.
    public private(set) var totalRestarts: Int = 0
    /// When the current run started, if known.
    public private(set) var runStartedAt: Double?

    public init(policy: RestartPolicy) {
        self.policy = policy
    }

    /// Records the start of a run so its length can reset the backoff. If it
    /// is never called, the start is assumed to be when the restart delay ended.
    public mutating func runStarted(at now: Double) {
        runStartedAt = now
    }

    /// Forgets history, e.g. after an explicit `start`/`restart` by a person.
    public mutating func reset() {
        recentRestarts.removeAll()
        consecutive = 0
        runStartedAt = nil
    }

    /// Decides what to do about an exit at time `now`. `random` returns a
    /// value in [0, 1) for jitter: delay = base/2 + random()*base/2 where base
    /// = min(backoffInitial * 2^consecutive, backoffMax), never below backoffInitial (the
    /// shortest wait the profile asked for).
    public mutating func decide(exit: ExitStatus, now: Double, random: () -> Double) -> RestartDecision {
        switch policy.mode {
        case .never: return .done
        case .onFailure where !exit.isFailure: return .done
        default: break
        }
        recentRestarts.removeAll { now - $0 >= policy.window }
        if let started = runStartedAt, now - started > policy.backoffMax {
            consecutive = 0
        }
        if recentRestarts.count >= policy.maxRestarts {
            return .giveUp(reason: "restarted \(recentRestarts.count) times within \(Self.format(policy.window))s; last \(exit)")
        }
        let exponent = min(consecutive, 62)
        let base = min(policy.backoffInitial * Double(1 << UInt64(exponent)), policy.backoffMax)
        let r = min(max(random(), 0), 1)
        let delay = max(base / 2 + r * base / 2, min(policy.backoffInitial, policy.backoffMax))
        consecutive += 1
        totalRestarts += 1
        recentRestarts.append(now)
        runStartedAt = now + delay
        return .restart(after: delay)
    }

    private static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}
