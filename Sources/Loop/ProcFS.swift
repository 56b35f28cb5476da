import Glibc

/// The one reader of Linux's /proc: every question about another process (is it alive, who
/// are its children, what runs in it, what marks its environment) goes through here, with one
/// way to read a file (`Posix`'s) and one parser of `stat`.
public enum ProcFS {
    /// Fields of /proc/PID/stat that callers use. The command name (in parentheses, may hold
    /// spaces and parentheses) is skipped by looking for the last ")".
    public struct Stat: Equatable {
        /// R, S, D, Z, T, X, ...
        public var state: UInt8
        public var parent: pid_t
        public var processGroup: pid_t
        public var session: pid_t
        /// The terminal's foreground process group (-1 or 0 without a terminal).
        public var terminalForegroundGroup: pid_t
        /// Clock ticks after boot when it started (tells a pid's reuse apart).
        public var startTime: UInt64

        public var isZombie: Bool { state == UInt8(ascii: "Z") || state == UInt8(ascii: "X") }

        /// Parses the text of /proc/PID/stat.
        public static func parse(_ bytes: [UInt8]) -> Stat? {
            guard let close = bytes.lastIndex(of: UInt8(ascii: ")")), close + 2 < bytes.count else { return nil }
            // After ") ": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
            // utime stime cutime cstime priority nice num_threads itrealvalue starttime
            let fields = bytes[(close + 2)...].split(separator: UInt8(ascii: " "))
            guard fields.count > 19, let state = fields[0].first else { return nil }
            func number<T: FixedWidthInteger>(_ index: Int) -> T? { T(String(decoding: fields[index], as: UTF8.self)) }
            guard let parent: pid_t = number(1), let group: pid_t = number(2), let session: pid_t = number(3),
                  let foreground: pid_t = number(5), let start: UInt64 = number(19) else { return nil }
            return Stat(state: state, parent: parent, processGroup: group, session: session,
                        terminalForegroundGroup: foreground, startTime: start)
        }
    }

    /// The whole of a /proc file, or nil when it cannot be read (the process is gone, or not
    /// ours to read).
    public static func read(_ path: String) -> [UInt8]? {
        guard case .success(let fd) = Posix.open(path, O_RDONLY) else { return nil }
        defer { close(fd) }
        return try? Posix.readAll(fd).get()
    }

    public static func stat(_ pid: pid_t) -> Stat? { read("/proc/\(pid)/stat").flatMap(Stat.parse) }

    /// A file of /proc/PID as text (`wchan`, `syscall`), nil when unreadable.
    public static func text(_ pid: pid_t, _ file: String) -> String? {
        read("/proc/\(pid)/\(file)").map { String(decoding: $0, as: UTF8.self) }
    }

    /// What the process's descriptor `fd` is open on (`/dev/pts/3`, `pipe:[123]`), nil when unreadable.
    public static func descriptorTarget(_ pid: pid_t, fd: Int) -> String? { link("/proc/\(pid)/fd/\(fd)") }

    /// The path of this process's own executable.
    public static func ownExecutable() -> String? { link("/proc/self/exe") }

    private static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The process's arguments (`/proc/PID/cmdline`), empty when unreadable.
    public static func arguments(_ pid: pid_t) -> [String] {
        (read("/proc/\(pid)/cmdline") ?? []).split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The entries of the process's environment ("NAME=value") that begin with `prefix`.
    /// Readable only for our own processes, which are the only ones we may act on.
    public static func environment(of pid: pid_t, entriesStartingWith prefix: String) -> [String] {
        guard let bytes = read("/proc/\(pid)/environ") else { return [] }
        let wanted = Array(prefix.utf8)
        return bytes.split(separator: 0).filter { $0.starts(with: wanted) }.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Every process id on the system now.
    public static func processes() -> [pid_t] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var result: [pid_t] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let pid = pid_t(name) { result.append(pid) }
        }
        return result
    }

    /// The children of `pid` (all its threads').
    public static func children(of pid: pid_t) -> [pid_t] {
        guard let tasks = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(tasks) }
        var result: [pid_t] = []
        while let entry = readdir(tasks) {
            let tid = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard !tid.hasPrefix("."), let text = read("/proc/\(pid)/task/\(tid)/children") else { continue }
            result += text.split(separator: UInt8(ascii: " ")).compactMap { pid_t(String(decoding: $0, as: UTF8.self)) }
        }
        return result
    }

    /// `pid`'s descendants, parents before their children.
    public static func descendants(of pid: pid_t) -> [pid_t] {
        var result: [pid_t] = []
        var queue = children(of: pid)
        while !queue.isEmpty {
            let next = queue.removeFirst()
            result.append(next)
            queue += children(of: next)
        }
        return result
    }

    /// Processes of ours whose environment carries `entry` exactly, or (`prefix`) an entry that
    /// begins with it (a marker a supervisor put there), except `excluding`: what a crashed
    /// shim's agent left running, found after the fact. One pass over /proc.
    public static func processes(markedWith entry: String, prefix: Bool = false, excluding: Set<pid_t> = []) -> [pid_t] {
        let me = geteuid()
        return processes().filter { pid in
            var info = Glibc.stat()
            guard !excluding.contains(pid), Glibc.lstat("/proc/\(pid)", &info) == 0, info.st_uid == me else { return false }
            let found = environment(of: pid, entriesStartingWith: entry)
            return prefix ? !found.isEmpty : found.contains(entry)
        }
    }
}
