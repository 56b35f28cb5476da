// The offline `script` provider. Format: profiles/README.md, "The script provider".

public struct ScriptParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): \(message)" }
}

public struct ScriptTurn: Equatable, Sendable {
    public enum Item: Equatable, Sendable {
        case text(String)
        case tool(name: String, input: JSONValue)
    }

    public struct Expectation: Equatable, Sendable {
        public var substring: String
        /// true: anywhere in the request (`@expect-any`); false: its last message (`@expect`).
        public var anywhere: Bool
        public var line: Int
    }

    /// Line of the `--- turn` that starts it.
    public var line: Int
    public var label: String
    public var items: [Item] = []
    public var stop: StopReason?
    public var usage: Usage?
    public var expectations: [Expectation] = []
    /// From `@error TYPE MESSAGE`.
    public var error: Failure?

    public struct Failure: Equatable, Sendable {
        public var type: String
        public var message: String
    }

    public init(line: Int, label: String) {
        self.line = line
        self.label = label
    }
}

public struct Script: Equatable, Sendable {
    public var fileName: String
    public var turns: [ScriptTurn]

    public static func parse(_ text: String, fileName: String = "script") throws -> Script {
        var turns: [ScriptTurn] = []
        var pendingText: [(text: String, literal: Bool)] = []
        var lineNo = 0

        func fail(_ msg: String) -> ScriptParseError { ScriptParseError(file: fileName, line: lineNo, message: msg) }
        func flushText() {
            var lines = pendingText[...]
            pendingText = []
            func blank(_ l: (text: String, literal: Bool)) -> Bool {
                !l.literal && l.text.allSatisfy({ $0 == " " || $0 == "\t" })
            }
            while let f = lines.first, blank(f) { lines.removeFirst() }
            while let l = lines.last, blank(l) { lines.removeLast() }
            if !lines.isEmpty, !turns.isEmpty {
                turns[turns.count - 1].items.append(.text(lines.map(\.text).joined(separator: "\n")))
            }
        }

        // "\r\n" is one Character in Swift, so it must be named as a separator itself.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map(String.init)
        if lines.last == "" { lines.removeLast() }
        for raw in lines {
            lineNo += 1
            var line = raw
            if line.hasSuffix("\r") { line.removeLast() }
            if lineNo == 1, line.hasPrefix("\u{FEFF}") { line.removeFirst() }

            if line.hasPrefix("--- turn") {
                flushText()
                let label = String(line.dropFirst("--- turn".count)).trimmingSpaces()
                turns.append(ScriptTurn(line: lineNo, label: label))
                continue
            }
            if line.hasPrefix("@#") { continue }
            if turns.isEmpty {
                if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
                throw fail("expected '--- turn' before the first turn's content")
            }
            guard line.hasPrefix("@") else {
                pendingText.append((line, false))
                continue
            }
            // Directive: "@name rest"
            let body = line.dropFirst()
            let name = String(body.prefix { $0 != " " && $0 != "\t" })
            let rest = String(body.dropFirst(name.count)).trimmingSpaces()
            let t = turns.count - 1
            switch name {
            case "text":
                let literal = body.dropFirst(4)
                pendingText.append((literal.hasPrefix(" ") ? String(literal.dropFirst()) : String(literal), true))
            case "tool":
                flushText()
                let toolName = String(rest.prefix { $0 != " " && $0 != "\t" })
                guard !toolName.isEmpty else { throw fail("@tool needs a tool name") }
                let json = String(rest.dropFirst(toolName.count)).trimmingSpaces()
                var input: JSONValue = .object([:])
                if !json.isEmpty {
                    do { input = try JSONValue.parse(json) } catch {
                        throw fail("@tool \(toolName): \(error)")
                    }
                    guard case .object = input else { throw fail("@tool \(toolName): the input must be a JSON object") }
                }
                turns[t].items.append(.tool(name: toolName, input: input))
            case "stop":
                switch rest {
                case "end_turn", "tool_use", "max_tokens", "stop_sequence": turns[t].stop = StopReason(anthropic: rest)
                default: throw fail("@stop must be end_turn, tool_use, max_tokens or stop_sequence, not '\(rest)'")
                }
            case "usage":
                let n = rest.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { Int($0) }
                guard n.count == 2 || n.count == 4, n.allSatisfy({ $0 != nil && $0! >= 0 }) else {
                    throw fail("@usage needs INPUT OUTPUT [CACHE_READ CACHE_WRITE] as non-negative integers")
                }
                turns[t].usage = Usage(input: n[0]!, output: n[1]!, cacheRead: n.count == 4 ? n[2]! : 0,
                                       cacheWrite: n.count == 4 ? n[3]! : 0)
            case "expect", "expect-any":
                guard !rest.isEmpty else { throw fail("@\(name) needs a substring") }
                turns[t].expectations.append(.init(substring: rest, anywhere: name == "expect-any", line: lineNo))
            case "error":
                let type = String(rest.prefix { $0 != " " && $0 != "\t" })
                guard !type.isEmpty else { throw fail("@error needs an error type and a message") }
                let msg = String(rest.dropFirst(type.count)).trimmingSpaces()
                turns[t].error = .init(type: type, message: msg.isEmpty ? type : msg)
            default:
                throw fail("unknown directive '@\(name)' (use @text for a text line starting with '@')")
            }
        }
        flushText()
        guard !turns.isEmpty else {
            throw ScriptParseError(file: fileName, line: max(1, lineNo), message: "no turns (a turn starts with a line '--- turn')")
        }
        return Script(fileName: fileName, turns: turns)
    }
}

/// Answers requests from a `Script`, one turn per request.
public struct ScriptProvider: Sendable {
    public let script: Script
    public var model: String
    /// Turns used so far (including one whose expectation failed).
    public private(set) var turnsConsumed = 0
    public let provider = "script"

    public init(script: Script, model: String = "script") {
        self.script = script
        self.model = model
    }

    public init(text: String, fileName: String, model: String = "script") throws {
        self.init(script: try Script.parse(text, fileName: fileName), model: model)
    }

    public var remainingTurns: Int { script.turns.count - turnsConsumed }

    static func messageText(_ m: Message) -> String {
        m.content.map { b -> String in
            switch b {
            case .text(let t): return t
            case .toolUse(_, let name, let input): return name + " " + input.serialized()
            case .toolResult(_, let c, _): return c
            }
        }.joined(separator: "\n")
    }

    /// Splits into up to `parts` pieces on Character boundaries.
    static func split(_ s: String, parts: Int) -> [String] {
        let chars = Array(s)
        guard !chars.isEmpty else { return [] }
        let size = max(1, (chars.count + parts - 1) / parts)
        return stride(from: 0, to: chars.count, by: size).map { String(chars[$0..<min($0 + size, chars.count)]) }
    }

    /// The streamed events answering `request`: the next turn, or an error when the
    /// script is exhausted or an `@expect` does not hold.
    public mutating func respond(to request: ChatRequest) -> [StreamEvent] {
        guard turnsConsumed < script.turns.count else {
            return [.error(ProviderError(
                provider: provider, kind: .scriptExhausted,
                message: "\(script.fileName): script exhausted after \(script.turns.count) turn\(script.turns.count == 1 ? "" : "s")"))]
        }
        let n = turnsConsumed
        let turn = script.turns[n]
        turnsConsumed += 1

        let last = request.messages.last.map(Self.messageText) ?? ""
        for x in turn.expectations {
            let haystack = x.anywhere
                ? ([request.system ?? ""] + request.messages.map(Self.messageText)).joined(separator: "\n")
                : last
            if !haystack.contains(x.substring) {
                let whereText = x.anywhere ? "anywhere in the request" : "in its last message"
                return [.error(ProviderError(
                    provider: provider, kind: .scriptExpectation,
                    message: "\(script.fileName):\(x.line): turn \(n + 1) expected the request to contain \"\(x.substring)\" \(whereText); last message was: \"\(last.truncated(300))\""))]
            }
        }

        var out: [StreamEvent] = [.messageStart(id: "msg_script_\(n + 1)", model: model)]
        var outputChars = 0
        var toolCount = 0
        for (index, item) in turn.items.enumerated() {
            switch item {
            case .text(let t):
                outputChars += t.count
                out += Self.split(t, parts: 3).map { .textDelta($0) }
            case .tool(let name, let input):
                toolCount += 1
                let args = input.serialized()
                outputChars += name.count + args.count
                out.append(.toolCallStart(index: index, id: "toolu_script_\(n + 1)_\(toolCount)", name: name))
                out += Self.split(args, parts: 2).map { .toolCallArgumentsDelta(index: index, $0) }
                out.append(.toolCallEnd(index: index))
            }
        }
        if let e = turn.error {
            out.append(.error(ProviderError(provider: provider, kind: .api(type: e.type), message: e.message)))
            return out
        }
        let requestChars = (request.system ?? "").count + request.messages.map { Self.messageText($0).count }.reduce(0, +)
        let usage = turn.usage ?? Usage(input: (requestChars + 3) / 4, output: (outputChars + 3) / 4)
        out.append(.usage(usage))
        out.append(.stop(reason: turn.stop ?? (toolCount > 0 ? .toolUse : .endTurn)))
        return out
    }
}
