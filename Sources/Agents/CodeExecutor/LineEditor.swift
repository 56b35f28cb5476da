import Glibc
import Loop

/// Reads the person's messages from the agent's terminal, one line at a time, with line
/// editing: ←/→, Home/End (Ctrl-A/E), Backspace/Delete, Ctrl-U/K/W, ↑/↓ history, Ctrl-C clears
/// the line, Ctrl-D on an empty line ends input. A bracketed paste (what `supervisor send`
/// types) is inserted as is, newlines included, and Enter sends it. The terminal is raw only
/// while a line is being read. When stdin is not a terminal, lines are read as they come.
public final class LineEditor {
    public let loop: EventLoop
    private let tty: TTYStream?
    private let pipe: PipeStream?
    private let out: Int32
    private var completion: ((String?) -> Void)?
    private var prompt = ""
    private var buffer: [Character] = []
    private var cursor = 0
    private var history: [String] = []
    private var historyIndex = 0
    private var pending: [UInt8] = []
    private var pasting = false
    private var eof = false
    private var lineQueue: [String] = []

    public init(loop: EventLoop, inputFD: Int32 = 0, outputFD: Int32 = 1) throws {
        self.loop = loop
        out = outputFD
        if isatty(inputFD) == 1 {
            tty = try TTYStream(loop: loop, fd: inputFD)
            pipe = nil
        } else {
            tty = nil
            pipe = try PipeStream(loop: loop, fd: inputFD)
        }
    }

    public var isTerminal: Bool { tty != nil }

    /// Reads one line; `completion(nil)` at end of input.
    public func readLine(prompt: String, _ completion: @escaping (String?) -> Void) {
        self.prompt = prompt
        self.completion = completion
        buffer = []
        cursor = 0
        historyIndex = history.count
        if let tty {
            try? tty.setMode(.raw)
            write("\u{1b}[?2004h")
            redraw()
            startReading()
            if !pending.isEmpty { let p = pending; pending = []; feed(p) }
        } else {
            write(prompt)
            if let line = lineQueue.first { lineQueue.removeFirst(); deliver(line); return }
            if eof { deliver(nil); return }
            startReading()
        }
    }

    /// Stops reading (restores the terminal).
    public func close() {
        if let tty {
            if completion != nil { write("\u{1b}[?2004l") }
            try? tty.setMode(.normal)
            tty.close()
        }
        pipe?.close()
    }

    private var reading = false

    private func startReading() {
        guard !reading else { return }
        reading = true
        let stream: ByteStream = tty ?? pipe!
        try? stream.startReading { [weak self] r in
            guard let self else { return }
            switch r {
            case .data(let bytes):
                if self.tty != nil { self.feed(Array(bytes)) } else { self.feedPipe(Array(bytes)) }
            case .eof, .error:
                self.eof = true
                self.reading = false
                stream.stopReading()
                if self.tty != nil {
                    if self.completion != nil { self.deliver(nil) }
                } else {
                    if !self.pending.isEmpty { self.lineQueue.append(String(decoding: self.pending, as: UTF8.self)); self.pending = [] }
                    if self.completion != nil {
                        if let line = self.lineQueue.first { self.lineQueue.removeFirst(); self.deliver(line) } else { self.deliver(nil) }
                    }
                }
            }
        }
    }

    private func stopReading() {
        guard reading else { return }
        reading = false
        (tty as ByteStream? ?? pipe)?.stopReading()
    }

    private func feedPipe(_ bytes: [UInt8]) {
        pending += bytes
        while let nl = pending.firstIndex(of: 0x0a) {
            var line = Array(pending[..<nl])
            if line.last == 0x0d { line.removeLast() }
            pending.removeFirst(nl + 1)
            lineQueue.append(String(decoding: line, as: UTF8.self))
        }
        if completion != nil, let line = lineQueue.first {
            lineQueue.removeFirst()
            deliver(line)
        }
    }

    private func deliver(_ line: String?) {
        let c = completion
        completion = nil
        if let tty {
            write("\u{1b}[?2004l")
            try? tty.setMode(.normal)
            stopReading()
        } else if lineQueue.isEmpty || line == nil {
            stopReading()
        }
        if let line, !line.isEmpty, history.last != line { history.append(line) }
        c?(line)
    }

    // MARK: Terminal input

    private func feed(_ bytes: [UInt8]) {
        var i = 0
        let all = pending + bytes
        pending = []
        while i < all.count {
            guard completion != nil else { pending = Array(all[i...]); return }
            let b = all[i]
            if pasting {
                if let end = findSequence(all, from: i, [0x1b, 0x5b, 0x32, 0x30, 0x31, 0x7e]) { // ESC[201~
                    insert(decodeText(Array(all[i..<end])))
                    pasting = false
                    i = end + 6
                    continue
                }
                // The end marker may be split across reads: keep a possible prefix.
                let keepFrom = max(i, all.count - 5)
                insert(decodeText(Array(all[i..<keepFrom])))
                pending = Array(all[keepFrom...])
                return
            }
            if b == 0x1b {
                guard let (length, key) = parseEscape(all, at: i) else { pending = Array(all[i...]); return }
                i += length
                handle(key)
                continue
            }
            if b < 0x20 || b == 0x7f {
                i += 1
                handleControl(b)
                continue
            }
            // UTF-8 text up to the next control byte.
            var j = i
            while j < all.count, all[j] >= 0x20, all[j] != 0x7f { j += 1 }
            var chunk = Array(all[i..<j])
            // An incomplete UTF-8 sequence at the end waits for the next read.
            let incomplete = incompleteSuffix(chunk)
            if incomplete > 0 && j == all.count {
                pending = Array(chunk.suffix(incomplete))
                chunk.removeLast(incomplete)
                insert(String(decoding: chunk, as: UTF8.self))
                return
            }
            insert(String(decoding: chunk, as: UTF8.self))
            i = j
        }
    }

    private enum Key { case left, right, up, down, home, end, delete, pasteStart, ignore }

    private func parseEscape(_ b: [UInt8], at i: Int) -> (Int, Key)? {
        guard i + 1 < b.count else { return nil }
        if b[i + 1] == 0x4f { // ESC O x
            guard i + 2 < b.count else { return nil }
            switch b[i + 2] {
            case 0x48: return (3, .home)
            case 0x46: return (3, .end)
            case 0x43: return (3, .right)
            case 0x44: return (3, .left)
            default: return (3, .ignore)
            }
        }
        guard b[i + 1] == 0x5b else { return (2, .ignore) } // Alt-x
        var j = i + 2
        while j < b.count, (0x30...0x3f).contains(b[j]) { j += 1 }
        guard j < b.count else { return nil }
        let params = String(decoding: b[(i + 2)..<j], as: UTF8.self)
        let final = b[j]
        let length = j - i + 1
        switch final {
        case 0x41: return (length, .up)
        case 0x42: return (length, .down)
        case 0x43: return (length, .right)
        case 0x44: return (length, .left)
        case 0x48: return (length, .home)
        case 0x46: return (length, .end)
        case 0x7e:
            switch params {
            case "200": return (length, .pasteStart)
            case "3": return (length, .delete)
            case "1", "7": return (length, .home)
            case "4", "8": return (length, .end)
            default: return (length, .ignore)
            }
        default: return (length, .ignore)
        }
    }

    private func handle(_ key: Key) {
        switch key {
        case .left: if cursor > 0 { cursor -= 1 }
        case .right: if cursor < buffer.count { cursor += 1 }
        case .home: cursor = 0
        case .end: cursor = buffer.count
        case .delete: if cursor < buffer.count { buffer.remove(at: cursor) }
        case .up:
            guard historyIndex > 0 else { return }
            historyIndex -= 1
            buffer = Array(history[historyIndex]); cursor = buffer.count
        case .down:
            guard historyIndex < history.count else { return }
            historyIndex += 1
            buffer = historyIndex == history.count ? [] : Array(history[historyIndex]); cursor = buffer.count
        case .pasteStart: pasting = true; return
        case .ignore: return
        }
        redraw()
    }

    private func handleControl(_ b: UInt8) {
        switch b {
        case 0x0d, 0x0a: // Enter
            let line = String(buffer)
            write("\r\n")
            deliver(line)
            return
        case 0x03: // Ctrl-C: drop the line
            write("^C\r\n")
            buffer = []; cursor = 0
        case 0x04: // Ctrl-D
            if buffer.isEmpty { write("\r\n"); deliver(nil); return }
            if cursor < buffer.count { buffer.remove(at: cursor) }
        case 0x7f, 0x08: if cursor > 0 { buffer.remove(at: cursor - 1); cursor -= 1 }
        case 0x01: cursor = 0
        case 0x05: cursor = buffer.count
        case 0x02: if cursor > 0 { cursor -= 1 }
        case 0x06: if cursor < buffer.count { cursor += 1 }
        case 0x15: buffer.removeFirst(cursor); cursor = 0
        case 0x0b: buffer.removeLast(buffer.count - cursor)
        case 0x17: // Ctrl-W: the word before the cursor
            var start = cursor
            while start > 0, buffer[start - 1] == " " { start -= 1 }
            while start > 0, buffer[start - 1] != " " { start -= 1 }
            buffer.removeSubrange(start..<cursor); cursor = start
        case 0x0c: write("\u{1b}[H\u{1b}[2J")
        default: return
        }
        redraw()
    }

    private func insert(_ text: String) {
        guard !text.isEmpty else { return }
        let chars = Array(text.replacingCRLF())
        buffer.insert(contentsOf: chars, at: cursor)
        cursor += chars.count
        redraw()
    }

    private func redraw() {
        func shown(_ c: ArraySlice<Character>) -> String { String(c).replacingNewlines() }
        let after = shown(buffer[cursor...])
        var s = "\r\u{1b}[K" + prompt + shown(buffer[..<cursor]) + after
        let back = after.count
        if back > 0 { s += "\u{1b}[\(back)D" }
        write(s)
    }

    private func write(_ s: String) {
        Posix.writeAll(out, s)
    }

    private func decodeText(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    private func findSequence(_ b: [UInt8], from: Int, _ seq: [UInt8]) -> Int? {
        guard b.count >= seq.count else { return nil }
        var i = from
        while i + seq.count <= b.count {
            if b[i] == seq[0] && Array(b[i..<(i + seq.count)]) == seq { return i }
            i += 1
        }
        return nil
    }

    /// Bytes at the end that start a UTF-8 sequence not yet complete.
    private func incompleteSuffix(_ b: [UInt8]) -> Int {
        var n = 0
        for k in stride(from: b.count - 1, through: max(0, b.count - 4), by: -1) {
            let byte = b[k]
            n += 1
            if byte & 0xC0 == 0x80 { continue }
            let need = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
            return need > n ? n : 0
        }
        return 0
    }
}

extension String {
    func replacingCRLF() -> String {
        var s = ""
        var lastCR = false
        for u in unicodeScalars {
            if u == "\r" { s.unicodeScalars.append("\n"); lastCR = true; continue }
            if u == "\n" && lastCR { lastCR = false; continue }
            lastCR = false
            s.unicodeScalars.append(u)
        }
        return s
    }

    func replacingNewlines() -> String {
        String(String.UnicodeScalarView(unicodeScalars.map { $0 == "\n" ? "↵" : $0 }))
    }
}
