/// One stream client's place in an agent's output, so that what it gets is the log from its
/// chosen offset on, byte for byte, with no gap and no overlap between replay and live.
///
/// The shim writes every chunk to the log before it sends it, so whatever a live frame carries
/// is already in the log: the client reads the log until it reaches its end, then takes live
/// frames; a live frame that starts past what the client has (it was slow, or the shim came
/// back after bytes it did not see) sends it back to the log, one that starts before is trimmed.
/// Pure: the hub feeds it frames and log reads and does what it answers.
public struct StreamCursor: Equatable, Sendable {
    public enum Mode: Equatable, Sendable {
        /// Reading the log: live frames are ignored (the log has them).
        case catchingUp
        /// At the end of the log: live frames go out as they come.
        case live
    }

    /// The offset of the next byte the client needs.
    public private(set) var next: UInt64
    public private(set) var mode: Mode = .catchingUp

    public init(from offset: UInt64) { next = offset }

    /// A live chunk from the shim. Returns what to send (offset and the slice of `count` bytes
    /// starting at `offset` to send, as a start index into the chunk), or nil to send nothing.
    /// `canQueue` false (the client is behind) sends the client back to the log instead.
    public mutating func live(offset: UInt64, count: Int, canQueue: Bool) -> (offset: UInt64, skip: Int)? {
        guard mode == .live else { return nil }
        let end = offset + UInt64(count)
        if end <= next { return nil }
        if offset > next || !canQueue {
            mode = .catchingUp
            return nil
        }
        let skip = Int(next - offset)
        next = end
        return (next - UInt64(count - skip), skip)
    }

    /// Reads the log again up to its end before taking live frames: the live feed began only
    /// now (a new subscription), so the log may hold bytes no frame will bring.
    public mutating func recheck() {
        mode = .catchingUp
    }

    /// The client got `count` log bytes that really start at `offset` (later than `next` when
    /// older bytes were rotated away: a gap the client is told of). `reachedEnd`: the read
    /// stopped at the end of the log, so live frames take over.
    public mutating func read(offset: UInt64, count: Int, reachedEnd: Bool) -> (gapFrom: UInt64, gapTo: UInt64)? {
        let gap = offset > next ? (next, offset) : nil
        next = max(next, offset + UInt64(count))
        if reachedEnd { mode = .live }
        return gap
    }
}
