/// Turns a terminal byte stream into plain text for `supervisor logs` and log
/// tails: escape sequences and controls go, text and line structure stay.
///
/// Incremental: feed chunks as they come; an escape sequence, a `\r\n` pair
/// or a UTF-8 character split across chunks is handled as if it were whole.
/// Call `finish()` at end of stream to flush a held `\r` or partial character.
///
/// Rules:
/// - CSI (`ESC [` ... final byte 0x40-0x7E) is removed.
/// - OSC (`ESC ]` ...) is removed up to BEL or ST (`ESC \`).
/// - DCS/SOS/PM/APC (`ESC P`/`X`/`^`/`_`) strings are removed up to ST (or BEL).
/// - Other escapes (`ESC 7`, `ESC ( B`, `ESC # 8`...) are removed.
/// - 8-bit C1 bytes (0x80-0x9F) are dropped only when they are not part of a
///   UTF-8 character; 8-bit C1 never starts a sequence, as in a UTF-8 terminal.
/// - C0 controls except `\n` and `\t` are dropped (backspace erases nothing).
/// - `\r\n` becomes `\n`; a lone `\r` (or a run of them) becomes `\n`. A `\r`
///   followed by removed sequences and then `\n` still counts as `\r\n`.
public struct TerminalTextStripper {
    private enum State {
        case ground
        case escape
        case escapeIntermediate
        case csi
        case string
        case stringEscape
    }

    private var state: State = .ground
    private var pendingCR = false
    /// Bytes of a UTF-8 character seen so far and how many more it needs.
    private var utf8: [UInt8] = []
    private var utf8Needed = 0

    public init() {}

    /// Strips a whole buffer in one go.
    public static func strip(_ bytes: [UInt8]) -> [UInt8] {
        var s = TerminalTextStripper()
        return s.feed(bytes) + s.finish()
    }

    /// Strips a whole string in one go.
    public static func strip(_ text: String) -> String {
        String(decoding: strip(Array(text.utf8)), as: UTF8.self)
    }

    public mutating func feed(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { feed($0) }
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for b in bytes { step(b, &out) }
        return out
    }

    /// Ends the stream: a held `\r` becomes `\n`, a partial UTF-8 character is
    /// emitted as is (decoders show it as U+FFFD). The stripper is reset.
    public mutating func finish() -> [UInt8] {
        var out: [UInt8] = []
        flushUTF8(&out)
        if pendingCR { out.append(0x0A) }
        self = TerminalTextStripper()
        return out
    }

    private mutating func emit(_ b: UInt8, _ out: inout [UInt8]) {
        if pendingCR {
            pendingCR = false
            out.append(0x0A)
            if b == 0x0A { return }
        }
        out.append(b)
    }

    private mutating func flushUTF8(_ out: inout [UInt8]) {
        if utf8.isEmpty { return }
        let partial = utf8
        utf8.removeAll()
        utf8Needed = 0
        for b in partial { emit(b, &out) }
    }

    /// C0 controls: the only ones that survive are LF and TAB; CR is held.
    private mutating func control(_ b: UInt8, _ out: inout [UInt8]) {
        switch b {
        case 0x0A, 0x09: emit(b, &out)
        case 0x0D: pendingCR = true
        default: break
        }
    }

    private mutating func step(_ b: UInt8, _ out: inout [UInt8]) {
        switch state {
        case .ground:
            ground(b, &out)

        case .escape:
            switch b {
            case 0x5B: state = .csi                       // [
            case 0x5D, 0x50, 0x58, 0x5E, 0x5F: state = .string  // ] P X ^ _
            case 0x20...0x2F: state = .escapeIntermediate
            case 0x30...0x7E: state = .ground             // two-char escape
            case 0x1B: break                              // ESC ESC: restart
            case 0x18, 0x1A: state = .ground              // CAN/SUB cancel
            case 0x00...0x1F: control(b, &out)            // executed, escape continues
            default:                                      // not an escape after all
                state = .ground
                ground(b, &out)
            }

        case .escapeIntermediate:
            switch b {
            case 0x20...0x2F: break
            case 0x30...0x7E: state = .ground
            case 0x1B: state = .escape
            case 0x18, 0x1A: state = .ground
            case 0x00...0x1F: control(b, &out)
            default:
                state = .ground
                ground(b, &out)
            }

        case .csi:
            switch b {
            case 0x20...0x3F: break                       // parameters, intermediates
            case 0x40...0x7E: state = .ground             // final byte
            case 0x1B: state = .escape
            case 0x18, 0x1A: state = .ground
            case 0x00...0x1F: control(b, &out)
            case 0x7F: break
            default:                                      // malformed: give the text back
                state = .ground
                ground(b, &out)
            }

        case .string:
            switch b {
            case 0x07: state = .ground
            case 0x1B: state = .stringEscape
            case 0x18, 0x1A: state = .ground
            default: break
            }

        case .stringEscape:
            if b == 0x5C {                                // ST = ESC \
                state = .ground
            } else {
                // The ESC aborted the string and starts a new sequence.
                state = .escape
                step(b, &out)
            }
        }
    }

    private mutating func ground(_ b: UInt8, _ out: inout [UInt8]) {
        if utf8Needed > 0 {
            if b & 0xC0 == 0x80 {
                utf8.append(b)
                utf8Needed -= 1
                if utf8Needed == 0 { flushUTF8(&out) }
                return
            }
            flushUTF8(&out)  // broken character: keep what we had, then handle b
        }
        switch b {
        case 0x1B:
            state = .escape
        case 0x00...0x1F:
            control(b, &out)
        case 0x7F:
            break
        case 0x20...0x7E:
            emit(b, &out)
        case 0x80...0x9F:
            break                                         // stray C1 / continuation
        case 0xC2...0xDF:
            utf8 = [b]; utf8Needed = 1
        case 0xE0...0xEF:
            utf8 = [b]; utf8Needed = 2
        case 0xF0...0xF4:
            utf8 = [b]; utf8Needed = 3
        default:
            emit(b, &out)                                 // invalid byte, kept for U+FFFD
        }
    }
}
