import AgentHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Loop

/// Drives one profile's private tmux server. Every call is an argv array: names come from the
/// validated profile and everything else from paths we made, never from a shell string.
public struct Tmux {
    public init(executable: String, socket: String, config: String?) {
        self.executable = executable; self.socket = socket; self.config = config
    }

    public let executable: String
    public let socket: String
    public let config: String?

    public static let minimumVersion = (3, 2)

    /// Finds tmux and checks its version, or says what to install.
    public static func locate(socket: String, config: String?, environment: [String: String]) throws -> Tmux {
        guard let executable = resolveExecutable("tmux", path: environment["PATH"]) else {
            throw HostingError("tmux is not installed (supervisor needs tmux >= 3.2): install it with `sudo apt-get install tmux`")
        }
        let result = try runSubprocess([executable, "-V"])
        guard let version = parseVersion(result.output) else {
            throw HostingError("cannot tell the version of \(executable) (it printed \"\(result.output.trimmed)\")")
        }
        if version < minimumVersion {
            throw HostingError("\(executable) is version \(version.0).\(version.1); supervisor needs tmux >= 3.2")
        }
        return Tmux(executable: executable, socket: socket, config: config)
    }

    /// "tmux 3.3a" -> (3, 3); "tmux next-3.4" -> (3, 4).
    public static func parseVersion(_ text: String) -> (Int, Int)? {
        let digits = text.drop { !$0.isNumber }
        let parts = digits.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard parts.count == 2 else { return nil }
        return (parts[0], parts[1])
    }

    /// Our own environment without the variables that would make tmux think it is nested, and
    /// without anything named like a secret: a client's environment reaches the server (the
    /// first one's becomes the environment of every window).
    public static func cleanEnvironment(_ environment: [String: String]) -> [String: String] {
        var env = Secrets.removed(from: environment)
        env["TMUX"] = nil
        env["TMUX_PANE"] = nil
        return env
    }

    func command(_ arguments: [String]) -> [String] {
        var argv = [executable, "-S", socket]
        if let config { argv += ["-f", config] }
        return argv + arguments
    }

    @discardableResult
    public func run(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SubprocessResult {
        try runSubprocess(command(arguments), environment: Tmux.cleanEnvironment(environment))
    }

    public func isServerRunning() -> Bool {
        guard access(socket, F_OK) == 0 else { return false }
        return (try? run(["list-sessions"]).succeeded) ?? false
    }

    /// The most argv bytes one tmux invocation may carry. tmux sends a client's whole command
    /// as one message of at most 16 KiB (`MAX_IMSGSIZE`, header included); past it the command
    /// fails with "command too long", which ~65 windows reached.
    static let maxCommandBytes = 12 * 1024

    /// One window per agent, created by as few tmux invocations as the message size allows
    /// (start-up speed: one client round trip per batch, not per window).
    /// Returns the pane id of each window, in order.
    public func createSession(name: String, windows: [(name: String, command: [String])],
                              size: (rows: Int, cols: Int), environment: [String: String]) throws -> [String] {
        precondition(!windows.isEmpty)
        var panes: [String] = []
        for batch in Tmux.sessionBatches(name: name, windows: windows, size: size) {
            let result = try run(batch, environment: environment)
            guard result.succeeded else {
                throw HostingError("tmux could not start the session: \(result.errorOutput.trimmed)")
            }
            panes += result.output.split(separator: "\n").map(String.init)
        }
        return panes
    }

    /// The tmux argv of each invocation that creates the session: the first makes the session
    /// and its first windows, the others add windows, each within `maxCommandBytes` (a single
    /// window over it still goes alone, for tmux to judge).
    static func sessionBatches(name: String, windows: [(name: String, command: [String])],
                               size: (rows: Int, cols: Int)) -> [[String]] {
        var batches: [[String]] = []
        var current: [String] = []
        var bytes = 0
        for (index, window) in windows.enumerated() {
            var arguments: [String]
            if index == 0 {
                arguments = ["new-session", "-d", "-s", name, "-n", window.name, "-x", "\(size.cols)", "-y", "\(size.rows)",
                             "-P", "-F", "#{pane_id}"]
            } else {
                arguments = ["new-window", "-d", "-t", "=\(name):", "-n", window.name, "-P", "-F", "#{pane_id}"]
            }
            arguments += window.command
            let cost = arguments.reduce(2) { $0 + $1.utf8.count + 1 } // with the ";" separator
            if !current.isEmpty && bytes + cost > maxCommandBytes {
                batches.append(current)
                current = []
                bytes = 0
            }
            if !current.isEmpty { current.append(";") }
            current += arguments
            bytes += cost
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }

    /// Starts a fresh shim in an agent's window whose shim died (its pane is dead or stuck).
    public func respawn(session: String, window: String, command: [String], environment: [String: String]) throws {
        let result = try run(["respawn-pane", "-k", "-t", "=\(session):=\(window)"] + command, environment: environment)
        guard result.succeeded else {
            throw HostingError("tmux could not restart window \(window): \(result.errorOutput.trimmed)")
        }
    }

    public func killServer() {
        _ = try? run(["kill-server"])
    }

    /// Attach argv for the person's terminal, or switch client when already inside this server.
    public func attachCommand(session: String, window: String, environment: [String: String]) -> [String] {
        let target = "=\(session):=\(window)"
        if let inside = environment["TMUX"], inside.split(separator: ",").first.map(String.init) == socket {
            return command(["switch-client", "-t", target])
        }
        return command(["attach-session", "-t", target])
    }
}

private func < (lhs: (Int, Int), rhs: (Int, Int)) -> Bool { lhs.0 != rhs.0 ? lhs.0 < rhs.0 : lhs.1 < rhs.1 }
