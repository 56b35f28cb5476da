#if canImport(Glibc)
import Glibc
import Loop
#elseif canImport(Darwin)
import Darwin
#endif

/// Append-only agent log with size rotation and global offsets.
///
/// Every byte an agent writes lands here before anyone else sees it
/// (invariant 2), so `write` never drops or reorders bytes: it loops over
/// short writes and EINTR (through `Posix`) and throws only on real I/O errors.
///
/// Global offsets number every byte ever written to the log, across
/// rotations and across re-opens by a new shim process, so a client can say
/// "send me everything after offset N" after a reconnect. The offset at which
/// the current file starts lives in `<path>.base` (decimal text); the next
/// byte's offset is `base + size of <path>`. The sidecar changes only on
/// rotation, so normal writes cost one `write(2)`.
///
/// Rotation happens before a write that would take a non-empty file past
/// `maxBytes`: `<path>.(keep-1)` -> `<path>.keep`, ..., `<path>` -> `<path>.1`,
/// then a fresh `<path>`. The new base is persisted *before* the renames so
/// that a crash mid-rotation can only make offsets skip ahead, never repeat.
/// A single write larger than `maxBytes` still goes in whole.
public final class LogWriter {
    public let path: String
    /// Rotation threshold; 0 disables rotation.
    public let maxBytes: UInt64
    /// Rotated files kept; 0 means the old file is simply replaced.
    public let keep: Int
    /// Global offset of the first byte of the current file.
    public private(set) var baseOffset: UInt64
    /// Size of the current file.
    public private(set) var fileSize: UInt64
    private var fd: Int32
    /// Whether the `.base` sidecar keeps global offsets (the agent's log; not its events file).
    public let tracksOffsets: Bool
    /// The file's size when `path` was last seen naming it (see `reopenIfRemoved`).
    private var sizeWhenLinked: UInt64 = 0

    /// Global offset the next written byte will get.
    public var offset: UInt64 { baseOffset + fileSize }

    /// Opens (creating parent directories and the file) for appending.
    public init(path: String, maxBytes: UInt64, keep: Int, tracksOffsets: Bool = true) throws {
        self.path = path
        self.maxBytes = maxBytes
        self.keep = max(0, keep)
        self.tracksOffsets = tracksOffsets
        try FileIO.makeDirectories(FileIO.parentDirectory(of: path))
        self.baseOffset = tracksOffsets ? try LogWriter.readBase(logPath: path) : 0
        // Readable too: bytes written after the file was removed are copied to its successor.
        self.fd = try FileIO.openFile(path, O_RDWR | O_APPEND | O_CREAT)
        var st = stat()
        if fstat(fd, &st) != 0 {
            let code = errno
            _ = Glibc.close(fd)
            throw PosixError("fstat", path: path, code: code)
        }
        self.fileSize = UInt64(st.st_size)
        self.sizeWhenLinked = fileSize
    }

    /// What one `append` did: the offset of its first byte, how many bytes reached the file
    /// (all of them unless `error`; the rest are lost and the caller records the gap).
    public struct Append {
        public let offset: UInt64
        public let written: Int
        public let error: PosixError?
    }

    /// Appends as much as the file takes, never throwing: on a full disk the bytes that did
    /// get in keep their offsets and the rest are reported, so offsets stay consistent.
    public func append(_ bytes: UnsafeRawBufferPointer) -> Append {
        let before = offset
        do {
            let first = try write(bytes)
            return Append(offset: first, written: bytes.count, error: nil)
        } catch {
            // `write` counted what did get in before it failed.
            let written = Int(offset - before)
            return Append(offset: before, written: written, error: error as? PosixError ?? PosixError("write", path: path, code: EIO))
        }
    }

    /// Appends all of `bytes` or nothing: a write the disk cut short is taken back (the file
    /// is truncated to where it was). Nil when nothing was written.
    public func appendWhole(_ bytes: UnsafeRawBufferPointer) -> Append? {
        let before = fileSize
        let result = append(bytes)
        guard result.error != nil else { return result }
        if result.written > 0 && ftruncate(fd, off_t(before)) == 0 { fileSize = before }
        return nil
    }

    /// Whether `path` still names the file we write. When it was removed from outside, opens
    /// a new file there, first copying what went into the removed one since it was last seen
    /// (so nothing written after the removal is lost, and offsets continue where they were).
    /// When it was renamed away (logrotate's `create`), the old bytes are in the renamed file
    /// and the new one starts after them. Returns true when it reopened.
    public func reopenIfRemoved() -> Bool {
        guard fd >= 0 else { return false }
        var mine = stat(), named = stat()
        guard fstat(fd, &mine) == 0 else { return false }
        let namedExists = lstat(path, &named) == 0
        if namedExists && named.st_ino == mine.st_ino && named.st_dev == mine.st_dev {
            sizeWhenLinked = fileSize
            return false
        }
        let removed = mine.st_nlink == 0
        let replacementSize = namedExists ? UInt64(max(0, named.st_size)) : 0
        var tail: [UInt8] = []
        if removed && replacementSize == 0 && fileSize > sizeWhenLinked {
            tail = (try? FileIO.pread(fd: fd, count: Int(fileSize - sizeWhenLinked), offset: sizeWhenLinked, path: path)) ?? []
        }
        let newBase = tail.isEmpty ? offset : baseOffset + sizeWhenLinked
        try? FileIO.makeDirectories(FileIO.parentDirectory(of: path))
        guard let reopened = try? FileIO.openFile(path, O_RDWR | O_APPEND | O_CREAT) else { return false }
        _ = Glibc.close(fd)
        fd = reopened
        var st = stat()
        let size = fstat(fd, &st) == 0 ? UInt64(st.st_size) : 0
        // Where the new file starts (a replacement's own bytes push ours later: offsets may
        // skip ahead, never repeat).
        baseOffset = newBase
        fileSize = size
        if tracksOffsets { try? FileIO.writeAtomically(LogWriter.basePath(path), Array("\(baseOffset)\n".utf8)) }
        if !tail.isEmpty { tail.withUnsafeBytes { _ = append($0) } }
        sizeWhenLinked = fileSize
        return true
    }

    deinit { close() }

    /// Closes the file; further writes throw EBADF.
    public func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    /// Appends all bytes and returns the global offset of the first one.
    @discardableResult
    public func write(_ bytes: [UInt8]) throws -> UInt64 {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends all bytes and returns the global offset of the first one.
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer) throws -> UInt64 {
        guard fd >= 0 else { throw PosixError("write", path: path, code: EBADF) }
        if maxBytes > 0 && fileSize > 0 && fileSize + UInt64(bytes.count) > maxBytes {
            rotate()
        }
        guard fd >= 0 else { throw PosixError("write", path: path, code: EBADF) }
        let first = offset
        if bytes.isEmpty { return first }
        do {
            try FileIO.writeAll(fd: fd, bytes, path: path)
            fileSize += UInt64(bytes.count)
        } catch let e as PartialWriteError {
            fileSize += UInt64(e.written)
            throw e.underlying
        }
        return first
    }

    /// Path of rotated file `n` (1 = newest).
    public static func rotatedPath(_ path: String, _ n: Int) -> String { "\(path).\(n)" }

    /// Path of the sidecar holding the current file's global start offset.
    public static func basePath(_ path: String) -> String { "\(path).base" }

    /// Global offset where the current `path` file starts (0 if never rotated).
    public static func readBase(logPath: String) throws -> UInt64 {
        let bp = basePath(logPath)
        guard FileIO.exists(bp) else { return 0 }
        let bytes = try FileIO.readAll(bp)
        let text = String(decoding: bytes, as: UTF8.self).trimmed
        guard let v = UInt64(text) else {
            throw PosixError("parse log base offset in", path: bp, code: EINVAL)
        }
        return v
    }

    /// The last rotation failure, if any. Rotation errors never fail a write:
    /// the bytes go to the current file instead (lossless beats bounded).
    public private(set) var lastRotationError: PosixError?

    private func rotate() {
        let newBase = baseOffset + fileSize
        if tracksOffsets {
            do {
                try FileIO.writeAtomically(LogWriter.basePath(path), Array("\(newBase)\n".utf8))
            } catch {
                lastRotationError = error as? PosixError
                return  // nothing changed yet: keep appending to the current file
            }
        }
        baseOffset = newBase
        _ = Glibc.close(fd)
        fd = -1
        do {
            try renameChain()
            fd = try FileIO.openFile(path, O_RDWR | O_APPEND | O_CREAT | O_TRUNC)
            fileSize = 0
            sizeWhenLinked = 0
        } catch {
            lastRotationError = error as? PosixError
            // Keep logging into whatever `path` now is. Offsets may skip ahead
            // (base already advanced) but never repeat.
            if fd < 0, let reopened = try? FileIO.openFile(path, O_RDWR | O_APPEND | O_CREAT) {
                fd = reopened
                var st = stat()
                fileSize = fstat(fd, &st) == 0 ? UInt64(st.st_size) : 0
            }
        }
    }

    private func renameChain() throws {
        // Files beyond `keep` (left by a run with a larger keep) would look
        // contiguous to LogReader and get wrong offsets: remove them.
        var extra = keep + 1
        while FileIO.exists(LogWriter.rotatedPath(path, extra)) {
            unlink(LogWriter.rotatedPath(path, extra))
            extra += 1
        }
        if keep == 0 {
            if unlink(path) != 0 && errno != ENOENT {
                throw PosixError("unlink", path: path, code: errno)
            }
        } else {
            // Dropping the oldest happens implicitly: rename over it.
            var n = keep - 1
            while n >= 1 {
                let from = LogWriter.rotatedPath(path, n)
                if FileIO.exists(from), rename(from, LogWriter.rotatedPath(path, n + 1)) != 0 {
                    throw PosixError("rename", path: from, code: errno)
                }
                n -= 1
            }
            if rename(path, LogWriter.rotatedPath(path, 1)) != 0 && errno != ENOENT {
                throw PosixError("rename", path: path, code: errno)
            }
        }
    }
}
