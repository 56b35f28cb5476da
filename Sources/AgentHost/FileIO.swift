#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call, with the operation and path it concerned, so an error
/// message can name the file to fix instead of a bare errno.
public struct SystemError: Error, Equatable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let code: Int32

    public init(_ operation: String, path: String, code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(code)))"
    }
}

/// Raw file helpers shared by the log, state and path code. All syscalls go
/// through here so EINTR and short writes are handled in exactly one place.
public enum FileIO {
    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// `mkdir -p`: tolerates existing directories and races with other creators.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        if path.isEmpty || path == "/" || path == "." { return }
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { return }
            throw SystemError("mkdir", path: path, code: ENOTDIR)
        }
        try makeDirectories(parentDirectory(of: path), mode: mode)
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw SystemError("mkdir", path: path, code: errno)
        }
    }

    /// Size of a file, or nil when it does not exist.
    public static func fileSize(_ path: String) throws -> UInt64? {
        var st = stat()
        if stat(path, &st) != 0 {
            if errno == ENOENT { return nil }
            throw SystemError("stat", path: path, code: errno)
        }
        return UInt64(st.st_size)
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public static func openFile(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        while true {
            let fd = open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            throw SystemError("open", path: path, code: errno)
        }
    }

    /// Writes every byte, retrying short writes and EINTR. On failure the
    /// error carries how many bytes did make it, so callers can keep offsets honest.
    public static func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw PartialWriteError(written: done, underlying: SystemError("write", path: path, code: errno))
            }
            done += n
        }
    }

    /// Reads up to `count` bytes at `offset` (fewer only at end of file).
    public static func pread(fd: Int32, count: Int, offset: UInt64, path: String) throws -> [UInt8] {
        if count <= 0 { return [] }
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        try out.withUnsafeMutableBytes { buf in
            while got < count {
                #if canImport(Glibc)
                let n = Glibc.pread(fd, buf.baseAddress! + got, count - got, off_t(offset) + off_t(got))
                #else
                let n = Darwin.pread(fd, buf.baseAddress! + got, count - got, off_t(offset) + off_t(got))
                #endif
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SystemError("read", path: path, code: errno)
                }
                if n == 0 { break }
                got += n
            }
        }
        out.removeSubrange(got...)
        return out
    }

    public static func readAll(_ path: String) throws -> [UInt8] {
        let fd = try openFile(path, O_RDONLY)
        defer { close(fd) }
        var out: [UInt8] = []
        var offset: UInt64 = 0
        while true {
            let chunk = try pread(fd: fd, count: 65536, offset: offset, path: path)
            if chunk.isEmpty { return out }
            out += chunk
            offset += UInt64(chunk.count)
        }
    }

    /// Replaces `path` atomically: temp file in the same directory, fsync,
    /// rename, fsync the directory. Readers see the old or the new file, never half,
    /// even across a crash.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, makeParents: Bool = true) throws {
        let dir = parentDirectory(of: path)
        if makeParents { try makeDirectories(dir) }
        let tmp = "\(path).tmp.\(getpid())"
        let fd = try openFile(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        do {
            try bytes.withUnsafeBytes { try writeAll(fd: fd, $0, path: tmp) }
            if fsync(fd) != 0 { throw SystemError("fsync", path: tmp, code: errno) }
        } catch {
            close(fd)
            unlink(tmp)
            throw (error as? PartialWriteError)?.underlying ?? error
        }
        close(fd)
        if rename(tmp, path) != 0 {
            let code = errno
            unlink(tmp)
            throw SystemError("rename", path: path, code: code)
        }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }
}

/// A write that stopped part way; `written` bytes did reach the file.
public struct PartialWriteError: Error {
    public let written: Int
    public let underlying: SystemError
}
