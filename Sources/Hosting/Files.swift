#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// Writes a whole file atomically: a temporary file in the same directory, fsync, rename.
/// Readers see the old or the new content, never a torn one, even across a crash.
public func writeFileAtomically(path: String, data: [UInt8], mode: mode_t = 0o644) throws {
    let temporary = path + ".tmp.\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw HostingError("cannot write \(path): \(String(cString: strerror(errno)))") }
    var offset = 0
    while offset < data.count {
        let n = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, data.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            let reason = String(cString: strerror(errno))
            close(fd); unlink(temporary)
            throw HostingError("cannot write \(path): \(reason)")
        }
        offset += n
    }
    fsync(fd)
    close(fd)
    guard rename(temporary, path) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw HostingError("cannot write \(path): \(reason)")
    }
}

/// Creates a directory and its parents (mode 0700 by default: state is private to the user).
public func makeDirectories(_ path: String, mode: mode_t = 0o700) throws {
    var current = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        current += "/" + part
        if mkdir(current, mode) != 0 && errno != EEXIST {
            throw HostingError("cannot create directory \(current): \(String(cString: strerror(errno)))")
        }
    }
}

/// Whether a process with this pid exists (and is not a zombie we could still reap).
/// A zombie counts as gone: where nothing reaps orphans (a container's or sandbox's pid 1),
/// a dead agent would otherwise look alive forever.
public func processIsAlive(_ pid: Int32) -> Bool {
    guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return true }
    // The state follows the command name, which is in parentheses and may hold spaces.
    let state = stat[stat.index(after: close)...].dropFirst().first
    return state != "Z" && state != "X"
}

extension String {
    /// Without leading and trailing whitespace and newlines.
    public var trimmed: String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = scalars.lastIndex(where: { !isSpace($0) })!
        return String(scalars[start...end])
    }
}

private func isSpace(_ scalar: Unicode.Scalar) -> Bool {
    scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r"
}

public func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
}
