import AgentProtocol
import Glibc
import Loop

/// A shim asks the process that launched it for its agent's secrets (its `pass_env`, a
/// built-in agent's API key): a `NotifyMessage.keyRequest` on the profile's notify socket (0600,
/// in the profile's 0700 state directory), answered by a `NotifyReply`. Not through the tmux
/// server's environment, which every window of the profile inherits and `tmux
/// show-environment` prints; nor through a file, a command line or the shim's own environment.
/// The shim keeps them in memory for every later start of its agent and puts them only in that
/// agent's environment.
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
            let request = NotifyProtocol.encode(.keyRequest(agent: agent, names: names))
            var reply: [UInt8] = []
            do {
                try connection.startReading { result in
                    switch result {
                    case .data(let bytes):
                        reply.append(contentsOf: bytes)
                        if reply.count > NotifyProtocol.maxBytes { finish(.failure(Failure(answer(NotifyError.tooLarge(reply.count))))) }
                    case .eof:
                        do throws(NotifyError) {
                            switch try NotifyProtocol.decodeReply(reply) {
                            case .keys(let keys): finish(.success(keys.filter { names.contains($0.key) }))
                            case .refused(let why): finish(.failure(Failure("the launcher refused the request: \(why)")))
                            }
                        } catch { finish(.failure(Failure(answer(error)))) }
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

    /// An answer that is not this build's notify protocol, for the shim's own error (which
    /// quotes none of the answer: it may hold keys).
    static func answer(_ error: NotifyError) -> String {
        if case .otherVersion(let version, _) = error {
            return "the launcher speaks notify protocol version \(version), this shim speaks \(NotifyProtocol.version): run `supervisor down` and `supervisor up` again with one build"
        }
        return "the launcher's answer is not a key reply (\(error))"
    }
}
