import Glibc

/// Is a process waiting for someone to type? Its terminal's foreground process is asleep
/// reading the terminal. Read from /proc (through `ProcFS`) when asked: callers ask only after
/// the agent has been quiet a while (the shim's `TerminalWaitSchedule`).
public enum TerminalWait {
    /// Kernel functions a process sleeps in while reading a terminal.
    public static let ttyReadWaits: Set<String> = ["n_tty_read", "wait_woken", "tty_read"]

    /// The read syscall numbers of this architecture.
    #if arch(x86_64)
    public static let readSyscalls: Set<Int> = [0, 17, 19]      // read, pread64, readv
    #elseif arch(arm64) || arch(aarch64)
    public static let readSyscalls: Set<Int> = [63, 65, 67]     // read, readv, pread64
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
        let wchan = ProcFS.text(foreground, "wchan") ?? ""
        let syscall = ProcFS.text(foreground, "syscall").flatMap(parseSyscall)
        let target = syscall.flatMap { ProcFS.descriptorTarget(foreground, fd: $0.firstArgument) }
        return isWaitingForTerminal(state: fgStat.state, wchan: wchan, syscall: syscall, fdTarget: target)
    }
}
