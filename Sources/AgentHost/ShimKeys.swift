import AgentProtocol
import Glibc
import Loop

/// A shim asks the process that launched it for its agent's secrets (its `pass_env`, a
/// built-in agent's API key). They travel over the profile's notify socket (0600, in the
/// profile's 0700 state directory), not through the tmux server's environment, which every
/// window of the profile inherits and `tmux show-environment` prints; nor through a file, a
/// command line or the shim's own environment. The shim keeps them in memory for every later
/// start of its agent and puts them only in that agent's environment.
public struct KeyRequest: Codable, Equatable {
    /// Which agent's shim asks; `keys` tells the request from a `StartNotice` on the same socket.
    public var agent: String
    public var keys: [String]
    public init(agent: String, keys: [String]) { self.agent = agent; self.keys = keys }
}

/// The launcher's answer: the values it has of the variables the agent may get (a variable
/// missing from the launcher's environment is missing here too).
public struct KeyReply: Codable, Equatable {
    public var keys: [String: String]
    public init(keys: [String: String]) { self.keys = keys }
}

public enum ShimKeys {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Asks the launcher listening on `socket` for `names`, on `loop`, waiting at most
    /// `timeout` seconds. A launcher that is not there (a shim started by hand or by a test)
    /// is no error: the agent then gets what the shim's own environment has.
    public static func fetch(socket: String, agent: String, names: [String], loop: EventLoop,
                             timeout: Double) -> Result<[String: String], ShimKeys.Failure> {
        var outcome: Result<[String: String], ShimKeys.Failure>?
        let connection = PipeStream(loop: loop)
        let deadline = LoopTimer(loop: loop)
        func finish(_ result: Result<[String: String], ShimKeys.Failure>) {
            guard outcome == nil else { return }
            outcome = result
            deadline.close()
            connection.close()
        }
        deadline.start(seconds: timeout) { finish(.failure(Failure("the launcher did not answer within \(Int(timeout))s"))) }
        connection.connect(path: socket) { error in
            if let error {
                // Nobody listens: not launched by `up` or `start`.
                finish(error.code == ENOENT || error.code == ECONNREFUSED
                       ? .success([:]) : .failure(Failure("cannot reach the launcher: \(error)")))
                return
            }
            let request = (try? JSONCoding.encodeBytes(KeyRequest(agent: agent, keys: names))) ?? []
            var reply: [UInt8] = []
            do {
                try connection.startReading { result in
                    switch result {
                    case .data(let bytes): reply.append(contentsOf: bytes)
                    case .eof:
                        if let decoded = try? JSONCoding.decode(KeyReply.self, from: reply) {
                            finish(.success(decoded.keys.filter { names.contains($0.key) }))
                        } else {
                            finish(.failure(Failure("the launcher's answer is not a key reply")))
                        }
                    case .error(let error): finish(.failure(Failure("reading the launcher's answer: \(error)")))
                    }
                }
            } catch { finish(.failure(Failure("\(error)"))); return }
            connection.writeSurvivingClose(Array(request)) { error in
                if let error { finish(.failure(Failure("asking the launcher: \(error)"))) } else { connection.shutdown() }
            }
        }
        while outcome == nil { loop.runOnce() }
        return outcome!
    }
}
