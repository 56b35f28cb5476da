import AgentHost
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One file of a rotated log and the global offsets it covers.
public struct LogSegment: Equatable, Sendable {
    public var path: String
    /// Global offset of the file's first byte.
    public var start: UInt64
    public var size: UInt64
    /// Global offset just past the file's last byte.
    public var end: UInt64 { start + size }
}

/// Reads logs written by `LogWriter`, across rotated files, oldest first
/// (`<path>.keep` ... `<path>.1`, `<path>`).
///
/// Reading while a shim writes is safe but best effort: a rotation between
/// two reads can make a segment list stale; callers simply retry.
public enum LogReader {
    /// Chunk size for reading backwards from the end.
    static let tailChunk = 64 * 1024

    /// Existing files of the log, oldest first, with their global offsets.
    /// Offsets of rotated files are derived backwards from `<path>.base`.
    public static func segments(path: String) throws -> [LogSegment] {
        var newestFirst: [(String, UInt64)] = []
        if let size = try FileIO.fileSize(path) { newestFirst.append((path, size)) }
        var n = 1
        // Gaps are impossible with LogWriter, but stop at the first missing one.
        while let size = try FileIO.fileSize(LogWriter.rotatedPath(path, n)) {
            newestFirst.append((LogWriter.rotatedPath(path, n), size))
            n += 1
        }
        let base = try LogWriter.readBase(logPath: path)
        var segments: [LogSegment] = []
        var cursor = base
        for (i, (p, size)) in newestFirst.enumerated() {
            if i == 0 && p == path {
                segments.append(LogSegment(path: p, start: base, size: size))
                continue
            }
            let start = cursor >= size ? cursor - size : 0
            segments.append(LogSegment(path: p, start: start, size: size))
            cursor = start
        }
        return segments.reversed()
    }

    /// Every byte still on disk, oldest first.
    public static func readAll(path: String) throws -> [UInt8] {
        var out: [UInt8] = []
        for seg in try segments(path: path) {
            out += try FileIO.readAll(seg.path)
        }
        return out
    }

    /// Up to `maxBytes` bytes starting at global offset `from`. If older bytes
    /// were rotated away, reading starts at the oldest byte still on disk; the
    /// returned `offset` says where the bytes really start.
    public static func read(path: String, from: UInt64, maxBytes: Int) throws -> (offset: UInt64, bytes: [UInt8]) {
        let segs = try segments(path: path)
        guard let first = segs.first else { return (from, []) }
        var cursor = max(from, first.start)
        let start = cursor
        var out: [UInt8] = []
        for seg in segs where seg.end > cursor && out.count < maxBytes {
            if seg.start > cursor { break }  // a gap (crash mid-rotation): stop at it
            let fd = try FileIO.openFile(seg.path, O_RDONLY)
            defer { close(fd) }
            let want = min(Int(seg.end - cursor), maxBytes - out.count)
            let chunk = try FileIO.pread(fd: fd, count: want, offset: cursor - seg.start, path: seg.path)
            out += chunk
            cursor += UInt64(chunk.count)
            if chunk.count < want { break }
        }
        return (start, out)
    }

    /// The last `count` lines of the log (lines end at `\n`; a final
    /// unterminated line counts). Reads backwards in chunks, so a 50 MB log
    /// costs a few reads, not a full scan. With `stripTerminal`, escape
    /// sequences are removed and `\r` ends a line, as `supervisor logs` shows.
    public static func lastLines(path: String, count: Int, stripTerminal: Bool = false) throws -> [String] {
        try lastLineBytes(path: path, count: count, stripTerminal: stripTerminal).map {
            String(decoding: $0, as: UTF8.self)
        }
    }

    /// `lastLines` as raw bytes (no line terminators).
    public static func lastLineBytes(path: String, count: Int, stripTerminal: Bool = false) throws -> [[UInt8]] {
        guard count > 0 else { return [] }
        let tail = try tailBytes(path: path, newlines: count + 1)
        var text = tail
        if stripTerminal {
            var stripper = TerminalTextStripper()
            text = stripper.feed(tail) + stripper.finish()
        }
        var lines = text.split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
        if let last = lines.last, last.isEmpty { lines.removeLast() }
        return Array(lines.suffix(count))
    }

    /// The end of the log holding at least `newlines` line feeds (not counting
    /// a final one), or the whole log if it has fewer. Starts just after a
    /// line feed when it can, so stripping does not begin mid escape sequence.
    static func tailBytes(path: String, newlines: Int) throws -> [UInt8] {
        var chunks: [[UInt8]] = []  // newest first
        var found = 0
        var skippedFinal = false
        outer: for seg in try segments(path: path).reversed() where seg.size > 0 {
            let fd = try FileIO.openFile(seg.path, O_RDONLY)
            defer { close(fd) }
            var end = seg.size
            while end > 0 {
                let start = end >= UInt64(tailChunk) ? end - UInt64(tailChunk) : 0
                var chunk = try FileIO.pread(fd: fd, count: Int(end - start), offset: start, path: seg.path)
                var i = chunk.count - 1
                while i >= 0 {
                    if chunk[i] == 0x0A {
                        if !skippedFinal && chunks.isEmpty && i == chunk.count - 1 {
                            skippedFinal = true
                        } else {
                            found += 1
                            if found >= newlines {
                                chunk.removeSubrange(0...i)
                                chunks.append(chunk)
                                break outer
                            }
                        }
                    }
                    i -= 1
                }
                skippedFinal = true
                chunks.append(chunk)
                end = start
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(chunks.reduce(0) { $0 + $1.count })
        for c in chunks.reversed() { out += c }
        return out
    }
}
