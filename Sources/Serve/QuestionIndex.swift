import AgentHost
import AgentProtocol
import Glibc

/// Each agent's open permission questions (`OpenQuestions`), from its events file, where the
/// shim writes the coder's events before any client sees them. The page polls every agent's
/// status each second, so a file is read once: a poll reads only the lines added since the
/// last (a `stat` when nothing was), and a new file (rotated, replaced) from its last
/// `tail` bytes (questions older than that are long answered).
final class QuestionIndex {
    static let tail = 256 * 1024
    private struct Known { var device: UInt64; var inode: UInt64; var end: Int; var open: OpenQuestions }
    private var known: [String: Known] = [:]

    func open(_ eventsPath: String) -> OpenQuestions {
        let fd = Glibc.open(eventsPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { known[eventsPath] = nil; return OpenQuestions() }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return OpenQuestions() }
        let size = Int(st.st_size), device = UInt64(st.st_dev), inode = UInt64(st.st_ino)
        var state: Known
        var midLine = false
        if let k = known[eventsPath], k.device == device, k.inode == inode, k.end <= size, size - k.end <= QuestionIndex.tail {
            if k.end == size { return k.open }
            state = k
        } else {
            state = Known(device: device, inode: inode, end: max(0, size - QuestionIndex.tail), open: OpenQuestions())
            midLine = state.end > 0
        }
        let bytes = (try? FileIO.pread(fd: fd, count: size - state.end, offset: UInt64(state.end), path: eventsPath)) ?? []
        // Whole lines only; a line being written is read with the next poll.
        guard let lastNewline = bytes.lastIndex(of: 0x0A) else { known[eventsPath] = state; return state.open }
        for (i, line) in bytes[...lastNewline].split(separator: 0x0A).enumerated() where !(midLine && i == 0) {
            // Only these types change what is open; the rest are not parsed.
            guard QuestionIndex.markers.contains(where: { line.contains($0) }),
                  let record = EventRecord(line: String(decoding: line, as: UTF8.self)) else { continue }
            state.open.observe(record.event)
        }
        state.end += lastNewline + 1
        known[eventsPath] = state
        return state.open
    }

    private static let markers = [#""type":"permission"#, #""type":"start""#, #""type":"exit""#].map { Array($0.utf8) }
}

extension ArraySlice where Element == UInt8 {
    fileprivate func contains(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count, let first = needle.first else { return needle.isEmpty }
        var i = startIndex
        while i <= endIndex - needle.count {
            if self[i] == first, self[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}
