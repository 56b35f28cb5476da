import Glibc

/// Knows whether the byte stream fed so far ends inside an escape sequence
/// or a UTF-8 character. A repaint reads terminal modes by injecting query
/// sequences into libvterm; doing that in the middle of the program's own
/// sequence would corrupt it, so the repaint then falls back to the modes
/// it read last time.
///
/// Cost: one memchr pass per feed; bytes are examined one by one only from the
/// last ESC on (or while a sequence is still open), never the whole text.
struct EscapeTracker {
    enum State { case ground, esc, escIntermediate, csi, string, stringEsc }
    private(set) var state: State = .ground
    private(set) var inUTF8 = false

    var isAtBoundary: Bool { state == .ground && !inUTF8 }

    mutating func update(_ buf: UnsafeRawBufferPointer) {
        guard let base = buf.baseAddress, buf.count > 0 else { return }
        let count = buf.count
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        // Find the last ESC with repeated memchr (memrchr is not exported by
        // Glibc's module): vectorised, one call per ESC in the buffer.
        var last: Int? = nil
        var from = 0
        while from < count, let hit = memchr(base + from, 0x1B, count - from) {
            let at = base.distance(to: UnsafeRawPointer(hit))
            last = at
            from = at + 1
        }
        if let start = last {
            state = .ground
            run(bytes, start, count)
        } else if state != .ground {
            run(bytes, 0, count)
        }
        inUTF8 = Self.endsInsideUTF8(bytes, count)
    }

    private mutating func run(_ p: UnsafePointer<UInt8>, _ from: Int, _ to: Int) {
        var i = from
        while i < to {
            let c = p[i]
            switch state {
            case .ground:
                if c == 0x1B { state = .esc }
            case .esc:
                switch c {
                case 0x1B: state = .esc
                case UInt8(ascii: "["): state = .csi
                case UInt8(ascii: "]"), UInt8(ascii: "P"), UInt8(ascii: "_"), UInt8(ascii: "^"), UInt8(ascii: "X"):
                    state = .string
                case 0x20...0x2F: state = .escIntermediate
                case 0x00...0x1F: break  // C0 controls execute inside sequences
                default: state = .ground
                }
            case .escIntermediate:
                switch c {
                case 0x1B: state = .esc
                case 0x20...0x2F, 0x00...0x1F: break
                default: state = .ground
                }
            case .csi:
                switch c {
                case 0x1B: state = .esc
                case 0x18, 0x1A: state = .ground
                case 0x40...0x7E: state = .ground
                default: break
                }
            case .string:
                switch c {
                case 0x07, 0x18, 0x1A: state = .ground
                case 0x1B: state = .stringEsc
                default: break
                }
            case .stringEsc:
                if c == UInt8(ascii: "\\") { state = .ground } else { state = .esc; continue }
            }
            i += 1
        }
    }

    /// True if the buffer ends with the first bytes of a multi-byte UTF-8
    /// character.
    private static func endsInsideUTF8(_ p: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        var back = 0
        while back < 4 && back < count {
            let c = p[count - 1 - back]
            if c & 0xC0 == 0x80 { back += 1; continue }  // continuation byte
            if c < 0x80 { return false }
            let need: Int
            if c & 0xE0 == 0xC0 { need = 2 } else if c & 0xF0 == 0xE0 { need = 3 } else if c & 0xF8 == 0xF0 { need = 4 } else { return false }
            return back + 1 < need
        }
        return false
    }
}
