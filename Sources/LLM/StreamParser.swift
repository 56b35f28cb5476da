// From response bytes to neutral StreamEvents.

/// Turns decoded SSE events into neutral stream events.
public protocol StreamEventDecoder {
    /// Provider name used in errors.
    var provider: String { get }
    mutating func decode(_ event: SSEEvent) -> [StreamEvent]
    /// Called at the end of the body; reports a truncated stream as `.error`.
    mutating func finish() -> [StreamEvent]
}

/// Bytes in, neutral events out: an SSE decoder plus a provider decoder.
/// Also reports a body that is not an event stream (e.g. a JSON error page).
public struct StreamParser {
    public private(set) var sse = SSEDecoder()
    public private(set) var decoder: any StreamEventDecoder
    private var head: [UInt8] = []
    private var finished = false

    public init(decoder: any StreamEventDecoder) {
        self.decoder = decoder
    }

    public init(api: WireAPI) {
        self.decoder = api.makeStreamDecoder()
    }

    public mutating func feed(_ bytes: [UInt8]) -> [StreamEvent] {
        if head.count < 2048 { head += bytes.prefix(2048 - head.count) }
        var out: [StreamEvent] = []
        for e in sse.feed(bytes) { out += decoder.decode(e) }
        return out
    }

    public mutating func finish() -> [StreamEvent] {
        guard !finished else { return [] }
        finished = true
        if sse.dispatchedEvents == 0 {
            let trimmed = head.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
            if !trimmed.isEmpty && sse.recognizedLines == 0 {
                var msg = "response body is not an event stream"
                if let (type, m) = ProviderErrorBody.parse(Array(trimmed)) {
                    msg += ": " + (type.map { $0 + ": " } ?? "") + m
                } else {
                    msg += ": " + String(decoding: trimmed, as: UTF8.self).truncated(200)
                }
                _ = sse.finish()
                return [.error(ProviderError(provider: decoder.provider, kind: .notEventStream, message: msg))]
            }
        }
        _ = sse.finish()
        return decoder.finish()
    }
}
