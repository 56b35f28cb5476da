/// Every type of the protocol, with what the README's event table says of it (the table is
/// generated from this: `EventType.markdownTable`, checked by a test).
public enum EventType: String, CaseIterable, Sendable {
    case user, reply, message
    case toolCall = "tool_call", toolResult = "tool_result", tool
    case command, commandOutput = "command_output"
    case code, block, blockOutput = "block_output"
    case error, final, permission, permissionAnswer = "permission_answer", state, step, tokens, budget, context
    case contextOverflow = "context_overflow", incomplete, perf, conversation, commit
    case start, exit, container, strays, placement, gap, log, attention, invalid

    /// Its fields and what they mean.
    public var fields: String {
        switch self {
        case .user: return "text, source (\"task\", \"pane\", \"send\"): what the agent was told"
        case .reply: return "step, text: the model's whole reply to one request, once complete"
        case .message: return "text: what the agent says (notes, summaries)"
        case .toolCall: return "id, name, input (JSON; when longer than 16 KiB its cut JSON text): a tool the model called"
        case .toolResult: return "id, name, output, is_error: what the tool returned, as the model is shown it"
        case .tool: return "name, phase (\"start\", \"end\", \"error\", \"denied\")"
        case .command: return "text: a shell command it runs (cut at 4 KiB)"
        case .commandOutput: return "output, exit_code: what the command printed"
        case .code: return "n, language, code: a code block it runs"
        case .block: return "n, status, duration: a code block ended"
        case .blockOutput: return "n, status, output: what the block printed, as the model is shown it"
        case .error: return "message: something went wrong; the agent goes on or exits"
        case .final: return "reason: the run's end is conclusive; the shim does not restart it, whatever the exit status and restart policy (a limit or budget ended the task, or the model gave up)"
        case .permission: return "id, tool, summary, diff, choices (\"yes\", \"no\", \"always\"): the coder asks a person whether it may run a tool call, and waits; answered by `POST .../agents/A/permission/ID` or `/permission ID ANSWER` typed in its pane"
        case .permissionAnswer: return "id, tool, answer: the question `id` was answered (from the pane or the network)"
        case .state: return "state: \"thinking\", \"running_tool\", \"waiting\", \"idle\", \"staying\"; the shim's: \"starting\", \"running\", \"exited\", \"restarting\", \"stopping\", \"stopped\", \"failed\""
        case .step: return "n, limit"
        case .tokens: return "input, output, cache_read, cache_write, cost_usd: one model request's amounts (add them up for totals)"
        case .budget: return "budget (\"time\", \"tokens\", \"cost\", \"steps\"), spent, limit"
        case .context: return "elided, dropped, tokens, budget, context_tokens, conversation: what requests leave out of a long session changed (profiles/README.md, \"Long sessions\")"
        case .contextOverflow: return "sent_tokens, budget, conversation: a request did not fit the context window; sent again smaller"
        case .incomplete: return "cut, max_tokens, block_not_run, blocks_run: a reply cut at max_tokens or with an unclosed block; the model is asked to continue"
        case .perf: return "step, model, duration_s, ttft_s, tokens_per_s, cost_usd, conversation (per model request)"
        case .conversation: return "id, resumed, path, finished: the conversation (exec) or session it works in"
        case .commit: return "commit, subject, branch: an autocommit at the end of a turn (`autocommit = true`)"
        case .start: return "pid"
        case .exit: return "status ({code} or {signal}), restarts"
        case .container: return "container, note or error"
        case .strays: return "pids: processes the agent left behind, being ended"
        case .placement: return "engine, note: where the agent's container was placed (engine = \"auto\" placed afresh, or moved because its engine was gone; the note says when the workspace volume was seeded or re-seeded from the host)"
        case .gap: return "bytes, offset, reason: output lost before log offset `offset` (a full disk); the log has a marker line there"
        case .log: return "note, offset: the log file was removed or moved from outside and opened anew"
        case .attention: return "reason (\"waiting_for_input\", \"permission\", \"failed\", \"limit\", \"reached_goal\", \"finished\"), message, profile, kind: the agent needs a person (profiles/README.md, \"Attention\")"
        case .invalid: return "raw: a line that was not a JSON object, kept verbatim (cut at 64 KiB, then truncated)"
        }
    }

    /// Who sends it.
    public var from: String {
        switch self {
        case .start, .exit, .container, .strays, .gap, .log, .attention, .invalid: return "shim"
        case .placement: return "up, start, restart, shim"
        case .state: return "agents, shim"
        case .code, .block, .blockOutput: return "exec"
        case .toolCall, .toolResult, .permission, .permissionAnswer: return "coder"
        case .tool: return "coder, exec"
        case .commandOutput: return "goal"
        case .command: return "goal, coder"
        case .perf: return "exec"
        // From the model engine all three share (Sources/Agents/Engine).
        case .incomplete, .contextOverflow: return "agents"
        case .context, .conversation: return "coder, exec"
        case .commit: return "coder, exec, goal"
        case .step, .budget, .final: return "goal, exec, coder"
        case .user: return "agents; shim (what `supervisor send` typed into a built-in agent)"
        default: return "agents"
        }
    }

    /// The README's table of event types.
    public static var markdownTable: String {
        var out = "| type | fields | from |\n|---|---|---|\n"
        for t in allCases { out += "| `\(t.rawValue)` | \(t.fields) | \(t.from) |\n" }
        return out
    }
}

extension AgentEvent {
    /// The type as written (`"type"`).
    public var type: String { eventType?.rawValue ?? { if case .unknown(let t, _) = self { return t }; return "" }() }

    /// The protocol's type, nil for `.unknown`.
    public var eventType: EventType? {
        switch self {
        case .user: return .user
        case .reply: return .reply
        case .message: return .message
        case .toolCall: return .toolCall
        case .toolResult: return .toolResult
        case .tool: return .tool
        case .command: return .command
        case .commandOutput: return .commandOutput
        case .code: return .code
        case .block: return .block
        case .blockOutput: return .blockOutput
        case .error: return .error
        case .final: return .final
        case .permission: return .permission
        case .permissionAnswer: return .permissionAnswer
        case .state: return .state
        case .step: return .step
        case .tokens: return .tokens
        case .budget: return .budget
        case .context: return .context
        case .contextOverflow: return .contextOverflow
        case .incomplete: return .incomplete
        case .perf: return .perf
        case .conversation: return .conversation
        case .gap: return .gap
        case .placement: return .placement
        case .log: return .log
        case .attention: return .attention
        case .commit: return .commit
        case .start: return .start
        case .exit: return .exit
        case .container: return .container
        case .strays: return .strays
        case .invalid: return .invalid
        case .unknown: return nil
        }
    }

    /// The event's own fields, in the order they are written (without `type` and `v`).
    public var fields: [(String, OrderedJSON)] {
        var f = FieldWriter()
        switch self {
        case let .user(text, source, truncated):
            f.put("text", text); f.put("source", source?.name); f.flag("truncated", truncated)
        case let .reply(step, text, truncated):
            f.put("step", step); f.put("text", text); f.flag("truncated", truncated)
        case let .message(text, truncated):
            f.put("text", text); f.flag("truncated", truncated)
        case let .toolCall(id, name, input, truncated):
            f.put("id", id); f.put("name", name); f.fields.append(("input", input)); f.flag("truncated", truncated)
        case let .toolResult(id, name, output, isError, truncated):
            f.put("id", id); f.put("name", name); f.put("output", output); f.flag("is_error", isError); f.flag("truncated", truncated)
        case let .tool(name, phase):
            f.put("name", name); f.put("phase", phase.name)
        case let .command(text, truncated):
            f.put("text", text); f.flag("truncated", truncated)
        case let .commandOutput(output, exitCode, truncated):
            f.put("output", output); f.put("exit_code", exitCode); f.flag("truncated", truncated)
        case let .code(n, language, code, truncated):
            f.put("n", n); f.put("language", language); f.put("code", code); f.flag("truncated", truncated)
        case let .block(n, status, duration):
            f.put("n", n); f.put("status", status); f.put("duration", duration)
        case let .blockOutput(n, status, output, truncated):
            f.put("n", n); f.put("status", status); f.put("output", output); f.flag("truncated", truncated)
        case let .error(message):
            f.put("message", message)
        case let .final(reason):
            f.put("reason", reason)
        case let .permission(id, tool, summary, diff, choices, truncated):
            f.put("id", id); f.put("tool", tool); f.put("summary", summary); f.put("diff", diff)
            f.fields.append(("choices", .array(choices.map { .string($0.name) }))); f.flag("truncated", truncated)
        case let .permissionAnswer(id, tool, answer):
            f.put("id", id); f.put("tool", tool); f.put("answer", answer.name)
        case let .state(state):
            f.put("state", state.name)
        case let .step(n, limit):
            f.put("n", n); f.put("limit", limit)
        case let .tokens(u):
            f.put("input", u.input); f.put("output", u.output); f.put("cache_read", u.cacheRead)
            f.put("cache_write", u.cacheWrite); f.put("cost_usd", u.costUSD)
        case let .budget(b):
            f.put("budget", b.budget.name); f.put("spent", b.spent); f.put("limit", b.limit)
        case let .context(c):
            f.put("elided", c.elided); f.put("dropped", c.dropped); f.put("tokens", c.tokens); f.put("budget", c.budget)
            f.put("context_tokens", c.contextTokens); f.put("conversation", c.conversation)
        case let .contextOverflow(sent, budget, conversation):
            f.put("sent_tokens", sent); f.put("budget", budget); f.put("conversation", conversation)
        case let .incomplete(cut, maxTokens, blockNotRun, blocksRun):
            f.fields.append(("cut", .bool(cut))); f.put("max_tokens", maxTokens)
            if let blockNotRun { f.fields.append(("block_not_run", .bool(blockNotRun))) }
            f.put("blocks_run", blocksRun)
        case let .perf(p):
            f.put("step", p.step); f.put("model", p.model); f.put("duration_s", p.durationS); f.put("ttft_s", p.ttftS)
            f.put("tokens_per_s", p.tokensPerS); f.put("cost_usd", p.costUSD); f.put("conversation", p.conversation)
        case let .conversation(id, resumed, path, finished):
            f.put("id", id); f.fields.append(("resumed", .bool(resumed))); f.put("path", path); f.put("finished", finished)
        case let .placement(engine, note):
            f.put("engine", engine); f.put("note", note)
        case let .gap(bytes, offset, reason):
            f.put("bytes", bytes); f.put("offset", offset); f.put("reason", reason)
        case let .log(note, offset):
            f.put("note", note); f.put("offset", offset)
        case let .attention(reason, message, profile, kind):
            f.put("profile", profile); f.put("kind", kind); f.put("reason", reason.name); f.put("message", message)
        case let .commit(sha, subject, branch):
            f.put("commit", sha); f.put("subject", subject); f.put("branch", branch)
        case let .start(pid):
            f.put("pid", pid)
        case let .exit(status, restarts):
            switch status {
            case .code(let c): f.fields.append(("status", .object([("code", .int(c))])))
            case .signal(let s): f.fields.append(("status", .object([("signal", .int(s))])))
            }
            f.put("restarts", restarts)
        case let .container(name, note, error):
            f.put("container", name); f.put("note", note); f.put("error", error)
        case let .strays(pids):
            f.fields.append(("pids", .array(pids.map { .int($0) })))
        case let .invalid(raw, truncated):
            f.put("raw", raw); f.flag("truncated", truncated)
        case let .unknown(_, fields):
            return fields
        }
        return f.fields
    }

    /// Decodes an event from its type and fields. A known type whose fields do not fit (a
    /// missing or mistyped field) is `.unknown`, so nothing is lost; `extra` holds the fields
    /// the typed case does not carry (they pass through in the record).
    public static func decode(type: String, fields: [(String, OrderedJSON)]) -> (event: AgentEvent, extra: [(String, OrderedJSON)]) {
        guard let known = EventType(rawValue: type) else { return (.unknown(type: type, fields: fields), []) }
        var r = FieldReader(fields: fields)
        do {
            let event = try decode(known, &r)
            return (event, fields.filter { !r.used.contains($0.0) })
        } catch {
            return (.unknown(type: type, fields: fields), [])
        }
    }

    private static func decode(_ type: EventType, _ r: inout FieldReader) throws -> AgentEvent {
        switch type {
        case .user:
            return .user(text: try r.string("text"), source: try r.optString("source").map(UserSource.init), truncated: try r.flag("truncated"))
        case .reply:
            return .reply(step: try r.optInt("step"), text: try r.string("text"), truncated: try r.flag("truncated"))
        case .message:
            return .message(text: try r.string("text"), truncated: try r.flag("truncated"))
        case .toolCall:
            return .toolCall(id: try r.optString("id"), name: try r.string("name"), input: r.value("input") ?? .null,
                             truncated: try r.flag("truncated"))
        case .toolResult:
            return .toolResult(id: try r.optString("id"), name: try r.string("name"), output: try r.string("output"),
                               isError: try r.flag("is_error"), truncated: try r.flag("truncated"))
        case .tool:
            return .tool(name: try r.string("name"), phase: ToolPhase(try r.string("phase")))
        case .command:
            return .command(text: try r.string("text"), truncated: try r.flag("truncated"))
        case .commandOutput:
            return .commandOutput(output: try r.string("output"), exitCode: try r.optInt("exit_code"), truncated: try r.flag("truncated"))
        case .code:
            return .code(n: try r.int("n"), language: try r.optString("language") ?? "", code: try r.string("code"),
                         truncated: try r.flag("truncated"))
        case .block:
            return .block(n: try r.int("n"), status: try r.string("status"), duration: try r.optDouble("duration"))
        case .blockOutput:
            return .blockOutput(n: try r.int("n"), status: try r.string("status"), output: try r.string("output"),
                                truncated: try r.flag("truncated"))
        case .error:
            return .error(message: try r.string("message"))
        case .final:
            return .final(reason: try r.string("reason"))
        case .permission:
            var choices = PermissionChoice.all
            if let v = r.value("choices") {
                guard case .array(let items) = v else { throw FieldReader.Mismatch() }
                choices = try items.map { item -> PermissionChoice in
                    guard case .string(let s) = item else { throw FieldReader.Mismatch() }
                    return PermissionChoice(s)
                }
            }
            return .permission(id: try r.string("id"), tool: try r.string("tool"), summary: try r.string("summary"),
                               diff: try r.optString("diff"), choices: choices, truncated: try r.flag("truncated"))
        case .permissionAnswer:
            return .permissionAnswer(id: try r.string("id"), tool: try r.string("tool"), answer: PermissionChoice(try r.string("answer")))
        case .state:
            return .state(ActivityState(try r.string("state")))
        case .step:
            return .step(n: try r.int("n"), limit: try r.optInt("limit"))
        case .tokens:
            return .tokens(Usage(input: try r.optInt("input") ?? 0, output: try r.optInt("output") ?? 0,
                                 cacheRead: try r.optInt("cache_read") ?? 0, cacheWrite: try r.optInt("cache_write") ?? 0,
                                 costUSD: try r.optDouble("cost_usd")))
        case .budget:
            return .budget(BudgetUse(budget: Budget(try r.string("budget")), spent: try r.double("spent"), limit: try r.double("limit")))
        case .context:
            return .context(ContextFit(elided: try r.int("elided"), dropped: try r.int("dropped"), tokens: try r.int("tokens"),
                                       budget: try r.optInt("budget"), contextTokens: try r.optInt("context_tokens"),
                                       conversation: try r.optString("conversation")))
        case .contextOverflow:
            return .contextOverflow(sentTokens: try r.int("sent_tokens"), budget: try r.int("budget"), conversation: try r.optString("conversation"))
        case .incomplete:
            return .incomplete(cut: try r.flag("cut"), maxTokens: try r.int("max_tokens"), blockNotRun: try r.optBool("block_not_run"),
                               blocksRun: try r.optInt("blocks_run"))
        case .perf:
            return .perf(Perf(step: try r.optInt("step"), model: try r.optString("model"), durationS: try r.optDouble("duration_s") ?? 0,
                              ttftS: try r.optDouble("ttft_s"), tokensPerS: try r.optDouble("tokens_per_s"),
                              costUSD: try r.optDouble("cost_usd"), conversation: try r.optString("conversation")))
        case .placement:
            return .placement(engine: try r.string("engine"), note: try r.string("note"))
        case .gap:
            return .gap(bytes: try r.int("bytes"), offset: try r.int("offset"), reason: try r.string("reason"))
        case .log:
            return .log(note: try r.string("note"), offset: try r.int("offset"))
        case .attention:
            return .attention(reason: AttentionReason(try r.string("reason")), message: try r.string("message"),
                              profile: try r.optString("profile"), kind: try r.optString("kind"))
        case .commit:
            return .commit(sha: try r.string("commit"), subject: try r.string("subject"), branch: try r.optString("branch"))
        case .conversation:
            return .conversation(id: try r.string("id"), resumed: try r.flag("resumed"), path: try r.optString("path"),
                                 finished: try r.optString("finished"))
        case .start:
            return .start(pid: try r.int("pid"))
        case .exit:
            guard case .object(let s)? = r.value("status") else { throw FieldReader.Mismatch() }
            var st = FieldReader(fields: s)
            let status: ExitCode
            if let c = try st.optInt("code") { status = .code(c) } else { status = .signal(try st.int("signal")) }
            return .exit(status: status, restarts: try r.optInt("restarts"))
        case .container:
            return .container(name: try r.string("container"), note: try r.optString("note"), error: try r.optString("error"))
        case .strays:
            guard case .array(let items)? = r.value("pids") else { throw FieldReader.Mismatch() }
            return .strays(pids: try items.map { v -> Int in
                guard case .number(let n) = v, let i = FieldReader.integer(n) else { throw FieldReader.Mismatch() }
                return i
            })
        case .invalid:
            return .invalid(raw: try r.string("raw"), truncated: try r.flag("truncated"))
        }
    }
}

extension AgentEvent: Equatable {
    /// Equal when they are written the same way.
    public static func == (a: AgentEvent, b: AgentEvent) -> Bool {
        a.type == b.type && OrderedJSON.object(a.fields) == OrderedJSON.object(b.fields)
    }
}

extension OrderedJSON {
    public static func int(_ n: Int) -> OrderedJSON { .number(String(n)) }
    /// Swift's shortest text that reads back as the same value; null for infinities and NaN,
    /// which JSON cannot write.
    public static func double(_ d: Double) -> OrderedJSON {
        guard d.isFinite else { return .null }
        if d == d.rounded(), abs(d) < 1e15 { return .number(String(Int(d))) }
        return .number("\(d)")
    }
}

private struct FieldWriter {
    var fields: [(String, OrderedJSON)] = []
    mutating func put(_ k: String, _ v: String?) { if let v { fields.append((k, .string(v))) } }
    mutating func put(_ k: String, _ v: Int?) { if let v { fields.append((k, .int(v))) } }
    mutating func put(_ k: String, _ v: Double?) { if let v { fields.append((k, .double(v))) } }
    /// Flags are written only when set.
    mutating func flag(_ k: String, _ v: Bool) { if v { fields.append((k, .bool(true))) } }
}

/// Reads typed fields, remembering which it read; a mistyped field throws.
private struct FieldReader {
    struct Mismatch: Error {}
    let fields: [(String, OrderedJSON)]
    var used: Set<String> = []

    init(fields: [(String, OrderedJSON)]) { self.fields = fields }

    /// nil when absent or null.
    mutating func value(_ k: String) -> OrderedJSON? {
        used.insert(k)
        guard let v = fields.first(where: { $0.0 == k })?.1 else { return nil }
        if case .null = v { return nil }
        return v
    }
    mutating func optString(_ k: String) throws -> String? {
        guard let v = value(k) else { return nil }
        guard case .string(let s) = v else { throw Mismatch() }
        return s
    }
    mutating func string(_ k: String) throws -> String {
        guard let s = try optString(k) else { throw Mismatch() }
        return s
    }
    static func integer(_ text: String) -> Int? {
        if let i = Int(text) { return i }
        if let d = Double(text), d == d.rounded(), abs(d) < 9e15 { return Int(d) }
        return nil
    }
    mutating func optInt(_ k: String) throws -> Int? {
        guard let v = value(k) else { return nil }
        guard case .number(let n) = v, let i = FieldReader.integer(n) else { throw Mismatch() }
        return i
    }
    mutating func int(_ k: String) throws -> Int {
        guard let i = try optInt(k) else { throw Mismatch() }
        return i
    }
    mutating func optDouble(_ k: String) throws -> Double? {
        guard let v = value(k) else { return nil }
        guard case .number(let n) = v, let d = Double(n) else { throw Mismatch() }
        return d
    }
    mutating func double(_ k: String) throws -> Double {
        guard let d = try optDouble(k) else { throw Mismatch() }
        return d
    }
    mutating func optBool(_ k: String) throws -> Bool? {
        guard let v = value(k) else { return nil }
        guard case .bool(let b) = v else { throw Mismatch() }
        return b
    }
    /// Absent is false.
    mutating func flag(_ k: String) throws -> Bool { try optBool(k) ?? false }
}

/// One line of an events file: the event and its envelope.
public struct EventRecord: Equatable, Sendable {
    /// ISO-8601 UTC with milliseconds (`EventTime.iso8601`), added by the shim when missing.
    public var ts: String?
    /// The agent's name, added by the shim when missing.
    public var agent: String?
    /// `"v"`: the protocol version it was written with; nil for lines without one.
    public var version: Int?
    public var event: AgentEvent
    /// Fields the typed case does not carry, in their order (a newer writer's, or a program's).
    public var extra: [(String, OrderedJSON)]

    public init(ts: String? = nil, agent: String? = nil, version: Int? = AgentProtocol.version, event: AgentEvent,
                extra: [(String, OrderedJSON)] = []) {
        self.ts = ts; self.agent = agent; self.version = version; self.event = event; self.extra = extra
    }

    public static func == (a: EventRecord, b: EventRecord) -> Bool {
        a.ts == b.ts && a.agent == b.agent && a.version == b.version && a.event == b.event
            && OrderedJSON.object(a.extra) == OrderedJSON.object(b.extra)
    }

    /// `{"ts":...,"agent":...,"type":...,...fields,"v":1,...extra}`. The version comes after the
    /// event's own fields, so a line reads from its type and what matters.
    public var json: OrderedJSON {
        var all: [(String, OrderedJSON)] = []
        if let ts { all.append(("ts", .string(ts))) }
        if let agent { all.append(("agent", .string(agent))) }
        all.append(("type", .string(event.type)))
        all += event.fields
        if let version { all.append(("v", .int(version))) }
        return .object(all + extra)
    }

    /// One line of JSON, without the newline.
    public var line: String { json.serialized() }

    /// The record of a JSON object; nil when it is not an object with a string `type`.
    public init?(json: OrderedJSON) {
        guard case .object(let all) = json, case .string(let type)? = json["type"] else { return nil }
        var rest: [(String, OrderedJSON)] = []
        for (k, v) in all {
            switch (k, v) {
            case ("ts", .string(let s)): ts = s
            case ("agent", .string(let s)): agent = s
            case ("v", .number(let n)) where Int(n) != nil: version = Int(n)
            case ("type", _): continue
            default: rest.append((k, v))
            }
        }
        (event, extra) = AgentEvent.decode(type: type, fields: rest)
    }

    /// Reads one line of an events file. Nil for a blank line; a line that is not a JSON object
    /// with a `type` reads as `.invalid` (as the shim would have written it).
    public init?(line: some StringProtocol) {
        let bytes = Array(line.utf8)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) { return nil }
        if let json = try? OrderedJSON.parse(bytes), let r = EventRecord(json: json) {
            self = r
        } else {
            self.init(version: nil, event: .invalid(raw: String(line), truncated: false))
        }
    }
}

/// The one encoder/decoder of event lines.
public enum EventCodec {
    /// What an agent writes on its events descriptor: `{"type":...,...,"v":1}` and a newline.
    /// The text fields are capped (`EventCaps`).
    public static func agentLine(_ event: AgentEvent) -> String {
        EventRecord(event: event.capped()).line + "\n"
    }

    /// A whole line as the shim writes it to `<agent>.events.jsonl` (without the newline).
    public static func line(_ event: AgentEvent, agent: String, now: Double) -> String {
        EventRecord(ts: EventTime.iso8601(now), agent: agent, event: event).line
    }

    /// Reads the lines of an events file (blank lines skipped).
    public static func records(_ text: some StringProtocol) -> [EventRecord] {
        text.split(separator: "\n", omittingEmptySubsequences: true).compactMap { EventRecord(line: $0) }
    }

    /// Normalizes one line an agent wrote (without or with its trailing newline) into a compact
    /// single-line JSON object string with `ts` and `agent` in front when missing. Nil only for
    /// blank lines; anything else that is not a JSON object becomes `invalid`, never dropped, cut
    /// at `EventCaps.line` bytes. Everything else passes through as written, unknown types and
    /// fields included, in their order.
    public static func normalize(_ line: [UInt8], agent: String, now: Double) -> String? {
        var bytes = line[...]
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }

        if bytes.count > EventCaps.line {
            return invalid(Array(bytes.prefix(EventCaps.line)), truncated: true, agent: agent, now: now)
        }
        guard case .object(var fields)? = try? OrderedJSON.parse(Array(bytes)) else {
            return invalid(Array(bytes), truncated: false, agent: agent, now: now)
        }
        var prefix: [(String, OrderedJSON)] = []
        if !fields.contains(where: { $0.0 == "ts" }) { prefix.append(("ts", .string(EventTime.iso8601(now)))) }
        if !fields.contains(where: { $0.0 == "agent" }) { prefix.append(("agent", .string(agent))) }
        fields.insert(contentsOf: prefix, at: 0)
        return OrderedJSON.object(fields).serialized()
    }

    private static func invalid(_ raw: [UInt8], truncated: Bool, agent: String, now: Double) -> String {
        line(.invalid(raw: String(decoding: raw, as: UTF8.self), truncated: truncated), agent: agent, now: now)
    }
}

public enum EventTime {
    /// `2026-11-22T00:53:08.123Z` for unix seconds `t` (milliseconds truncated).
    public static func iso8601(_ t: Double) -> String {
        let totalMs = t.isFinite ? Int64((t * 1000).rounded(.down)) : 0
        var days = totalMs / 86_400_000
        var msOfDay = totalMs % 86_400_000
        if msOfDay < 0 { msOfDay += 86_400_000; days -= 1 }
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        let h = msOfDay / 3_600_000
        let mi = msOfDay / 60_000 % 60
        let s = msOfDay / 1000 % 60
        let ms = msOfDay % 1000
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(ms, 3))Z"
    }

    /// `2026-11-22T00:53:08.123Z` (also without milliseconds, or with `+00:00`) to unix seconds.
    public static func seconds(iso8601 s: String) -> Double? {
        let b = Array(s.utf8)
        guard b.count >= 19, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54 || b[10] == 0x20, b[13] == 0x3A, b[16] == 0x3A else { return nil }
        func num(_ from: Int, _ count: Int) -> Int? {
            var v = 0
            for i in from..<(from + count) {
                guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                v = v * 10 + Int(b[i] - 0x30)
            }
            return v
        }
        guard let y = num(0, 4), let m = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2), let sec = num(17, 2) else { return nil }
        var fraction = 0.0
        var i = 19
        if i < b.count, b[i] == 0x2E {
            i += 1
            var scale = 0.1
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { fraction += Double(b[i] - 0x30) * scale; scale /= 10; i += 1 }
        }
        // Howard Hinnant's days_from_civil.
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        var seconds = Double(days * 86400 + h * 3600 + mi * 60 + sec) + fraction
        if i + 5 < b.count + 0, i < b.count, b[i] == 0x2B || b[i] == 0x2D, let oh = num(i + 1, 2), let om = num(i + 4, 2) {
            let offset = Double(oh * 3600 + om * 60)
            seconds += b[i] == 0x2B ? -offset : offset
        }
        return seconds
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
