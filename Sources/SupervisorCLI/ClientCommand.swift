import AgentProtocol
import Agents
import ArgumentParser
import Foundation
import HTTP
import Hosting
import Loop
import Serve

/// `supervisor client`: a terminal client that speaks only serve's API, so it works from any
/// machine that can reach a `serve`.
struct ClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Follow an agent, or a whole profile, through `supervisor serve` (local or remote); type to send.",
        discussion: """
        With AGENT: its transcript as it streams. Lines typed go to the agent as messages (as from
        its pane); while a coder asks permission (its `permission` event), y/n/a answer that
        question; /start, /stop, /restart act on it; /quit (or Ctrl-D) leaves. Command agents show
        their terminal output instead of a transcript.
        Without AGENT: every agent's events as they happen (the last 20 first), each line under
        its agent's name; `@NAME text` sends to that agent (y/n/a answer its question, /start,
        /stop, /restart act on it); a bare y/n/a answers the one agent that asks.
        The token: --token-file, else $SUPERVISOR_TOKEN, else this machine's own serve token
        ($SUPERVISOR_HOME/serve/control.token).
        """)

    @Option(help: "The serve URL.") var url = "http://127.0.0.1:8765"
    @Option(help: "A file holding the token.") var tokenFile: String?
    @Option(help: "Trust this certificate (PEM) for https://, e.g. a serve's self-signed --tls-cert.") var tlsCa: String?
    @Argument(help: "Profile name.") var profile: String
    @Argument(help: "Agent name (none: the whole profile).") var agent: String?

    func validate() throws {
        guard ServerURL(url) != nil else { throw ValidationError("--url must be http://HOST:PORT or https://HOST:PORT") }
        if let tlsCa, access(tlsCa, R_OK) != 0 { throw ValidationError("cannot read \(tlsCa)") }
    }

    private func token() throws -> String {
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else { throw ValidationError("cannot read \(tokenFile)") }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let environment = ProcessInfo.processInfo.environment
        if let token = environment["SUPERVISOR_TOKEN"], !token.isEmpty { return token }
        let local = TokenFiles.controlPath(home: SupervisorPaths(environment: environment).root)
        if let text = try? String(contentsOfFile: local, encoding: .utf8) { return text.trimmingCharacters(in: .whitespacesAndNewlines) }
        throw ValidationError("no token: give --token-file FILE or set SUPERVISOR_TOKEN")
    }

    /// The loop and an HTTP client (trusting --tls-ca) both modes use, and the base URL and
    /// token header of every request.
    private func session() throws -> (loop: EventLoop, http: HTTPClient, base: String, auth: [(String, String)]) {
        let token = try token()
        let loop = EventLoop()
        var environment = ProcessInfo.processInfo.environment
        if let tlsCa {
            environment["CURL_CA_BUNDLE"] = tlsCa
            environment["SSL_CERT_DIR"] = nil
        }
        return (loop, HTTPClient(loop: loop, environment: environment), url.hasSuffix("/") ? String(url.dropLast()) : url,
                [("Authorization", "Bearer \(token)")])
    }

    /// Runs the loop until `done` (or Ctrl-C), closes what `close` names, the client and the
    /// loop; a failure is printed and exits 1.
    private func run(_ loop: EventLoop, _ http: HTTPClient, until done: () -> Bool, failure: () -> String?, close: () -> Void) throws {
        var interrupted = false
        let interrupt = SignalWatcher(loop: loop)
        try interrupt.start(SIGINT) { _ in interrupted = true }
        while !done() && !interrupted { loop.runOnce() }
        interrupt.close()
        close()
        http.close()
        loop.close()
        if let failure = failure() {
            FileHandle.standardError.write(Data("supervisor client: \(failure)\n".utf8))
            throw ExitCode(1)
        }
    }

    func run() throws {
        guard let agent else { return try followProfile() }
        let (loop, http, base, auth) = try session()
        let agentPath = "/api/profiles/\(profile)/agents/\(agent)"
        let out = FileHandle.standardOutput
        var failure: String?
        var done = false

        // Who it is, and the conversation so far, over HTTP; then the stream.
        func get(_ path: String, _ completion: @escaping (Int, [UInt8], [(String, String)]) -> Void) {
            var body: [UInt8] = []
            var status = 0
            var headers: [(String, String)] = []
            http.start(HTTPRequest(url: base + path, headers: auth, connectTimeout: 10),
                       onHead: { status = $0.status; headers = $0.headers }, onBody: { body += $0 },
                       onComplete: { result in
                           if case .failure(let error) = result { failure = "cannot reach \(base): \(error.message)"; done = true; return }
                           completion(status, body, headers)
                       })
        }
        var view = RemoteView(colour: isatty(1) == 1)
        var socket: WebSocketClient?
        var input: LineInput?
        // When input ends (a pipe, /dev/null) the client leaves once it has shown what the log
        // held when it connected.
        var shownUpTo: UInt64 = 0
        var logEnd: UInt64?
        var inputEnded = false
        var answersInFlight = 0
        func leaveIfShown() {
            if inputEnded, answersInFlight == 0, let logEnd, shownUpTo >= logEnd { done = true }
        }

        // An answer to a permission question goes by HTTP, which checks the question is open; the
        // coder's `permission_answer` event follows on the stream.
        func post(_ answer: PermissionChoice, to id: String) {
            var request = HTTPRequest(method: "POST", url: base + agentPath + "/permission/\(id)", headers: auth + [("Content-Type", "application/json")],
                                      body: RemoteView.answerBody(answer), connectTimeout: 10)
            request.totalTimeout = 30
            var status = 0, body: [UInt8] = []
            answersInFlight += 1
            http.start(request, onHead: { status = $0.status }, onBody: { body += $0 }, onComplete: { _ in
                if status != 200 { out.write(Data("(not answered: \(status) \(String(decoding: body, as: UTF8.self)))\n".utf8)) }
                answersInFlight -= 1
                leaveIfShown()
            })
        }

        func readLines() {
            input?.nextLine { line in
                guard let line else { inputEnded = true; leaveIfShown(); return }
                guard line.trimmingCharacters(in: .whitespaces) != "/quit" else { done = true; return }
                if !line.isEmpty {
                    switch view.action(for: line) {
                    case .send(let message): socket?.send(text: message)
                    case let .answer(id, answer): post(answer, to: id)
                    }
                }
                readLines()
            }
        }

        /// `eventsFrom`: where the transcript read over HTTP ended; the stream continues the
        /// events file from exactly there, and `position` drops any event shown already.
        func openStream(builtIn: Bool, from: UInt64, eventsFrom: UInt64? = nil) {
            let scheme = base.hasPrefix("https") ? "wss" : "ws"
            var wsURL = scheme + base.drop(while: { $0 != ":" }) + agentPath + "/stream?from=\(from)" + (builtIn ? "&output=0" : "")
            if let eventsFrom { wsURL += "&events_from=\(eventsFrom)" }
            var position = EventPosition(from: eventsFrom ?? 0)
            do {
                let client = try WebSocketClient(loop: loop, url: wsURL, headers: auth, caFile: tlsCa)
                client.onMessage = { message, binary in
                    if binary {
                        guard message.count > 8 else { return }
                        out.write(Data(message[8...]))
                        shownUpTo = message.prefix(8).reduce(0) { $0 << 8 | UInt64($1) } + UInt64(message.count - 8)
                    } else {
                        guard position.admit(message) else { return }
                        var hello = false
                        if logEnd == nil, let json = try? OrderedJSON.parse(message), case .string("hello")? = json["type"] {
                            // A transcript client has shown the history already (over HTTP).
                            if !builtIn, case .number(let end)? = json["log_end"] { logEnd = UInt64(end) ?? 0 } else { logEnd = 0 }
                            hello = true
                        }
                        out.write(Data(view.text(message).utf8))
                        if hello {
                            // Lines are read once the hello said what the agent asks, so an answer
                            // typed (or piped) at once finds its question.
                            input = LineInput(loop: loop)
                            readLines()
                        }
                    }
                    leaveIfShown()
                }
                client.onClose = { reason in
                    if let reason { failure = reason }
                    done = true
                }
                socket = client
            } catch { failure = "\(error)"; done = true }
        }

        get(agentPath) { status, body, _ in
            guard status == 200, let json = try? OrderedJSON.parse(body) else {
                failure = status == 401 || status == 403 ? "the server refused the token (\(status))"
                    : "no agent \(agent) in profile \(profile) at \(base) (\(status): \(String(decoding: body, as: UTF8.self)))"
                done = true
                return
            }
            let kind: String = { if case .string(let k)? = json["kind"] { return k }; return "command" }()
            let logBytes: UInt64 = { if case .number(let n)? = json["logBytes"] { return UInt64(n) ?? 0 }; return 0 }()
            if kind == "command" {
                // A command agent: its terminal, from a little before the end.
                openStream(builtIn: false, from: logBytes > 4096 ? logBytes - 4096 : 0)
                return
            }
            get(agentPath + "/transcript") { status, body, headers in
                if status == 200 { out.write(Data(body)) }
                let next = headers.first { $0.0.lowercased() == "x-next-offset" }.flatMap { UInt64($0.1) }
                openStream(builtIn: true, from: 0, eventsFrom: status == 200 ? next ?? 0 : 0)
            }
        }
        try run(loop, http, until: { done }, failure: { failure }, close: { input?.close(); socket?.close() })
    }

    /// Without an agent: the profile's agents, then every agent's events (the events
    /// WebSocket, its last 20 first); typed lines go by HTTP to the agent they name. With input
    /// from a pipe it leaves once the history is shown and what was typed is answered.
    private func followProfile() throws {
        let (loop, http, base, auth) = try session()
        let profilePath = "/api/profiles/\(profile)"
        let out = FileHandle.standardOutput
        var failure: String?
        var done = false
        var view: ProfileView?
        var socket: WebSocketClient?
        var input: LineInput?
        var replayed = false, inputEnded = false, inFlight = 0
        func leaveIfDone() { if inputEnded, replayed, inFlight == 0 { done = true } }

        func request(_ method: String, _ path: String, body: [UInt8] = [], _ completion: @escaping (Int, [UInt8]) -> Void) {
            var status = 0, answer: [UInt8] = []
            var request = HTTPRequest(method: method, url: base + path, headers: auth, body: body, connectTimeout: 10)
            request.totalTimeout = 30
            http.start(request, onHead: { status = $0.status }, onBody: { answer += $0 }, onComplete: { result in
                if case .failure(let error) = result { failure = "cannot reach \(base): \(error.message)"; done = true; return }
                completion(status, answer)
            })
        }
        func post(_ path: String, body: [UInt8] = []) {
            inFlight += 1
            request("POST", profilePath + path, body: body) { status, answer in
                if status != 200 { out.write(Data("(not done: \(status) \(String(decoding: answer, as: UTF8.self)))\n".utf8)) }
                inFlight -= 1
                leaveIfDone()
            }
        }
        func readLines() {
            input?.nextLine { line in
                guard let line else { inputEnded = true; leaveIfDone(); return }
                guard line.trimmingCharacters(in: .whitespaces) != "/quit" else { done = true; return }
                if !line.isEmpty, let view {
                    switch view.action(for: line) {
                    case let .paste(agent, text): post("/agents/\(agent)/paste", body: Array(text.utf8))
                    case let .control(agent, op): post("/agents/\(agent)/\(op)")
                    case let .answer(agent, id, answer): post("/agents/\(agent)/permission/\(id)", body: RemoteView.answerBody(answer))
                    case let .help(text): out.write(Data(text.utf8))
                    }
                }
                readLines()
            }
        }

        request("GET", profilePath) { status, body in
            guard status == 200, case .array(let agents)? = try? OrderedJSON.parse(body) else {
                failure = status == 401 || status == 403 ? "the server refused the token (\(status))"
                    : "no profile \(profile) at \(base) (\(status): \(String(decoding: body, as: UTF8.self)))"
                done = true
                return
            }
            let names = agents.compactMap { status -> String? in if case .string(let name)? = status["agent"] { return name }; return nil }
            var shown = ProfileView(agents: names, colour: isatty(1) == 1)
            for (name, status) in zip(names, agents) {
                let kind: String = { if case .string(let k)? = status["kind"] { return k }; return "?" }()
                let state: String = { if case .string(let s)? = status["state"] { return s }; return "?" }()
                out.write(Data("\(name): \(kind), \(state)\n".utf8))
                out.write(Data(shown.seed(agent: name, status: status).utf8))
            }
            view = shown
            let scheme = base.hasPrefix("https") ? "wss" : "ws"
            do {
                let client = try WebSocketClient(loop: loop, url: scheme + base.drop(while: { $0 != ":" }) + profilePath + "/events?replay=20",
                                                 headers: auth, caFile: tlsCa)
                client.onMessage = { message, binary in
                    guard !binary, var shown = view else { return }
                    out.write(Data(shown.text(message).utf8))
                    view = shown
                    if !replayed, let json = try? OrderedJSON.parse(message), case .string("replayed")? = json["type"] {
                        replayed = true
                        // Lines are read once the history (and so any open question) is shown.
                        input = LineInput(loop: loop)
                        readLines()
                    }
                    leaveIfDone()
                }
                client.onClose = { reason in
                    if let reason { failure = reason }
                    done = true
                }
                socket = client
            } catch { failure = "\(error)"; done = true }
        }
        try run(loop, http, until: { done }, failure: { failure }, close: { input?.close(); socket?.close() })
    }
}
