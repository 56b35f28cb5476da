import AgentHost
import Glibc
import Loop

/// The launcher's end of the profile's notify socket (`NotifyProtocol`): newly started shims
/// report there that their agent runs (or could not start), and a shim whose agent needs keys
/// asks for them there first (`ShimKeys`): the answer is the only way they reach it. Listening
/// before the shims exist means no polling for sockets to appear.
final class NotifyListener {
    /// What an agent's shim reported.
    private enum Report {
        case started
        case failed(String)
        /// It spoke another build's protocol, or sent what no build sends.
        case unreadable(NotifyError)
    }

    private let loop = EventLoop()
    private let server: PipeStream
    private let path: String
    private var reports: [String: Report] = [:]
    /// Unreadable messages that name no agent: told when a wait ends without its agents.
    private var strays: [NotifyError] = []
    /// Per agent, the secret variables (name: value) its shim is given when it asks.
    private let keys: [String: [String: String]]

    init(path: String, keys: [String: [String: String]] = [:]) throws {
        self.path = path
        self.keys = keys
        unlink(path)
        server = PipeStream(loop: loop)
        do {
            try server.bind(path: path)
            chmod(path, 0o600) // keys are handed out here; the directory is 0700 as well
            // Every shim of a large profile may connect before this process gets to accept
            // (tmux is still creating windows): a short backlog would refuse the later ones.
            try server.listen(backlog: SOMAXCONN) { [unowned self] connection in
                var buffer: [UInt8] = []
                var answered = false
                try? connection.startReading { result in
                    guard !answered else { return }
                    switch result {
                    case .data(let bytes): buffer.append(contentsOf: bytes)
                    case .eof, .error: answered = true
                    }
                    if buffer.count > NotifyProtocol.maxBytes { answered = true }
                    if answered { self.answer(buffer, on: connection) }
                }
            }
        } catch {
            server.close()
            loop.close()
            throw HostingError("cannot listen on \(path): \(error)")
        }
    }

    /// Reads one shim's message, answers a key request, and closes the connection.
    private func answer(_ bytes: [UInt8], on connection: PipeStream) {
        let reply: NotifyReply?
        do throws(NotifyError) {
            switch try NotifyProtocol.decodeMessage(bytes) {
            case .started(let agent, _): reports[agent] = .started; reply = nil
            case .failed(let agent, let error): reports[agent] = .failed(error); reply = nil
            case .keyRequest(let agent, let names):
                reply = .keys((keys[agent] ?? [:]).filter { names.contains($0.key) })
            }
        } catch {
            if let agent = error.agent { reports[agent] = .unreadable(error) } else { strays.append(error) }
            reply = .refused(error.description) // a shim that waits for keys hears why there are none
        }
        guard let reply else { connection.close(); return }
        // A shim killed before it reads this must not take `up` with it.
        connection.writeSurvivingClose(NotifyProtocol.encode(reply)) { _ in connection.close() }
    }

    /// Waits until every named agent has reported; throws the first unreadable report or
    /// failure, or names the agents that stayed silent past the deadline.
    func wait(for agents: [String], timeout: Double, profile: String) throws {
        func unreadable(_ agent: String) -> NotifyError? {
            if case .unreadable(let error)? = reports[agent] { return error }
            return nil
        }
        var expired = false
        let deadline = LoopTimer(loop: loop)
        deadline.start(seconds: timeout) { expired = true } // a shim that never reports is a failed start
        while !agents.allSatisfy({ reports[$0] != nil }) && !agents.contains(where: { unreadable($0) != nil }) && !expired {
            loop.runOnce()
        }
        deadline.close()
        let oneBuild = "run `supervisor down \(profile)` and `supervisor up` again with one build"
        for agent in agents {
            guard let error = unreadable(agent) else { continue }
            if case .otherVersion(let version, _) = error {
                throw HostingError("the shim of agent \"\(agent)\" speaks notify protocol version \(version), this supervisor speaks \(NotifyProtocol.version): \(oneBuild)")
            }
            throw HostingError("the shim of agent \"\(agent)\" sent what this supervisor cannot read (\(error)): \(oneBuild)")
        }
        for agent in agents {
            if case .failed(let error)? = reports[agent] { throw HostingError("agent \"\(agent)\" could not start: \(error)") }
        }
        let missing = agents.filter { reports[$0] == nil }
        if !missing.isEmpty {
            let heard = strays.isEmpty ? "" : "; the notify socket got \(strays.count) message(s) it could not read (\(strays[0]))"
            throw HostingError("agent(s) \(missing.joined(separator: ", ")) did not start within \(Int(timeout))s\(heard); see `supervisor logs \(profile) \(missing[0])`")
        }
    }

    func close() {
        server.close()
        loop.close()
        unlink(path)
    }
}
