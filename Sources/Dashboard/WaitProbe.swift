import Hosting
import TerminalUI
import Glibc
import Loop

/// Is a command agent waiting for someone to type? Its terminal's foreground process is asleep
/// reading the terminal. Read from /proc on demand (a slow timer, only while an agent is quiet).
public enum WaitProbe {
    /// Fields of /proc/PID/stat after the command name: (state, tpgid).
    public static func parseStat(_ text: String) -> (state: Character, tpgid: Int32)? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let rest = text[text.index(after: close)...].split(separator: " ")
        // state ppid pgrp session tty_nr tpgid
        guard rest.count >= 6, let state = rest[0].first, let tpgid = Int32(rest[5]) else { return nil }
        return (state, tpgid)
    }

    /// Kernel functions a process sleeps in while reading a terminal.
    public static let ttyReadWaits: Set<String> = ["n_tty_read", "wait_woken", "tty_read"]

    /// The read syscall numbers of this architecture.
    #if arch(x86_64)
    public static let readSyscalls: Set<Int> = [0, 19]          // read, readv
    #elseif arch(arm64) || arch(aarch64)
    public static let readSyscalls: Set<Int> = [63, 65]         // read, readv
    #else
    public static let readSyscalls: Set<Int> = []
    #endif

    /// /proc/PID/syscall: "NR arg0 ..." -> (NR, arg0) while blocked in a syscall.
    public static func parseSyscall(_ text: String) -> (number: Int, firstArgument: Int)? {
        let parts = text.split(separator: " ")
        guard parts.count >= 2, let nr = Int(parts[0]) else { return nil }
        let arg = parts[1].hasPrefix("0x") ? Int(parts[1].dropFirst(2), radix: 16) : Int(parts[1])
        return arg.map { (nr, $0) }
    }

    /// Decides from what /proc said. `syscall` and `fdTarget` may be nil when unreadable.
    public static func isWaitingForTerminal(state: Character, wchan: String, syscall: (number: Int, firstArgument: Int)?, fdTarget: String?) -> Bool {
        guard state == "S" else { return false }
        if let syscall, !readSyscalls.isEmpty {
            guard readSyscalls.contains(syscall.number) else { return false }
            if let fdTarget { return fdTarget.hasPrefix("/dev/pts/") || fdTarget.hasPrefix("/dev/tty") }
        }
        return ttyReadWaits.contains(wchan.trimmed)
    }

    /// Probes the foreground process of `agentPid`'s terminal.
    public static func probe(agentPid: Int32) -> Bool {
        guard let stat = readProc("/proc/\(agentPid)/stat").flatMap(parseStat) else { return false }
        let foreground = stat.tpgid > 0 ? stat.tpgid : agentPid
        let fgStat = foreground == agentPid ? stat : readProc("/proc/\(foreground)/stat").flatMap(parseStat)
        guard let fgStat else { return false }
        let wchan = readProc("/proc/\(foreground)/wchan") ?? ""
        let syscall = readProc("/proc/\(foreground)/syscall").flatMap(parseSyscall)
        var target: String?
        if let syscall {
            var buffer = [CChar](repeating: 0, count: 256)
            let n = readlink("/proc/\(foreground)/fd/\(syscall.firstArgument)", &buffer, 255)
            if n > 0 { target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        return isWaitingForTerminal(state: fgStat.state, wchan: wchan, syscall: syscall, fdTarget: target)
    }

    static func readProc(_ path: String) -> String? { ProcFS.read(path).map { String(decoding: $0, as: UTF8.self) } }
}
