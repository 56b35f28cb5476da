/// Output for the shim's subscribers, gathered while the pty hands a burst over in pieces.
///
/// Linux's pty line discipline holds 4 KiB, so a program's 16 KB write reaches the shim as four
/// reads. Sent as they come, each is a frame to every subscriber, and for `serve` a WebSocket
/// message to every remote client: with 20 clients of 10 agents at 1 MB/s that was ~55 000
/// messages a second, serve's main cost. A read that filled the line discipline means more is
/// on its way, so it waits (at most `maxDelayMilliseconds`, at most `maxBytes`); any other read
/// (an echo, a prompt, the end of a burst) goes at once with whatever waited. The log is not
/// batched: every read is written before the next one.
struct OutputBatch: Equatable {
    /// A read this long filled the pty's line discipline (N_TTY_BUF_SIZE 4096, one byte kept).
    static let fullRead = 4095
    let maxBytes: Int
    let maxDelayMilliseconds: UInt64
    /// The log offset of the first byte gathered.
    private(set) var offset: UInt64 = 0
    private(set) var bytes: [UInt8] = []

    init(maxBytes: Int = 64 * 1024, maxDelayMilliseconds: UInt64 = 1) {
        self.maxBytes = maxBytes
        self.maxDelayMilliseconds = maxDelayMilliseconds
    }

    enum Decision: Equatable {
        /// Send what `take` returns now.
        case send
        /// Wait for the next read; send when the timer (`maxDelayMilliseconds`) fires first.
        case wait(startTimer: Bool)
    }

    /// Whether a chunk logged at `offset` continues what is gathered (else send that first).
    func continues(at offset: UInt64) -> Bool {
        bytes.isEmpty || self.offset + UInt64(bytes.count) == offset
    }

    /// Gathers `chunk`, logged at `offset` (which `continues(at:)`), read as `readCount` bytes.
    mutating func add(offset: UInt64, _ chunk: UnsafeRawBufferPointer, readCount: Int) -> Decision {
        if bytes.isEmpty { self.offset = offset }
        let wasEmpty = bytes.isEmpty
        bytes.append(contentsOf: chunk)
        if readCount < OutputBatch.fullRead || bytes.count >= maxBytes { return .send }
        return .wait(startTimer: wasEmpty)
    }

    /// What was gathered, emptied; nil when nothing was.
    mutating func take() -> (offset: UInt64, bytes: [UInt8])? {
        guard !bytes.isEmpty else { return nil }
        defer { bytes = [] }
        return (offset, bytes)
    }
}
