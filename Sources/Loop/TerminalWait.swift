import Glibc

/// Is a process waiting for someone to type? Its terminal's foreground process is asleep
/// reading the terminal. Read from /proc (through `ProcFS`) when asked: callers ask only after
/// the agent has been quiet a while (the shim's `TerminalWaitSchedule`).
public enum TerminalWait {
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
    public static func isWaitingForTerminal(state: UInt8, wchan: String, syscall: (number: Int, firstArgument: Int)?, fdTarget: String?) -> Bool {
        guard state == UInt8(ascii: "S") else { return false }
        if let syscall, !readSyscalls.isEmpty {
            guard readSyscalls.contains(syscall.number) else { return false }
            if let fdTarget { return fdTarget.hasPrefix("/dev/pts/") || fdTarget.hasPrefix("/dev/tty") }
        }
        return ttyReadWaits.contains(String(wchan.filter { !$0.isWhitespace }))
    }

    /// Probes the foreground process of `agentPid`'s terminal.
    public static func probe(agentPid: pid_t) -> Bool {
        guard let stat = ProcFS.stat(agentPid) else { return false }
        let foreground = stat.terminalForegroundGroup > 0 ? stat.terminalForegroundGroup : agentPid
        guard let fgStat = foreground == agentPid ? stat : ProcFS.stat(foreground) else { return false }
        let wchan = text("/proc/\(foreground)/wchan") ?? ""
        let syscall = text("/proc/\(foreground)/syscall").flatMap(parseSyscall)
        var target: String?
        if let syscall {
            var buffer = [CChar](repeating: 0, count: 256)
            let n = readlink("/proc/\(foreground)/fd/\(syscall.firstArgument)", &buffer, 255)
            if n > 0 { target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        return isWaitingForTerminal(state: fgStat.state, wchan: wchan, syscall: syscall, fdTarget: target)
    }

    static func text(_ path: String) -> String? { ProcFS.read(path).map { String(decoding: $0, as: UTF8.self) } }
}
