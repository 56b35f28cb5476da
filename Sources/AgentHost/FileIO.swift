#if canImport(Glibc)
import Glibc
import Loop
#elseif canImport(Darwin)
import Darwin
#endif

/// File helpers shared by the log, state and path code, on `Posix` (whose retry rules for
/// EINTR and short writes are the only ones), with the path in every error.
public enum FileIO {
    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// `mkdir -p`: tolerates existing directories and races with other creators.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws {
        if path.isEmpty || path == "/" || path == "." { return }
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { return }
            throw PosixError("mkdir", path: path, code: ENOTDIR)
        }
        try makeDirectories(parentDirectory(of: path), mode: mode)
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw PosixError("mkdir", path: path, code: errno)
        }
    }

    /// Size of a file, or nil when it does not exist.
    public static func fileSize(_ path: String) throws -> UInt64? {
        var st = stat()
        if stat(path, &st) != 0 {
            if errno == ENOENT { return nil }
            throw PosixError("stat", path: path, code: errno)
        }
        return UInt64(st.st_size)
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// Opens a file. Every open that can write refuses a symbolic link as the last component
    /// (`O_NOFOLLOW`): a link planted where a log or state file goes must not redirect our
    /// writes into a file its maker chose.
    public static func openFile(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        let writes = flags & (O_WRONLY | O_RDWR | O_CREAT) != 0
        return try Posix.open(path, flags | (writes ? O_NOFOLLOW : 0), mode: mode).get()
    }

    /// Writes every byte, retrying short writes and EINTR. On failure the
    /// error carries how many bytes did make it, so callers can keep offsets honest.
    public static func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        let result = Posix.writeAll(fd, bytes)
        if let error = result.error {
            throw PartialWriteError(written: result.written, underlying: PosixError("write", path: path, code: error.code))
        }
    }

    /// Reads up to `count` bytes at `offset` (fewer only at end of file).
    public static func pread(fd: Int32, count: Int, offset: UInt64, path: String) throws -> [UInt8] {
        if count <= 0 { return [] }
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        try out.withUnsafeMutableBytes { buf in
            while got < count {
                let rest = UnsafeMutableRawBufferPointer(rebasing: buf[got...])
                switch Posix.pread(fd, into: rest, offset: offset + UInt64(got)) {
                case .failure(let error): throw PosixError("read", path: path, code: error.code)
                case .success(0): return
                case .success(let n): got += n
                }
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
        unlink(tmp) // left by a crashed process with our pid; O_EXCL then refuses anything planted
        let fd = try openFile(tmp, O_WRONLY | O_CREAT | O_EXCL, mode: mode)
        do {
            try bytes.withUnsafeBytes { try writeAll(fd: fd, $0, path: tmp) }
            if fsync(fd) != 0 { throw PosixError("fsync", path: tmp, code: errno) }
        } catch {
            close(fd)
            unlink(tmp)
            throw (error as? PartialWriteError)?.underlying ?? error
        }
        close(fd)
        if rename(tmp, path) != 0 {
            let code = errno
            unlink(tmp)
            throw PosixError("rename", path: path, code: code)
        }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }
}

extension FileIO {
    /// Why a directory we keep state or logs in cannot be trusted, or nil when it can: it
    /// must be a directory owned by us that no one else can write (else another local user
    /// could swap a spec we run, or a log for a link). Says how to fix it.
    public static func untrustedDirectoryProblem(_ path: String) -> String? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil } // absent: we create it, 0700
        if st.st_mode & S_IFMT == S_IFLNK {
            guard stat(path, &st) == 0 else { return nil }
        }
        guard st.st_mode & S_IFMT == S_IFDIR else { return "\(path) is not a directory" }
        if st.st_uid != geteuid() && st.st_uid != 0 {
            return "\(path) belongs to user id \(st.st_uid), not to us (\(geteuid())): remove it, or `chown` it to yourself"
        }
        if st.st_mode & S_IWOTH != 0 && st.st_mode & S_ISVTX == 0 {
            return "\(path) is writable by other users (mode \(String(st.st_mode & 0o7777, radix: 8))): `chmod o-w \(path)`"
        }
        return nil
    }

    /// Why a file we would run or trust (a shim spec) cannot be: not a regular file we own,
    /// or writable by others, or in a directory that is untrusted. Nil when it is fine.
    public static func untrustedFileProblem(_ path: String) -> String? {
        if let problem = untrustedDirectoryProblem(parentDirectory(of: path)) { return problem }
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        guard st.st_mode & S_IFMT == S_IFREG else { return "\(path) is not a regular file" }
        if st.st_uid != geteuid() { return "\(path) belongs to user id \(st.st_uid), not to us (\(geteuid()))" }
        if st.st_mode & (S_IWOTH | S_IWGRP) != 0 { return "\(path) is writable by other users" }
        return nil
    }
}

/// A write that stopped part way; `written` bytes did reach the file.
public struct PartialWriteError: Error {
    public let written: Int
    public let underlying: PosixError
}
