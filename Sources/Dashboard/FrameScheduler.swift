/// When the dashboard draws, decided from the clock alone (so it is tested with a fake one).
///
/// Two kinds of frame. An *output frame* feeds the agents' new output into their screens (the
/// expensive part: terminal emulation) and draws what changed; output frames come at most every
/// `interval` (1/30 s, or 4x the last output frame's cost when that is more), so a flood costs a
/// bounded share of a core. A *key frame* draws only what a key changed, at once: a key never
/// waits for the next output slot, and never pays for feeding output that happens to be due
/// (feeding is budgeted by the time since the last output frame, so a key after a pause would
/// otherwise wait for a large feed). Output that is due when a key comes is drawn
/// by the output frame that follows the key's.
struct FrameScheduler: Equatable {
    static let minInterval = 1.0 / 30
    /// Feeding never makes up for more than this much time: output after a pause (a burst) is
    /// fed for ~4 frames' worth of budget, not the whole pause's (up to 1 s was ~120 ms of
    /// emulation in one frame, which a key then waited behind); older bytes are skipped, and a
    /// tile shows the newest anyway.
    static let maxFeedSeconds = 0.15

    private(set) var lastOutputFrameAt: Double?
    /// Moving average of an output frame's cost, in seconds.
    private(set) var outputFrameCost = 0.0

    /// The shortest time between two output frames.
    var interval: Double { max(Self.minInterval, outputFrameCost * 4) }

    /// Seconds from `now` until the next output frame may be drawn (0: now).
    func outputDelay(now: Double) -> Double {
        guard let last = lastOutputFrameAt else { return 0 }
        return max(0, last + interval - now)
    }

    enum Frame: Equatable {
        /// Draw what a key changed; feed nothing.
        case key
        /// Feed up to `feedSeconds` worth of output (the feeding budget), then draw.
        case output(feedSeconds: Double)
    }

    /// The frame a key draws at `now`: a light one, whether or not output is due (the output
    /// frame the dashboard then asks for comes right after, as `outputDelay` says).
    func keyFrame(now: Double) -> Frame { .key }

    /// The output frame drawn at `now` (when `outputDelay` said): what it may feed.
    mutating func outputFrame(now: Double) -> Frame {
        let since = lastOutputFrameAt.map { min(Self.maxFeedSeconds, max(0, now - $0)) } ?? Self.minInterval
        lastOutputFrameAt = now
        return .output(feedSeconds: since)
    }

    /// An output frame took `cost` seconds (key frames are not counted: they are light).
    mutating func outputFrameEnded(cost: Double) {
        outputFrameCost = outputFrameCost == 0 ? cost : outputFrameCost * 0.7 + cost * 0.3
    }
}
