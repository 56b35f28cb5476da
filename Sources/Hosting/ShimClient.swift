import AgentHost
import Glibc
import Loop

/// A connection to one agent's shim on a loop: frames in, frames out.
public final class ShimConnection {
    public let agent: String
    private let pipe: PipeStream
    private var decoder = FrameDecoder()
    public var onFrame: ((Frame) -> Void)?
    /// Called once when the connection ends (shim gone, protocol error, or `close()`).
    public var onClose: ((String?) -> Void)?
    private var closed = false

    public init(loop: EventLoop, agent: String) {
        self.agent = agent
        pipe = PipeStream(loop: loop)
    }

    public func connect(path: String, _ completion: @escaping (String?) -> Void) {
        pipe.connect(path: path) { [self] error in
            if let error {
                completion("cannot reach the shim of \(agent) (\(error.name))")
                close(reason: nil)
                return
            }
            do {
                try pipe.startReading { [weak self] result in
                    guard let self else { return }
                    switch result {
                    case .data(let bytes):
                        do {
                            for frame in try self.decoder.feed(Array(bytes)) { self.onFrame?(frame) }
                        } catch { self.close(reason: "protocol error from \(self.agent)'s shim: \(error)") }
                    case .eof: self.close(reason: "the shim of \(self.agent) closed the connection")
                    case .error(let error): self.close(reason: "\(self.agent): \(error)")
                    }
                }
                completion(nil)
            } catch { completion("\(error)") }
        }
    }

    /// A shim may close mid-request (it exits, or drops a client it finds abusive): that is
    /// this connection's end (`onClose`), never SIGPIPE for the process.
    public func send(_ frame: Frame) { pipe.writeSurvivingClose(frame.encode()) }

    public func close(reason: String? = nil) {
        guard !closed else { return }
        closed = true
        pipe.close()
        onClose?(reason)
    }
}

/// Blocking request/response helpers for CLI commands (each on a private loop).
public enum ShimRequest {
    /// Sends `frame` and waits for the shim's ack; also returns the latest state it reported.
    public static func send(_ frame: Frame, to socket: String, agent: String, timeout: Double = 10) throws -> (ack: Ack, state: AgentState?) {
        let loop = EventLoop()
        defer { loop.close() }
        let connection = ShimConnection(loop: loop, agent: agent)
        var failure: String?
        var ack: Ack?
        var state: AgentState?
        connection.onFrame = { frame in
            switch frame.type {
            case .hello: break
            case .state: state = try? frame.decodeState()
            case .ack: ack = try? frame.decodeAck()
            default: break
            }
        }
        connection.onClose = { reason in if ack == nil { failure = failure ?? reason ?? "connection closed" } }
        connection.connect(path: socket) { error in
            if let error { failure = error } else { connection.send(frame) }
        }
        let timer = LoopTimer(loop: loop)
        timer.start(seconds: timeout) { failure = failure ?? "no answer from the shim of \(agent) within \(Int(timeout))s" } // the shim may be wedged
        while ack == nil && failure == nil { loop.runOnce() }
        timer.close()
        connection.close()
        if let ack { return (ack, state) }
        throw HostingError(failure!)
    }

    /// Waits until the agent's state satisfies `done` (reported by state frames), or the deadline.
    public static func waitForState(socket: String, agent: String, timeout: Double, _ done: @escaping (AgentState) -> Bool) throws -> AgentState? {
        let loop = EventLoop()
        defer { loop.close() }
        let connection = ShimConnection(loop: loop, agent: agent)
        var latest: AgentState?
        var finished = false
        var failure: String?
        connection.onFrame = { frame in
            switch frame.type {
            case .hello:
                if let state = (try? frame.decodeHello())?.state {
                    latest = state
                    if done(state) { finished = true }
                }
            case .state:
                latest = try? frame.decodeState()
                if let latest, done(latest) { finished = true }
            default: break
            }
        }
        connection.onClose = { _ in finished = true }
        connection.connect(path: socket) { error in
            if let error { failure = error } else { connection.send(.subscribe(output: false, events: false)) }
        }
        let timer = LoopTimer(loop: loop)
        timer.start(seconds: timeout) { finished = true } // give up waiting; the caller reports
        while !finished && failure == nil { loop.runOnce() }
        timer.close()
        connection.close()
        if let failure { throw HostingError(failure) }
        return latest
    }
}
