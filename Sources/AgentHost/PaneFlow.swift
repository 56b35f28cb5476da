/// How the agent's output reaches its pane: as it is while the pane keeps up, and as repaints
/// from the screen state (`PaneMirror`) while output floods or the pane falls behind, at most
/// one per `interval`, as mosh does.
///
/// tmux parses only 1-20 MB/s (it scrolls its grid for every line; CJK text is slowest), on the
/// cores the agent and the shim need: fed a flood as it is, it took a whole core and held `yes`
/// to 5 MB/s through the shim. A repaint costs it a screenful whatever the rate, and shows the
/// person the same picture. Pure: the shim performs the effect each input returns and owns the
/// timer.
struct PaneFlow: Equatable {
    enum State: Equatable {
        /// Output goes to the pane as it is; `windowBytes`: how much since `windowStart`.
        case live(windowStart: Double, windowBytes: Int)
        /// Output is skipped (the screen state has it); `skipped`: bytes since the last repaint
        /// (counting the interval that overflowed). A repaint follows once the pane's queue is
        /// empty, `interval` after the last one.
        case behind(skipped: Int, repaintScheduled: Bool)
    }

    enum Effect: Equatable {
        /// Write this output to the pane.
        case write
        /// Write a repaint to the pane.
        case repaint
        /// Start the timer; when it fires, call `timerFired`.
        case scheduleRepaint(after: Double)
    }

    /// Seconds between repaints: a person cannot read faster than ~20 pictures a second.
    let interval: Double
    /// Output per interval that still goes as it is; more is a flood.
    let burst: Int
    /// Queued bytes past which the pane is behind, whatever the rate.
    let highWater: Int
    private(set) var state: State = .live(windowStart: 0, windowBytes: 0)
    private var lastRepaint = -Double.infinity

    init(interval: Double = 0.05, burst: Int = 16 * 1024, highWater: Int = 256 * 1024) {
        self.interval = interval
        self.burst = burst
        self.highWater = highWater
    }

    /// `count` bytes of output for the pane, which has `queued` bytes not yet written.
    mutating func output(count: Int, queued: Int, now: Double) -> Effect? {
        switch state {
        case .behind(let skipped, let scheduled):
            state = .behind(skipped: skipped + count, repaintScheduled: scheduled)
            return nil
        case .live(var windowStart, var windowBytes):
            if now - windowStart >= interval { windowStart = now; windowBytes = 0 }
            windowBytes += count
            guard queued > highWater || windowBytes > burst else {
                state = .live(windowStart: windowStart, windowBytes: windowBytes)
                return .write
            }
            state = .behind(skipped: windowBytes, repaintScheduled: false)
            return drained(queued: queued, now: now) // nothing may be queued to complete later
        }
    }

    /// A write to the pane completed; `queued` bytes are still to go.
    mutating func drained(queued: Int, now: Double) -> Effect? {
        guard case .behind(let skipped, false) = state, queued == 0 else { return nil }
        let wait = lastRepaint + interval - now
        if wait > 0 {
            state = .behind(skipped: skipped, repaintScheduled: true)
            return .scheduleRepaint(after: wait)
        }
        return repaint(skipped: skipped, now: now)
    }

    /// The repaint timer fired.
    mutating func timerFired(now: Double) -> Effect? {
        guard case .behind(let skipped, true) = state else { return nil }
        return repaint(skipped: skipped, now: now)
    }

    private mutating func repaint(skipped: Int, now: Double) -> Effect? {
        if skipped > burst {
            // Still flooding: repaint, and stay behind until an interval brings little output.
            // The repaint's completion (`drained`) schedules the next one.
            lastRepaint = now
            state = .behind(skipped: 0, repaintScheduled: false)
            return .repaint
        }
        state = .live(windowStart: now, windowBytes: 0)
        guard skipped > 0 else { return nil } // the pane already shows everything
        lastRepaint = now
        return .repaint
    }
}
