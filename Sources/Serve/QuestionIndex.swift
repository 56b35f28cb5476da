import AgentHost
import AgentProtocol
import Glibc

/// Each agent's open permission questions (`OpenQuestions`), read from the tail of its events
/// file, where the shim writes the coder's events before any client sees them. Read again only
/// when the file changed, so the page's poll of every agent's status costs a `stat` each.
final class QuestionIndex {
    /// How much of the file's end is read: questions older than this are long answered.
    static let tail = 256 * 1024
    private var known: [String: (device: UInt64, inode: UInt64, size: Int, open: OpenQuestions)] = [:]

    func open(_ eventsPath: String) -> OpenQuestions {
        let fd = Glibc.open(eventsPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { known[eventsPath] = nil; return OpenQuestions() }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return OpenQuestions() }
        let size = Int(st.st_size), device = UInt64(st.st_dev), inode = UInt64(st.st_ino)
        if let k = known[eventsPath], k.device == device, k.inode == inode, k.size == size { return k.open }
        let from = max(0, size - QuestionIndex.tail)
        let bytes = (try? FileIO.pread(fd: fd, count: size - from, offset: UInt64(from), path: eventsPath)) ?? []
        var open = OpenQuestions()
        // A tail that starts mid-file starts mid-line: its first piece is skipped.
        for (i, line) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() where i > 0 || from == 0 {
            guard let record = EventRecord(line: String(decoding: line, as: UTF8.self)) else { continue }
            open.observe(record.event)
        }
        known[eventsPath] = (device, inode, size, open)
        return open
    }
}
