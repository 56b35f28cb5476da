import AgentHost
import AgentProtocol
import Glibc

/// Whole lines of an agent's events file from a byte offset, each with the offset it starts at:
/// the events file is the truth a stream's events come from, so a client that read the file up
/// to an offset (the transcript over HTTP) continues on the stream from exactly there.
enum EventFile {
    struct Lines {
        var lines: [(at: UInt64, bytes: ArraySlice<UInt8>)] = []
        /// Just past the last whole line read.
        var next: UInt64
        /// The file's identity (its inode): another one means it was rotated.
        var inode: UInt64
        /// The file ends before `from`, or is another file than `inode` said: it was rotated
        /// (`lines` are then from its start).
        var rotated = false
    }

    /// At most `maxBytes` of whole lines from `from`. `inode`: the file the offset is in (nil:
    /// whatever file is there now).
    static func read(path: String, from: UInt64, inode: UInt64? = nil, maxBytes: Int) -> Lines {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return Lines(next: from, inode: inode ?? 0) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return Lines(next: from, inode: inode ?? 0) }
        var result = Lines(next: from, inode: UInt64(info.st_ino))
        if UInt64(info.st_size) < from || ((inode ?? 0) != 0 && inode != UInt64(info.st_ino)) {
            result.rotated = true
            result.next = 0
        }
        let start = result.next
        guard var bytes = try? FileIO.pread(fd: fd, count: maxBytes, offset: start, path: path),
              let lastNewline = bytes.lastIndex(of: 0x0A) else { return result }
        bytes.removeSubrange((lastNewline + 1)...)
        var at = start
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast() {
            if !line.isEmpty { result.lines.append((at, line)) }
            at += UInt64(line.count + 1)
        }
        result.next = start + UInt64(bytes.count)
        return result
    }

    /// The file's size and inode now (0, 0 when it is not there yet).
    static func end(path: String) -> (size: UInt64, inode: UInt64) {
        var info = stat()
        guard stat(path, &info) == 0 else { return (0, 0) }
        return (UInt64(info.st_size), UInt64(info.st_ino))
    }
}

/// Where a stream client stands in an agent's events file (`at` of each event message): it
/// admits each event once, however the history it read over HTTP and the stream overlap or a
/// reconnection replays. Pure.
public struct EventPosition: Equatable, Sendable {
    /// Events before this offset are already shown (what the HTTP read covered).
    public private(set) var from: UInt64
    private var last: UInt64?

    public init(from: UInt64) { self.from = from }

    /// Whether to show this text message of the stream: false for an event already shown.
    public mutating func admit(_ message: [UInt8]) -> Bool {
        guard let json = try? OrderedJSON.parse(message), case .string(let type)? = json["type"] else { return true }
        switch type {
        case "events_rotated":
            // A new events file: offsets start again from 0.
            from = 0
            last = nil
            return true
        case "event":
            guard case .number(let text)? = json["at"], let at = UInt64(text) else { return true }
            if at < from || (last.map { at <= $0 } ?? false) { return false }
            last = at
            return true
        default:
            return true
        }
    }
}
