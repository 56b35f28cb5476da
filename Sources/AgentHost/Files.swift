import Glibc
import Loop

/// Writes a whole file atomically (see `FileIO.writeAtomically`); the directory must exist,
/// so a state directory removed under a running process is not brought back.
public func writeFileAtomically(path: String, data: [UInt8], mode: mode_t = 0o644) throws {
    try FileIO.writeAtomically(path, data, mode: mode, makeParents: false)
}

/// Creates a directory and its parents (mode 0700 by default: state is private to the user).
public func makeDirectories(_ path: String, mode: mode_t = 0o700) throws {
    try FileIO.makeDirectories(path, mode: mode)
}

/// Whether a process with this pid exists (and is not a zombie we could still reap).
/// A zombie counts as gone: where nothing reaps orphans (a container's or sandbox's pid 1),
/// a dead agent would otherwise look alive forever.
public func processIsAlive(_ pid: Int32) -> Bool {
    guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
    guard let stat = ProcFS.stat(pid) else { return true }
    return !stat.isZombie
}

/// This process's environment, read from `environ` (what Foundation's ProcessInfo gives,
/// without linking Foundation into the shim).
public func processEnvironment() -> [String: String] {
    var environment: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
        let text = String(cString: pointer)
        if let equals = text.firstIndex(of: "=") {
            let key = String(text[..<equals])
            // The first definition wins, as getenv does.
            if environment[key] == nil { environment[key] = String(text[text.index(after: equals)...]) }
        }
        entry += 1
    }
    return environment
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
