import AgentHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Loop

/// The socket on which newly started shims report that their agent runs (or could not start).
/// Listening before the shims exist means no polling for sockets to appear. A shim whose agent
/// needs keys asks for them here first (`ShimKeys`): the answer is the only way they reach it.
final class StartNoticeListener {
    private let loop = EventLoop()
    private let server: PipeStream
    private let path: String
    private var notices: [String: StartNotice] = [:]
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
                try? connection.startReading { result in
                    switch result {
                    case .data(let bytes): buffer.append(contentsOf: bytes)
                    case .eof, .error:
                        if let request = try? JSONCoding.decode(KeyRequest.self, from: buffer) {
                            let reply = KeyReply(keys: self.keys[request.agent] ?? [:])
                            // A shim killed before it reads this must not take `up` with it.
                            connection.writeSurvivingClose((try? JSONCoding.encodeBytes(reply)) ?? []) { _ in connection.close() }
                            return
                        }
                        if let notice = try? JSONCoding.decode(StartNotice.self, from: buffer) { self.notices[notice.agent] = notice }
                        connection.close()
                    }
                }
            }
        } catch {
            server.close()
            loop.close()
            throw HostingError("cannot listen on \(path): \(error)")
        }
    }

    /// Waits until every named agent has reported; throws the first failure, or names the
    /// agents that stayed silent past the deadline.
    func wait(for agents: [String], timeout: Double, profile: String) throws {
        var expired = false
        let deadline = LoopTimer(loop: loop)
        deadline.start(seconds: timeout) { expired = true } // a shim that never reports is a failed start
        while !agents.allSatisfy({ notices[$0] != nil }) && !expired { loop.runOnce() }
        deadline.close()
        if let failed = agents.compactMap({ notices[$0] }).first(where: { $0.error != nil }) {
            throw HostingError("agent \"\(failed.agent)\" could not start: \(failed.error!)")
        }
        let missing = agents.filter { notices[$0] == nil }
        if !missing.isEmpty {
            throw HostingError("agent(s) \(missing.joined(separator: ", ")) did not start within \(Int(timeout))s; see `supervisor logs \(profile) \(missing[0])`")
        }
    }

    func close() {
        server.close()
        loop.close()
        unlink(path)
    }
}
