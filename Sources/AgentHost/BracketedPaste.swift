import Glibc
/// Follows whether the agent's terminal program has turned on bracketed paste
/// (DEC private mode 2004), by watching its output, so a paste can be
/// delivered as one submission instead of one line per Enter.
///
/// Recognises `ESC [ ? ... h` / `ESC [ ? ... l` with 2004 anywhere in the
/// parameter list (`ESC[?1049;2004h`), split across chunks. A full reset
/// (`ESC c`) turns it off. Call `reset()` when the agent process restarts.
public struct BracketedPasteTracker {
    public private(set) var enabled: Bool = false

    /// No state for the rest of other sequences: until their final byte they cannot hold an
    /// ESC that does not begin a new sequence, so skipping to the next ESC (ground) is the same
    /// and lets `memchr` skip their bytes.
    private enum State { case ground, escape, csiStart, privateParams }
    private var state: State = .ground
    private var param: Int = 0
    private var sawParamDigit = false
    private var has2004 = false

    public init(enabled: Bool = false) {
        self.enabled = enabled
    }

    /// Forget everything: a new process starts with bracketed paste off.
    public mutating func reset() {
        self = BracketedPasteTracker()
    }

    public mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// On the shim's hot path: in the ground state, memchr skips straight to the next ESC, so
    /// plain text costs almost nothing.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        var index = 0
        while index < bytes.count {
            if case .ground = state {
                guard let escape = memchr(base + index, 0x1B, bytes.count - index) else { return }
                index = base.distance(to: UnsafeRawPointer(escape))
                // ESC [ and anything but '?' (colours, cursor moves: most of what a terminal
                // program writes) leaves the mode alone: on to the next ESC at once.
                if index + 2 < bytes.count && bytes[index + 1] == 0x5B && bytes[index + 2] != 0x3F && bytes[index + 2] != 0x1B {
                    index += 3
                    continue
                }
            }
            step(bytes[index])
            index += 1
        }
    }

    private mutating func step(_ b: UInt8) {
        switch state {
        case .ground:
            if b == 0x1B { state = .escape }
        case .escape:
            switch b {
            case 0x5B: state = .csiStart
            case 0x63: enabled = false; state = .ground   // RIS
            case 0x1B: break
            default: state = .ground
            }
        case .csiStart:
            if b == 0x3F {                                 // '?'
                state = .privateParams
                param = 0; sawParamDigit = false; has2004 = false
            } else if b == 0x1B {
                state = .escape
            } else {
                state = .ground                            // some other control sequence
            }
        case .privateParams:
            switch b {
            case 0x30...0x39:
                param = min(param * 10 + Int(b - 0x30), 1_000_000)
                sawParamDigit = true
            case 0x3B:                                     // ';'
                endParam()
            case 0x68, 0x6C:                               // 'h' / 'l'
                endParam()
                if has2004 { enabled = (b == 0x68) }
                state = .ground
            case 0x1B:
                state = .escape
            case 0x40...0x7E:
                state = .ground                            // some other private sequence
            case 0x20...0x2F, 0x3A...0x3F:
                state = .ground                            // not a plain mode list
            default:
                break                                      // C0 inside CSI is executed, ignored here
            }
        }
    }

    private mutating func endParam() {
        if sawParamDigit && param == 2004 { has2004 = true }
        param = 0
        sawParamDigit = false
    }

    /// Paste start marker `ESC[200~`.
    public static let pasteStart: [UInt8] = [0x1B, 0x5B, 0x32, 0x30, 0x30, 0x7E]
    /// Paste end marker `ESC[201~`.
    public static let pasteEnd: [UInt8] = [0x1B, 0x5B, 0x32, 0x30, 0x31, 0x7E]

    /// The bytes to type so `text` arrives as one submission.
    ///
    /// Bracketed: `ESC[200~` text `ESC[201~` `\r`; any `ESC[201~` inside the
    /// text is removed (repeatedly) so the text cannot end the paste early and
    /// smuggle in keystrokes. Not bracketed: the text as typed, each `\n`
    /// (or `\r\n`) becoming `\r`, then a final `\r`.
    public static func pasteBytes(text: String, bracketed: Bool) -> [UInt8] {
        var body = Array(text.utf8)
        if bracketed {
            while let r = firstRange(of: pasteEnd, in: body) {
                body.removeSubrange(r)
            }
            return pasteStart + body + pasteEnd + [0x0D]
        }
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 1)
        var i = 0
        while i < body.count {
            let b = body[i]
            if b == 0x0D && i + 1 < body.count && body[i + 1] == 0x0A {
                out.append(0x0D)
                i += 2
                continue
            }
            out.append(b == 0x0A ? 0x0D : b)
            i += 1
        }
        out.append(0x0D)
        return out
    }

    private static func firstRange(of needle: [UInt8], in hay: [UInt8]) -> Range<Int>? {
        guard hay.count >= needle.count else { return nil }
        var i = 0
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle {
                return i..<(i + needle.count)
            }
            i += 1
        }
        return nil
    }
}
