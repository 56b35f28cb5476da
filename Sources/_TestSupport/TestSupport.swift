import Foundation
import Glibc
import Loop

/// A temporary directory removed when the test ends (also when it fails).
public final class TemporaryDirectory {
    public let path: String
    public init(prefix: String = "sv") {
        // Short paths: unix socket paths must fit in 108 bytes.
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }
    public func file(_ name: String) -> String { path + "/" + name }
    public func write(_ name: String, _ text: String) -> String {
        let p = file(name)
        try? FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

public struct DeadlineExceeded: Error, CustomStringConvertible {
    public let what: String
    public var description: String { "timed out waiting for \(what)" }
}

/// Runs the loop until `condition` holds, failing after `seconds`. The deadline is a loop timer,
/// so this never sleeps.
public func runLoop(_ loop: EventLoop, until what: String, seconds: Double = 10, _ condition: () -> Bool) throws {
    var expired = false
    let timer = LoopTimer(loop: loop)
    timer.start(seconds: seconds) { expired = true }
    defer { timer.close() }
    while !condition() {
        if expired { throw DeadlineExceeded(what: what) }
        loop.runOnce(wait: true)
    }
}

/// Waits for a condition observed outside any loop of ours (files, other processes), checking
/// it again whenever `inotify` reports a change in `directory` or every 20 ms at most otherwise.
public func waitFor(_ what: String, seconds: Double = 15, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if try condition() { return }
        if Date() > deadline { throw DeadlineExceeded(what: what) }
        // Not synchronisation by sleeping: the condition is re-checked until the deadline.
        var ts = timespec(tv_sec: 0, tv_nsec: 20_000_000)
        nanosleep(&ts, nil)
    }
}

/// A TCP port free on 127.0.0.1 now (for a server a test's agent starts).
public func freeLoopbackPort() -> Int {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { Glibc.close(fd) }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// The test process writes to sockets and pipes of processes it starts and kills (shims, fake
/// servers' clients, agents): a peer that went away must be an EPIPE error for that one test, not
/// SIGPIPE ending the whole test process (which took every later test's result with it once).
public let ignoreBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()
