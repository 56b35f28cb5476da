import AgentHost
import AgentProtocol
import AgentTranscript
import Agents
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Hosting
import Profile

/// The HTTP endpoints: each route's answer. Reads go to the files (logs, events, state,
/// conversations), actions to the agent's shim.
extension Server {
    func answer(_ route: Route, _ request: WebRequest, _ reply: @escaping (WebResponse) -> Void) {
        switch route {
        case .page(let name):
            reply(page(name, request))
        case .openAPI:
            reply(.json(200, OpenAPI.document))
        case .session:
            let scope = configuration.access.scope(of: request)?.rawValue ?? "none"
            reply(.json(200, OrderedJSON.object([("scope", .string(scope))]).serialized()))
        case .profiles:
            reply(statusList(profiles.profiles.keys.sorted()))
        case .profile(let p):
            guard profiles.profiles[p] != nil else { return reply(.error(404, "no profile \(p) is up")) }
            reply(statusList([p]))
        default:
            answerAgent(route, request, reply)
        }
    }

    private func answerAgent(_ route: Route, _ request: WebRequest, _ reply: @escaping (WebResponse) -> Void) {
        let (p, a) = route.profileAndAgent!
        guard let agent = profiles.agent(p, a) else { return reply(.error(404, "no agent \(a) in a profile \(p) that is up")) }
        switch route {
        case .agent:
            reply(.json(200, (statusJSON(p, a) ?? .null).serialized()))
        case .log:
            reply(logRange(agent, request))
        case .events:
            reply(eventLines(agent, request))
        case .transcript:
            reply(transcript(agent, request))
        case .screen:
            reply(screen(agent, request))
        case .input:
            act(.input(request.body), agent, reply)
        case .paste:
            guard let text = String(validating: request.body, as: UTF8.self) else { return reply(.error(400, "the body must be UTF-8 text")) }
            act(.paste(text), agent, reply)
        case .control(_, _, let op):
            act(.control(ControlOp(rawValue: op)!), agent, reply)
        case .permission(_, _, let id):
            guard let body = try? OrderedJSON.parse(request.body), case .string(let text)? = body["answer"],
                  PermissionChoice.all.contains(PermissionChoice(text)) else {
                return reply(.error(400, "the body must be {\"answer\": \"yes\" | \"no\" | \"always\"}"))
            }
            let answer = PermissionChoice(text)
            guard questions.open(agent.eventsPath).contains(id) else { return reply(.error(409, "\(agent.name) is not asking question \(id) (answered already, or never asked)")) }
            // As the coder takes it from its pane; it ignores an answer naming another question.
            act(.paste(PermissionReply.text(id: id, answer: answer)), agent, reply)
        case .settings:
            reply(settings(p, agent, request.body))
        case .conversations:
            reply(conversations(p, agent))
        case .conversation(_, _, let id):
            let store = conversationStore(p, agent)
            guard let data = FileManager.default.contents(atPath: store.path(id)) else { return reply(.error(404, "no conversation \(id)")) }
            reply(WebResponse(status: 200, body: Array(data)))
        case .deleteConversation(_, _, let id):
            do {
                try conversationStore(p, agent).delete(id)
                reply(.json(200, "{\"ok\":true}"))
            } catch { reply(.error(409, "\(error)")) }
        case .resumeConversation(_, _, let id):
            guard agent.kind == .exec else { return reply(.error(409, "only exec agents have conversations to resume")) }
            guard FileManager.default.fileExists(atPath: conversationStore(p, agent).path(id)) else { return reply(.error(404, "no conversation \(id)")) }
            act(.paste("/resume \(id)"), agent, reply)
        default:
            reply(.error(404, "no such resource"))
        }
    }

    private func act(_ frame: Frame, _ agent: ProfileRecord.Agent, _ reply: @escaping (WebResponse) -> Void) {
        call(frame, to: agent) { error in
            if let error { reply(.error(502, error)) } else { reply(.json(200, "{\"ok\":true}")) }
        }
    }

    /// What `supervisor status --json` shows, for the given profiles.
    private func statusList(_ names: [String]) -> WebResponse {
        var rows: [OrderedJSON] = []
        for name in names {
            guard let record = profiles.profiles[name]?.record else { continue }
            for agent in record.agents { if let row = statusJSON(name, agent.name) { rows.append(row) } }
        }
        return .json(200, OrderedJSON.array(rows).serialized())
    }

    /// `?from=OFFSET&max=BYTES` of the log, raw; `X-Log-Offset` says where the bytes start (later
    /// than asked when older bytes were rotated away), `X-Log-End` where the log ends.
    private func logRange(_ agent: ProfileRecord.Agent, _ request: WebRequest) -> WebResponse {
        guard let from = UInt64(request.query["from"] ?? "0") else { return .error(400, "from must be a byte offset") }
        let limit = min(Int(request.query["max"] ?? "") ?? configuration.maxLogRange, configuration.maxLogRange)
        do {
            let end = try LogReader.segments(path: agent.logPath).last?.end ?? 0
            let (offset, bytes) = try LogReader.read(path: agent.logPath, from: from, maxBytes: max(0, limit))
            return WebResponse(status: 200, contentType: "application/octet-stream",
                               headers: [.init("X-Log-Offset", String(offset)), .init("X-Log-End", String(end))], body: bytes)
        } catch {
            return .error(404, "no log yet for \(agent.name)")
        }
    }

    /// Whole event lines from byte `?from=` of the events file, and the offset they end at.
    private func eventBytes(_ agent: ProfileRecord.Agent, _ request: WebRequest) -> (lines: [ArraySlice<UInt8>], next: UInt64)? {
        guard let from = UInt64(request.query["from"] ?? "0") else { return nil }
        var bytes: [UInt8] = []
        let fd = open(agent.eventsPath, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            bytes = (try? FileIO.pread(fd: fd, count: configuration.maxLogRange, offset: from, path: agent.eventsPath)) ?? []
        }
        // Whole lines only: the rest comes with the next request.
        if let lastNewline = bytes.lastIndex(of: 0x0A) { bytes.removeSubrange((lastNewline + 1)...) } else { bytes = [] }
        return (bytes.split(separator: 0x0A), from + UInt64(bytes.count))
    }

    /// `{next, events}`: event objects from byte `?from=` (`X-Next-Offset` continues).
    private func eventLines(_ agent: ProfileRecord.Agent, _ request: WebRequest) -> WebResponse {
        guard let (lines, next) = eventBytes(agent, request) else { return .error(400, "from must be a byte offset") }
        let events = lines.compactMap { try? OrderedJSON.parse(Array($0)) }
        return .json(200, OrderedJSON.object([("next", .number(String(next))), ("events", .array(events))]).serialized(),
                     headers: [.init("X-Next-Offset", String(next))])
    }

    /// The conversation as readable text, rendered from the events by the one renderer every
    /// view uses (`TranscriptRenderer`; `?verbose=1` adds states, tokens and timings).
    private func transcript(_ agent: ProfileRecord.Agent, _ request: WebRequest) -> WebResponse {
        guard let (lines, next) = eventBytes(agent, request) else { return .error(400, "from must be a byte offset") }
        let records = lines.compactMap { EventRecord(line: String(decoding: $0, as: UTF8.self)) }
        let text = TranscriptRenderer.render(records, options: .init(colour: false, verbose: request.query["verbose"] == "1"))
        return WebResponse(status: 200, contentType: "text/plain; charset=utf-8", headers: [.init("X-Next-Offset", String(next))],
                           body: Array(text.utf8))
    }

    /// `{end, rows, styles, spans}`: the agent's terminal as the last `?rows=` rows of `?cols=`
    /// columns, as text and as runs with their colours and attributes: the log's last 256 KiB fed
    /// through a virtual screen (libvterm), so cursor moves, redraws and erases land where a
    /// terminal puts them (a page cannot show raw log bytes).
    private func screen(_ agent: ProfileRecord.Agent, _ request: WebRequest) -> WebResponse {
        let rows = min(max(Int(request.query["rows"] ?? "") ?? 24, 2), 200)
        let cols = min(max(Int(request.query["cols"] ?? "") ?? 80, 10), 400)
        let tail = 256 * 1024
        let end: UInt64 = (try? LogReader.segments(path: agent.logPath))?.last?.end ?? 0
        let bytes = (try? LogReader.read(path: agent.logPath, from: end > UInt64(tail) ? end - UInt64(tail) : 0, maxBytes: tail).bytes) ?? []
        let screen = TerminalRows.styled(bytes, rows: rows, cols: cols)
        return .json(200, OrderedJSON.object([("end", .number(String(end)))] + screen.jsonFields).serialized())
    }

    private func conversationStore(_ profile: String, _ agent: ProfileRecord.Agent) -> ConversationStore {
        ConversationStore(stateDir: paths.agentDir(profile: profile, agent: agent.name))
    }

    private func conversations(_ profile: String, _ agent: ProfileRecord.Agent) -> WebResponse {
        let list = conversationStore(profile, agent).list()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let rows: [OrderedJSON] = list.map { conversation in
            var fields: [(String, OrderedJSON)] = [("id", .string(conversation.id))]
            if let data = try? encoder.encode(conversation), let json = try? OrderedJSON.parse(Array(data)),
               case .object(let all) = json {
                // The list leaves out the messages themselves (GET .../conversations/ID has them).
                fields = all.filter { $0.0 != "entries" && $0.0 != "messages" && $0.0 != "blocks" }
            }
            return .object(fields)
        }
        return .json(200, OrderedJSON.array(rows).serialized())
    }

    /// `{"key": "value", ...}` validated like `supervisor set`, persisted the same way.
    private func settings(_ profile: String, _ agent: ProfileRecord.Agent, _ body: [UInt8]) -> WebResponse {
        guard case .object(let fields)? = try? OrderedJSON.parse(body), !fields.isEmpty else {
            return .error(400, "the body must be a JSON object of settings, e.g. {\"limit\": \"50\"}")
        }
        guard let record = profiles.profiles[profile]?.record else { return .error(404, "no profile \(profile) is up") }
        do {
            var all = try Settings.load(paths: paths, profile: profile)
            let loaded = try ProfileLoader.load(path: record.sourcePath).applying(all)
            guard let spec = loaded.agents.first(where: { $0.name == agent.name }) else { return .error(404, "no agent \(agent.name) in \(record.sourcePath)") }
            var mine = all[agent.name] ?? [:]
            for (key, value) in fields {
                let text: String
                switch value {
                case .string(let s): text = s
                case .number(let n): text = n
                case .bool(let b): text = b ? "true" : "false"
                default: return .error(400, "\(key): give the value as a string or number")
                }
                mine[key] = try AgentSettings.validate(key: key, value: text, for: spec)
            }
            all[agent.name] = mine
            try Settings.save(all, paths: paths, profile: profile)
            let applied = mine.sorted { $0.key < $1.key }.map { ($0.key, OrderedJSON.string($0.value.description)) }
            return .json(200, OrderedJSON.object(applied).serialized())
        } catch {
            return .error(400, "\(error)")
        }
    }

    private func page(_ name: String, _ request: WebRequest) -> WebResponse {
        // The browser's login: `/?token=...` becomes an HttpOnly cookie, and the token leaves the
        // address bar (and the history) by a redirect.
        if name == "index.html", let token = request.query["token"] {
            guard configuration.access.scope(ofToken: token) != nil else { return .error(401, "wrong token") }
            let secure = configuration.options.tlsCertificate != nil
            return WebResponse(status: 303, contentType: "text/plain",
                               headers: [.init("Set-Cookie", Access.loginCookie(token, secure: secure)), .init("Location", "/")])
        }
        guard let file = StaticPages.files[name] else { return .error(404, "no page \(name)") }
        return WebResponse(status: 200, contentType: file.contentType, body: Array(file.text.utf8))
    }
}

extension Route {
    var profileAndAgent: (String, String)? {
        switch self {
        case .agent(let p, let a), .log(let p, let a), .events(let p, let a), .transcript(let p, let a), .screen(let p, let a), .input(let p, let a),
             .paste(let p, let a), .control(let p, let a, _), .permission(let p, let a, _), .settings(let p, let a), .conversations(let p, let a),
             .conversation(let p, let a, _), .deleteConversation(let p, let a, _), .resumeConversation(let p, let a, _),
             .streamSocket(let p, let a):
            return (p, a)
        default:
            return nil
        }
    }
}
