import XCTest
import Foundation
import Glibc
import Hosting
import LLM
import LLMClient
import Loop
import Profile
@testable import Agents
import _TestSupport

/// The orchestrator end to end against the loopback fake model (real HTTP streaming, real python3).
final class ExecAgentTests: XCTestCase {
    var loop: EventLoop!
    var server: FakeLLMServer!
    var dir: TemporaryDirectory!
    var client: LLMClient?
    var runtime: PythonRuntime?
    var display = BufferDisplay()
    var eventPipe: [Int32] = [-1, -1]
    /// What the agent's `spec()` returns: tests change it as `supervisor set` would.
    var liveSpec: AgentSpec!

    override func setUp() {
        loop = EventLoop()
        server = try! FakeLLMServer(loop: loop)
        dir = TemporaryDirectory(prefix: "exag")
    }

    override func tearDown() {
        if let runtime, let pid = runtime.pid {
            runtime.close()
            _ = try? runLoop(loop, until: "runtime gone", seconds: 10) { kill(pid, 0) != 0 || !runtime.isStarted }
        }
        client?.close()
        server.stop()
        for fd in eventPipe where fd >= 0 { close(fd) }
        loop.close()
    }

    func makeAgent(blockTimeout: Double = 10, memoryLimit: String? = nil, limit: Int = 10, grace: Double = 3,
                   provider: LLMProvider = .anthropic, contextTokens: Int? = nil, conversation given: Conversation? = nil,
                   maxRetries: Int = 0) throws -> ExecAgent {
        var llm = LLMSettings()
        llm.provider = provider
        llm.model = provider == .anthropic ? "claude-sonnet-4-5" : "gpt-4o-mini"
        llm.contextTokens = contextTokens
        llm.baseURL = server.baseURL
        llm.apiKeyEnv = "FAKE_LLM_KEY"
        llm.maxTokens = 512
        llm.maxRetries = maxRetries
        var spec = AgentSpec(name: "exec", kind: .exec, cwd: dir.path, llm: llm)
        spec.blockTimeout = blockTimeout
        spec.memoryLimit = memoryLimit
        spec.limit = limit
        liveSpec = spec
        let c = try LLMClient(settings: llm, loop: loop, environment: ["FAKE_LLM_KEY": "fake-key"])
        client = c
        let box = LocalBox(workspace: dir.path, environment: ProcessInfo.processInfo.environment, withheld: ["FAKE_LLM_KEY"])
        var options = PythonRuntime.Options()
        options.memoryLimit = memoryLimit.flatMap(parseMemorySize)
        options.grace = grace
        let r = PythonRuntime(loop: loop, box: box, options: options)
        runtime = r
        XCTAssertEqual(pipe(&eventPipe), 0)
        _ = fcntl(eventPipe[0], F_SETFL, O_NONBLOCK)
        // Room for a turn's events (a long reply alone is ~60 KiB): nobody reads the pipe until
        // the turn ends, and a full pipe would block the agent. 1031 = F_SETPIPE_SZ.
        _ = fcntl(eventPipe[1], 1031, 1 << 20)
        let events = AgentEvents(environment: ["SUPERVISOR_EVENTS_FD": "\(eventPipe[1])"])
        let store = ConversationStore(stateDir: dir.file("state"))
        let conversation = given ?? Conversation(id: "test-1", provider: "anthropic", model: "claude-sonnet-4-5")
        let engine = ModelEngine(model: c, live: LiveSettings(kind: .exec) { [unowned self] in self.liveSpec },
                                 events: events, clock: LoopClock(loop: loop))
        return ExecAgent(loop: loop, engine: engine, runtime: r, store: store, display: display, conversation: conversation)
    }

    func turn(_ agent: ExecAgent, _ prompt: String, seconds: Double = 30) throws -> TurnOutcome {
        var outcome: TurnOutcome?
        agent.send(prompt) { outcome = $0 }
        try runLoop(loop, until: "turn to end", seconds: seconds) { outcome != nil }
        return outcome!
    }

    /// The text of the last message of request `i` (Anthropic wire format).
    func lastMessage(_ i: Int) -> String {
        guard i < server.requests.count, let messages = server.requests[i].json?["messages"]?.arrayValue,
              let content = messages.last?["content"] else { return "<no request \(i)>" }
        if let s = content.stringValue { return s }
        return (content.arrayValue ?? []).compactMap { $0["text"]?.stringValue }.joined()
    }

    /// The messages request `i` sent, without the system prompt (Anthropic or OpenAI wire format).
    func sentMessages(_ i: Int) -> [Message] {
        guard i < server.requests.count, let messages = server.requests[i].json?["messages"]?.arrayValue else { return [] }
        return messages.compactMap { m in
            guard let role = m["role"]?.stringValue, role != "system" else { return nil }
            let content = m["content"]
            let text = content?.stringValue ?? (content?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }.joined()
            return Message(role: role == "assistant" ? .assistant : .user, content: [.text(text)])
        }
    }

    func systemPrompt(_ i: Int) -> String {
        let json = server.requests[i].json
        if let s = json?["system"] { return s.stringValue ?? (s.arrayValue ?? []).compactMap { $0["text"]?.stringValue }.joined() }
        return json?["messages"]?.arrayValue?.first { $0["role"]?.stringValue == "system" }?["content"]?.stringValue ?? ""
    }

    /// A conversation that ran for a while: six blocks that each printed a long log (about
    /// 6 KB, 1700 estimated tokens each), then an answer.
    static func longConversation(id: String = "long-1") -> Conversation {
        var c = Conversation(id: id, provider: "openai", model: "gpt-4o-mini")
        c.turns = 1
        c.append("user", .prompt, "Read the six logs and tell me what is unusual.")
        for i in 1...6 {
            c.append("assistant", .answer, "```python\nprint(read_file('log\(i).txt'))\n```")
            c.append("user", .results, "[block 1: ok, 0.01s]\nstdout:\n" + String(repeating: "log \(i): request served in 12 ms\n", count: 200))
        }
        c.append("assistant", .answer, "Nothing is unusual.")
        c.status = .waiting
        return c
    }

    /// The context event(s) of the event stream.
    func contextEvents(_ evs: [JSONValue]) -> [JSONValue] { evs.filter { $0["type"]?.stringValue == "context" } }

    func withoutDurations(_ s: String) -> String {
        s.replacingOccurrences(of: #", \d+\.\d\ds\]"#, with: ", T]", options: .regularExpression)
    }

    func events() -> [JSONValue] {
        eventLines().compactMap { try? JSONValue.parse($0) }
    }

    /// The event lines written since the last read, as the agent wrote them.
    func eventLines() -> [String] {
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(eventPipe[0], &buf, buf.count)
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    static func python(_ code: String, before: String = "Let me run this.") -> FakeReply {
        .text(before + "\n```python\n" + code + "\n```\n")
    }

    // MARK: Tests

    func testABlockReadsAFileAndTheModelReceivesExactlyItsOutput() throws {
        _ = dir.write("data.txt", "3\n4\n5\n")
        let agent = try makeAgent()
        server.enqueue(Self.python("nums = [int(x) for x in read_file('data.txt').split()]\nprint('sum', sum(nums))\nlen(nums)"))
        server.enqueue(.text("The sum is 12."))
        XCTAssertEqual(try turn(agent, "What is the sum of the numbers in data.txt?"), .answered("The sum is 12."))
        XCTAssertEqual(server.requests.count, 2)
        XCTAssertEqual(lastMessage(0), "What is the sum of the numbers in data.txt?")
        XCTAssertEqual(withoutDurations(lastMessage(1)), "[block 1: ok, T]\nstdout:\nsum 12\nvalue: 3")
        let system = server.requests[0].json?["system"]
        let systemText = system?.stringValue ?? (system?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }.joined()
        XCTAssertTrue(systemText.contains("answer(value)"), systemText)
        XCTAssertTrue(systemText.contains("bash(cmd, timeout=60"), systemText)

        // The conversation file has every step, with timings.
        let stored = try ConversationStore(stateDir: dir.file("state")).load("test-1")
        XCTAssertEqual(stored.messages.map(\.kind), [.prompt, .answer, .results, .answer])
        XCTAssertEqual(stored.runs.count, 1)
        XCTAssertEqual(stored.runs[0].result.stdout, "sum 12\n")
        XCTAssertEqual(stored.requests.count, 2)
        XCTAssertNotNil(stored.requests[0].timeToFirstToken)
        XCTAssertNotNil(stored.requests[0].costUSD)
        XCTAssertEqual(stored.status, .waiting)

        // Performance reaches the pane and the event stream.
        XCTAssertTrue(display.text.contains("ttft "), display.text)
        XCTAssertTrue(display.text.contains("tok/s"), display.text)
        let evs = events()
        let perf = evs.filter { $0["type"]?.stringValue == "perf" }
        XCTAssertEqual(perf.count, 2)
        XCTAssertNotNil(perf.first?["ttft_s"]?.doubleValue)
        XCTAssertNotNil(perf.first?["tokens_per_s"]?.doubleValue)
        XCTAssertNotNil(evs.first { $0["type"]?.stringValue == "tokens" }?["cost_usd"]?.doubleValue)
        XCTAssertEqual(evs.filter { $0["type"]?.stringValue == "tool" }.compactMap { $0["phase"]?.stringValue }, ["start", "end"])
        XCTAssertEqual(evs.last { $0["type"]?.stringValue == "message" }?["text"]?.stringValue, "The sum is 12.")
    }

    /// `autocommit` in an isolated agent's worktree: the turn's changes become one commit named
    /// after the person's message, announced by a `commit` event; a turn that changes nothing
    /// makes none.
    func testAutocommitCommitsEachTurnsChanges() throws {
        func git(_ args: String...) throws -> String {
            let r = try runSubprocess(["git", "-C", dir.path, "-c", "user.name=t", "-c", "user.email=t@t"] + args)
            XCTAssertTrue(r.succeeded, r.errorOutput)
            return r.output
        }
        _ = dir.write(".gitignore", "state/\n")
        _ = try git("init", "-q", "-b", "main")
        _ = try git("add", ".gitignore")
        _ = try git("commit", "-q", "-m", "first")
        let agent = try makeAgent()
        liveSpec.isolation = .worktree
        liveSpec.autocommit = true
        server.enqueue(Self.python("open('made.txt', 'w').write('made\\n')"))
        server.enqueue(.text("Wrote made.txt."))
        XCTAssertEqual(try turn(agent, "Write made.txt\nwith a line in it"), .answered("Wrote made.txt."))
        XCTAssertEqual(try git("log", "-1", "--format=%s%n%b"), "Write made.txt\nSupervisor-Agent: exec\n\n")
        XCTAssertEqual(try git("status", "--porcelain"), "")
        let commit = try XCTUnwrap(events().first { $0["type"]?.stringValue == "commit" })
        XCTAssertEqual(commit["subject"]?.stringValue, "Write made.txt")
        XCTAssertEqual(commit["commit"]?.stringValue, try git("rev-parse", "HEAD").trimmingCharacters(in: .whitespacesAndNewlines))

        server.enqueue(.text("Nothing to do."))
        _ = try turn(agent, "Just answer")
        XCTAssertEqual(try git("rev-list", "--count", "HEAD"), "2\n", "no change, no commit")
        XCTAssertFalse(events().contains { $0["type"]?.stringValue == "commit" })
    }

    func testTheRepliesAndWhatEachBlockPrintedReachTheEventStream() throws {
        let agent = try makeAgent()
        let first = "Let me look.\n```python\nprint('hello \"world\"')\nprint('line two')\n6 * 7\n```\n"
        server.enqueue(.text(first))
        server.enqueue(.text("It printed hello world; the value is 42."))
        XCTAssertEqual(try turn(agent, "run it"), .answered("It printed hello world; the value is 42."))
        let evs = events()

        // One reply event per model request, with its step and whole text.
        let replies = evs.filter { $0["type"]?.stringValue == "reply" }
        XCTAssertEqual(replies.compactMap { $0["step"]?.intValue }, [1, 2])
        XCTAssertEqual(replies.compactMap { $0["text"]?.stringValue }, [first, "It printed hello world; the value is 42."])
        XCTAssertTrue(replies.allSatisfy { $0["truncated"] == nil })

        // The block's output is exactly what the model was shown, right after the block event.
        let outputs = evs.filter { $0["type"]?.stringValue == "block_output" }
        XCTAssertEqual(outputs.count, 1)
        XCTAssertEqual(outputs.first?["n"]?.intValue, 1)
        XCTAssertEqual(outputs.first?["status"]?.stringValue, "ok")
        XCTAssertEqual(outputs.first?["output"]?.stringValue, lastMessage(1))
        XCTAssertEqual(withoutDurations(outputs.first?["output"]?.stringValue ?? ""),
                       "[block 1: ok, T]\nstdout:\nhello \"world\"\nline two\nvalue: 42")
        XCTAssertNil(outputs.first?["truncated"])
        let types = evs.compactMap { $0["type"]?.stringValue }
        if let b = types.firstIndex(of: "block") {
            XCTAssertEqual(types[b + 1], "block_output", "\(types)")
        } else {
            XCTFail("no block event: \(types)")
        }
        // The first reply comes before its block runs; the second after the block's output.
        let order = types.filter { ["reply", "block", "block_output"].contains($0) }
        XCTAssertEqual(order, ["reply", "block", "block_output", "reply"])
    }

    func testLongRepliesAndBlockOutputsAreCutToFitAnEventLine() throws {
        let agent = try makeAgent()
        // 100 KB of reply text (quotes and newlines that grow when escaped), then a block
        // printing 40 000 newlines and control characters.
        let long = String(repeating: "say \"hi\"\n", count: 10_000)
        let first = long + "```python\nimport sys\nsys.stdout.write('\\n\\x01' * 40000)\n```\n"
        var reply = FakeReply.text(first)
        reply.textChunk = 4096
        server.enqueue(reply)
        server.enqueue(.text("done"))
        XCTAssertEqual(try turn(agent, "go"), .answered("done"))
        let lines = eventLines()
        for line in lines {
            // Room left for the "ts" and "agent" fields the shim adds.
            XCTAssertLessThan(line.utf8.count, EventLine.maxLineBytes - 200, String(line.prefix(200)))
        }
        let evs = lines.compactMap { try? JSONValue.parse($0) }

        let replies = evs.filter { $0["type"]?.stringValue == "reply" }
        XCTAssertEqual(replies.count, 2)
        let cutReply = replies.first?["text"]?.stringValue ?? ""
        XCTAssertEqual(replies.first?["truncated"]?.boolValue, true)
        XCTAssertTrue(first.hasPrefix(cutReply))
        XCTAssertGreaterThan(cutReply.utf8.count, 20_000)
        XCTAssertLessThanOrEqual(OrderedJSON.string(cutReply).serialized().utf8.count - 2, AgentEvents.replyTextLimit)
        XCTAssertEqual(replies.last?["text"]?.stringValue, "done")
        XCTAssertNil(replies.last?["truncated"])

        let output = evs.first { $0["type"]?.stringValue == "block_output" }
        let cutOutput = output?["output"]?.stringValue ?? ""
        XCTAssertEqual(output?["truncated"]?.boolValue, true)
        XCTAssertEqual(output?["status"]?.stringValue, "ok")
        XCTAssertTrue(lastMessage(1).hasPrefix(cutOutput))
        XCTAssertTrue(cutOutput.hasPrefix("[block 1: ok"), String(cutOutput.prefix(100)))
        let escaped = OrderedJSON.string(cutOutput).serialized().utf8.count - 2
        XCTAssertLessThanOrEqual(escaped, AgentEvents.blockOutputLimit)
        XCTAssertGreaterThan(escaped, AgentEvents.blockOutputLimit - 6)
    }

    /// A very long `message` (an agent's final answer) keeps its start and stays one valid line.
    func testALongMessageEventIsCutToFitAnEventLine() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        _ = fcntl(fds[1], 1031 /* F_SETPIPE_SZ */, Int32(1 << 20)) // the whole line fits unread
        let events = AgentEvents(environment: ["SUPERVISOR_EVENTS_FD": "\(fds[1])"])
        let long = String(repeating: "line \"quoted\"\n", count: 20_000)
        events.message(long)
        var bytes = [UInt8](repeating: 0, count: 1 << 20)
        let n = read(fds[0], &bytes, bytes.count)
        XCTAssertGreaterThan(n, 0)
        let line = String(decoding: bytes[0..<max(0, n)], as: UTF8.self)
        XCTAssertLessThan(line.utf8.count, EventLine.maxLineBytes - 200)
        let event = try JSONValue.parse(line.trimmingCharacters(in: .newlines))
        XCTAssertEqual(event["truncated"]?.boolValue, true)
        XCTAssertTrue(long.hasPrefix(event["text"]?.stringValue ?? "x"))
    }

    func testTheCapCountsJSONEscapesAndCutsBetweenCharacters() {
        XCTAssertEqual(AgentEvents.capped("short", jsonBytes: 10).text, "short")
        XCTAssertFalse(AgentEvents.capped("0123456789", jsonBytes: 10).truncated)
        XCTAssertEqual(AgentEvents.capped("0123456789a", jsonBytes: 10).text, "0123456789")
        XCTAssertTrue(AgentEvents.capped("0123456789a", jsonBytes: 10).truncated)
        // A newline or a quote takes 2 bytes escaped, a control character 6.
        XCTAssertEqual(AgentEvents.capped("\n\n\n\n\n\n", jsonBytes: 11).text, "\n\n\n\n\n")
        XCTAssertEqual(AgentEvents.capped("ab\u{1}\u{1}", jsonBytes: 10).text, "ab\u{1}")
        // Multi-byte characters are kept whole or left out.
        XCTAssertEqual(AgentEvents.capped("aéééé", jsonBytes: 4).text, "aé")
        XCTAssertEqual(AgentEvents.capped("a😀😀", jsonBytes: 8).text, "a😀")
    }

    func testStatePersistsAcrossBlocksAndAnswerEndsTheTurn() throws {
        let agent = try makeAgent()
        server.enqueue(.text("Two blocks:\n```python\nx = 20\n```\nthen\n<python>\nx * 2 + 2\n</python>\n"))
        server.enqueue(Self.python("import math\nanswer(x + math.floor(0.5))\nprint('never')"))
        XCTAssertEqual(try turn(agent, "go"), .answered("20"))
        XCTAssertEqual(server.requests.count, 2)
        XCTAssertEqual(withoutDurations(lastMessage(1)), "[block 1 of 2: ok, T]\n(no output)\n\n[block 2 of 2: ok, T]\nvalue: 42")
        // The next message carries what answer() ended the turn with, then the person's text.
        server.enqueue(Self.python("x"))
        server.enqueue(.text("x is still 20."))
        XCTAssertEqual(try turn(agent, "and x?"), .answered("x is still 20."))
        XCTAssertTrue(lastMessage(2).contains("answer() was called; the turn ended with: 20"), lastMessage(2))
        XCTAssertTrue(lastMessage(2).hasSuffix("and x?"), lastMessage(2))
        XCTAssertTrue(lastMessage(3).hasSuffix("value: 20"), lastMessage(3))
        XCTAssertEqual(runtime?.generation, 1)
    }

    func testAnInfiniteLoopIsInterruptedByTheTimeoutAndTheNextBlockRuns() throws {
        let agent = try makeAgent(blockTimeout: 0.5)
        server.enqueue(Self.python("kept = 'state'\nwhile True:\n    pass"))
        server.enqueue(Self.python("kept"))
        server.enqueue(.text("Done."))
        XCTAssertEqual(try turn(agent, "loop forever"), .answered("Done."))
        let report = lastMessage(1)
        XCTAssertTrue(report.hasPrefix("[block 1: interrupted, "), report)
        XCTAssertTrue(report.contains("block_timeout (0.50s)"), report)
        XCTAssertTrue(report.contains("KeyboardInterrupt"), report)
        XCTAssertTrue(report.contains("the runtime and its variables are intact"), report)
        XCTAssertEqual(withoutDurations(lastMessage(2)), "[block 1: ok, T]\nvalue: 'state'")
        XCTAssertEqual(runtime?.generation, 1)
    }

    func testATracebackReachesTheModelAndLaterBlocksOfThatAnswerAreSkipped() throws {
        let agent = try makeAgent()
        server.enqueue(.text("```python\ndef lookup(d):\n    return d['missing']\nlookup({})\n```\n```python\nprint('skipped')\n```"))
        server.enqueue(.text("The key is missing."))
        XCTAssertEqual(try turn(agent, "look it up"), .answered("The key is missing."))
        let report = lastMessage(1)
        XCTAssertTrue(report.hasPrefix("[block 1 of 2: error, "), report)
        XCTAssertTrue(report.contains("error:\nTraceback (most recent call last):\n  File \"<block 1>\", line 3, in <module>\n"), report)
        XCTAssertTrue(report.contains("return d['missing']"), report)
        XCTAssertTrue(report.contains("KeyError: 'missing'"), report)
        XCTAssertTrue(report.hasSuffix("[block 2 not run because block 1 did not finish normally]"), report)
        XCTAssertFalse(report.contains("skipped\n"), report)
    }

    func testBashWorksFromPython() throws {
        let agent = try makeAgent()
        server.enqueue(Self.python("r = bash('echo hi-from-bash; echo oops >&2; exit 2')\nprint(r.stdout.strip(), r.stderr.strip(), r.returncode)"))
        server.enqueue(.text("ok"))
        XCTAssertEqual(try turn(agent, "use bash"), .answered("ok"))
        XCTAssertEqual(withoutDurations(lastMessage(1)), "[block 1: ok, T]\nstdout:\nhi-from-bash oops 2")
    }

    func testTheMemoryLimitStopsAHugeAllocationWithoutKillingTheAgent() throws {
        let agent = try makeAgent(memoryLimit: "300m")
        server.enqueue(Self.python("kept = 1\nhuge = bytearray(4 * 1024 ** 3)"))
        server.enqueue(Self.python("kept + 1"))
        server.enqueue(.text("Too big."))
        XCTAssertEqual(try turn(agent, "allocate 4 GiB"), .answered("Too big."))
        let report = lastMessage(1)
        XCTAssertTrue(report.contains("MemoryError"), report)
        XCTAssertTrue(report.contains("(the runtime's memory is limited to 300m)"), report)
        XCTAssertEqual(withoutDurations(lastMessage(2)), "[block 1: ok, T]\nvalue: 2")
        XCTAssertEqual(runtime?.generation, 1)
    }

    func testACrashedRuntimeIsReplacedAndTheModelIsToldItsStateIsGone() throws {
        let agent = try makeAgent()
        server.enqueue(Self.python("x = 1\nimport os\nos._exit(9)"))
        server.enqueue(Self.python("'x' in globals()"))
        server.enqueue(.text("Restarted."))
        XCTAssertEqual(try turn(agent, "crash"), .answered("Restarted."))
        XCTAssertTrue(lastMessage(1).contains("crashed: the python runtime died (exit 9)"), lastMessage(1))
        XCTAssertTrue(lastMessage(1).contains("variables, imports and functions from earlier blocks are gone"), lastMessage(1))
        XCTAssertTrue(lastMessage(2).hasSuffix("value: False"), lastMessage(2))
        XCTAssertEqual(runtime?.generation, 2)
    }

    func testTheStepLimitEndsTheTurn() throws {
        let agent = try makeAgent(limit: 2)
        server.enqueue(Self.python("1"))
        server.enqueue(Self.python("2"))
        server.enqueue(Self.python("3"))
        guard case .limit(let reason) = try turn(agent, "never stop") else { return XCTFail("expected a limit") }
        XCTAssertEqual(reason, "step limit reached (limit = 2)")
        XCTAssertEqual(server.requests.count, 2)
        XCTAssertEqual(agent.conversation.status, .stopped)
        XCTAssertTrue(display.text.contains("stopped: step limit reached"), display.text)
    }

    /// `supervisor set model=/max_tokens=/temperature=` while a turn runs: the next request uses
    /// them (the client was built with the settings at start).
    func testSettingsChangedWhileTheAgentRunsApplyAtTheNextRequest() throws {
        let agent = try makeAgent()
        var replies = [Self.python("6 * 7"), .text("42.")]
        server.fallback = { [unowned self] _ in
            // Between the first request and the second, as `supervisor set` would.
            self.liveSpec.llm.model = "claude-opus-4-1"
            self.liveSpec.llm.maxTokens = 77
            self.liveSpec.llm.temperature = 0.25
            return replies.removeFirst()
        }
        XCTAssertEqual(try turn(agent, "six times seven?"), .answered("42."))
        XCTAssertEqual(server.requests.count, 2)
        let first = server.requests[0].json, second = server.requests[1].json
        XCTAssertEqual(first?["model"]?.stringValue, "claude-sonnet-4-5")
        XCTAssertEqual(first?["max_tokens"]?.doubleValue, 512)
        XCTAssertNil(first?["temperature"])
        XCTAssertEqual(second?["model"]?.stringValue, "claude-opus-4-1")
        XCTAssertEqual(second?["max_tokens"]?.doubleValue, 77)
        XCTAssertEqual(second?["temperature"]?.doubleValue, 0.25)
        XCTAssertTrue(display.text.contains("── claude-opus-4-1 · step 2 ──"), display.text)
        XCTAssertEqual(agent.currentModel, "claude-opus-4-1")
    }

    // MARK: Context window

    /// A long conversation is sent fitted to `context_tokens`: old long results shortened, the
    /// newest whole, the stored conversation whole; the pane and the event stream say so once,
    /// and again when the amount changes (here: `supervisor set context_tokens=` while it runs).
    func testALongConversationIsSentWithinTheContextWindow() throws {
        let agent = try makeAgent(provider: .openai, contextTokens: 8000, conversation: Self.longConversation())
        let whole = ContextFit.tokens(agent.conversation.chatMessages)
        XCTAssertGreaterThan(whole, 10_000, "the history alone is larger than the window")
        server.enqueue(Self.python("len('ok')"))
        server.enqueue(.text("Still nothing."))
        XCTAssertEqual(try turn(agent, "Look once more."), .answered("Still nothing."))
        XCTAssertEqual(server.requests.count, 2)

        for i in 0..<2 {
            let sent = sentMessages(i)
            let budget = ContextFit.messageBudget(contextTokens: 8000, maxTokens: 512, system: systemPrompt(i), tools: [])
            XCTAssertLessThanOrEqual(ContextFit.tokens(sent), budget, "request \(i)")
            XCTAssertEqual(sent.count, i == 0 ? 15 : 17, "nothing left out, old results shortened")
            XCTAssertTrue(sent[2].text.contains("elided to fit the context window"), sent[2].text)
            XCTAssertLessThan(sent[2].text.utf8.count, 1000, "the old log is not sent whole")
            XCTAssertEqual(sent[12].text, agent.conversation.chatMessages[12].text, "the newest results are sent whole")
        }
        XCTAssertEqual(sentMessages(0).last?.text, "Look once more.")

        // The stored conversation is whole.
        let stored = try ConversationStore(stateDir: dir.file("state")).load("long-1")
        XCTAssertTrue(stored.messages[2].text.hasSuffix(String(repeating: "log 1: request served in 12 ms\n", count: 200)))

        // Said once (the amount did not change between the two requests).
        XCTAssertEqual(display.text.components(separatedBy: "[context: ").count - 1, 1, display.text)
        XCTAssertTrue(display.text.contains("long old texts shortened to fit the context window"), display.text)
        var context = contextEvents(events())
        XCTAssertEqual(context.count, 1)
        XCTAssertEqual(context.first?["dropped"]?.intValue, 0)
        XCTAssertEqual(context.first?["context_tokens"]?.intValue, 8000)
        let elided = try XCTUnwrap(context.first?["elided"]?.intValue)
        XCTAssertGreaterThan(elided, 0)

        // `supervisor set context_tokens=` applies at the next request: now everything fits.
        liveSpec.llm.contextTokens = 100_000
        server.enqueue(.text("Fine."))
        XCTAssertEqual(try turn(agent, "Thanks."), .answered("Fine."))
        XCTAssertEqual(sentMessages(2).map(\.text), Array(agent.conversation.chatMessages.map(\.text).dropLast()), "sent whole")
        context = contextEvents(events())
        XCTAssertEqual(context.count, 1)
        XCTAssertEqual(context.first?["elided"]?.intValue, 0)
        XCTAssertTrue(display.text.contains("[context: the whole conversation fits the context window again]"), display.text)
    }

    /// The provider says the request does not fit (OpenAI's HTTP 400 context_length_exceeded):
    /// the agent sends 70% of it again instead of failing, and keeps that budget.
    func testAContextOverflowIsRetriedSmaller() throws {
        let agent = try makeAgent(provider: .openai, conversation: Self.longConversation())
        server.enqueue(Self.contextLengthExceeded())
        server.enqueue(.text("Nothing unusual."))
        XCTAssertEqual(try turn(agent, "Look once more."), .answered("Nothing unusual."))
        XCTAssertEqual(server.requests.count, 2)
        XCTAssertEqual(server.requests[0].path, "/v1/chat/completions")
        let first = ContextFit.tokens(sentMessages(0)), second = ContextFit.tokens(sentMessages(1))
        XCTAssertEqual(sentMessages(0).map(\.text), Array(agent.conversation.chatMessages.map(\.text).dropLast()),
                       "first sent whole (128000-token window)")
        XCTAssertLessThanOrEqual(second, first * 7 / 10)
        XCTAssertEqual(sentMessages(1).last?.text, "Look once more.")
        XCTAssertEqual(agent.conversation.contextCap?.tokens, first * 7 / 10)
        XCTAssertTrue(display.text.contains("did not fit the model's context window; trying again with about \(first * 7 / 10)"), display.text)
        let stored = try ConversationStore(stateDir: dir.file("state")).load("long-1")
        XCTAssertTrue(stored.requests.first?.error?.contains("maximum context length") ?? false, "\(stored.requests)")
        XCTAssertEqual(stored.contextCap, agent.conversation.contextCap)
        XCTAssertEqual(events().filter { $0["type"]?.stringValue == "context_overflow" }.count, 1)

        // The smaller budget is kept for the conversation.
        server.enqueue(.text("Yes."))
        XCTAssertEqual(try turn(agent, "Sure?"), .answered("Yes."))
        XCTAssertLessThanOrEqual(ContextFit.tokens(sentMessages(2)), first * 7 / 10)
    }

    /// Up to 3 times smaller (the engine's one policy): then the turn ends with the provider's error.
    func testAnOverflowThatDoesNotGoAwayFailsTheTurn() throws {
        let agent = try makeAgent(provider: .openai, conversation: Self.longConversation())
        for _ in 0...ModelEngine.overflowRetries { server.enqueue(Self.contextLengthExceeded()) }
        server.enqueue(.text("never sent"))
        guard case .failed(let why) = try turn(agent, "Look once more.") else { return XCTFail("expected a failure") }
        XCTAssertEqual(server.requests.count, 1 + ModelEngine.overflowRetries)
        XCTAssertTrue(why.contains("context_length_exceeded") || why.contains("maximum context length"), why)
        XCTAssertTrue(why.contains("does not fit the model's context window"), why)
        XCTAssertEqual(agent.conversation.status, .stopped)
    }

    /// OpenAI's answer to a request longer than the model's window.
    static func contextLengthExceeded() -> FakeReply {
        let body = #"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 11730 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#
        return FakeReply(items: [], fault: .status(400, body: body, headers: []))
    }

    // MARK: Replies cut at max_tokens

    /// A reply cut at max_tokens without code is not the final answer: the model is told and continues.
    func testAReplyCutAtMaxTokensIsNotTheFinalAnswer() throws {
        let agent = try makeAgent()
        server.enqueue(FakeReply(items: [.text("The numbers add up to")], stopReason: "max_tokens"))
        server.enqueue(.text("The numbers add up to 12."))
        XCTAssertEqual(try turn(agent, "Add them up."), .answered("The numbers add up to 12."))
        XCTAssertEqual(server.requests.count, 2)
        let note = lastMessage(1)
        XCTAssertTrue(note.contains("cut off at max_tokens (512 tokens)"), note)
        XCTAssertTrue(note.contains("not taken as your final answer"), note)
        XCTAssertTrue(display.text.contains("reply cut off at max_tokens (512); the model is asked to continue"), display.text)
        XCTAssertEqual(agent.conversation.messages.map(\.kind), [.prompt, .answer, .note, .answer])
    }

    /// The complete blocks of a cut reply run; the model learns that its last block was cut and not run.
    func testTheCompleteBlocksOfACutReplyRunAndTheCutBlockIsReported() throws {
        let agent = try makeAgent()
        server.enqueue(FakeReply(items: [.text("```python\nx = 41\n```\nthen\n```python\nprint(x + 1)\n```\nand\n```python\nfor i in range(10")],
                                 stopReason: "max_tokens"))
        server.enqueue(.text("42 it is."))
        XCTAssertEqual(try turn(agent, "Compute."), .answered("42 it is."))
        let report = withoutDurations(lastMessage(1))
        XCTAssertTrue(report.hasPrefix("[block 1 of 2: ok, T]\n(no output)\n\n[block 2 of 2: ok, T]\nstdout:\n42\n\n[Your reply was cut off at max_tokens (512 tokens) inside a python block: that block was incomplete and was not run (the complete blocks before it were run, results above)."), report)
        XCTAssertEqual(agent.conversation.runs.map(\.code), ["x = 41", "print(x + 1)"])
        XCTAssertTrue(display.text.contains("reply cut off at max_tokens (512); its last python block was not run"), display.text)
        let incomplete = events().filter { $0["type"]?.stringValue == "incomplete" }
        // The engine's event, the same in every agent (what ran is in the conversation).
        XCTAssertEqual(incomplete.count, 1)
        XCTAssertEqual(incomplete.first?["cut"]?.boolValue, true)
        XCTAssertEqual(incomplete.first?["max_tokens"]?.intValue, 512)
    }

    /// Cut after complete blocks only: they run, and the model is still told it was cut.
    func testACutReplyWhoseBlocksAreCompleteStillSaysItWasCut() throws {
        let agent = try makeAgent()
        server.enqueue(FakeReply(items: [.text("```python\nprint('part 1')\n```\nNext I will")], stopReason: "max_tokens"))
        server.enqueue(.text("Done."))
        XCTAssertEqual(try turn(agent, "Go."), .answered("Done."))
        let report = withoutDurations(lastMessage(1))
        XCTAssertTrue(report.hasPrefix("[block 1: ok, T]\nstdout:\npart 1\n\n[Your reply was cut off at max_tokens (512 tokens); the complete blocks in it were run"), report)
    }

    // MARK: Turn usage

    /// A turn continued by a new process counts what it already used: answered requests of the
    /// current turn (not failed ones, not earlier turns), their tokens and cost, and the time
    /// since the person's message.
    func testTheUsageOfATurnIsRebuiltFromTheStoredConversation() throws {
        var c = Conversation(id: "u", provider: "anthropic", model: "m")
        let began = Date(timeIntervalSince1970: 1_000_000)
        func request(turn: Int, step: Int, error: String? = nil) -> Conversation.Request {
            Conversation.Request(turn: turn, step: step, at: "", model: "m", inputTokens: 100, outputTokens: 10, cacheReadTokens: 5,
                                 cacheWriteTokens: 0, costUSD: 0.01, duration: 1, timeToFirstToken: nil, tokensPerSecond: nil,
                                 attempts: 1, stopReason: error == nil ? "end_turn" : nil, error: error)
        }
        c.turns = 1
        c.append("user", .prompt, "first")
        c.requests.append(request(turn: 1, step: 1))
        c.turns = 2
        c.messages.append(Conversation.Entry(role: "user", kind: .prompt, text: "second", at: Conversation.timestamp(began), turn: 2))
        c.requests += [request(turn: 2, step: 1), request(turn: 2, step: 2, error: "HTTP 529"), request(turn: 2, step: 2)]
        c.requests[3].costUSD = nil

        let u = c.spentThisTurn(date: began.addingTimeInterval(90))
        XCTAssertEqual(u.steps, 2)
        XCTAssertEqual(u.tokens, 2 * 115)
        XCTAssertEqual(u.costUSD ?? 0, 0.01, accuracy: 1e-9)
        XCTAssertEqual(u.seconds, 90, accuracy: 1e-6)

        var spec = AgentSpec(name: "exec", kind: .exec, cwd: "/", llm: LLMSettings())
        spec.limit = 3
        XCTAssertNil(Budgets(spec).reached(u))
        spec.timeBudget = 60
        XCTAssertEqual(Budgets(spec).reached(u)?.sentence, "time budget of 60s used up")
        spec.timeBudget = nil
        spec.limit = 2
        XCTAssertEqual(Budgets(spec).reached(u)?.sentence, "step limit reached (limit = 2)")
        spec.limit = 30
        spec.tokenBudget = 200
        XCTAssertEqual(Budgets(spec).reached(u)?.sentence, "token budget of 200 used up (230 tokens)")
    }
}

extension ExecAgentTests {
    // MARK: Faults (the engine's, the same in every agent)

    /// A connection reset mid-stream: the partial reply (with half a block) is discarded, never
    /// run; the request is sent again and the complete reply's block runs once.
    func testAResetMidStreamIsRetriedAndTheHalfBlockNeverRuns() throws {
        let agent = try makeAgent(maxRetries: 2)
        server.enqueue(FakeReply(items: [.text("```python\nopen('ran.txt', 'a').write('x')\nprint(1")], fault: .resetAfter(events: 4)))
        server.enqueue(.text("```python\nopen('ran.txt', 'a').write('x')\n```"))
        server.enqueue(.text("Wrote it."))
        XCTAssertEqual(try turn(agent, "Write ran.txt."), .answered("Wrote it."))
        XCTAssertEqual(server.requests.count, 3)
        XCTAssertEqual(try String(contentsOfFile: dir.file("ran.txt"), encoding: .utf8), "x")
        XCTAssertEqual(agent.conversation.runs.count, 1)
        XCTAssertTrue(display.text.contains("the model's reply broke off after"), display.text)
        XCTAssertEqual(events().filter { $0["type"]?.stringValue == "error" && $0["message"]?.stringValue?.contains("asking again") == true }.count, 1)
    }
}

extension ExecAgentTests {
    func testTheSameFaultsGiveTheSameEventsAsInTheOtherAgents() throws {
        func modelSide() -> [String] { SameFault.modelSide(events().compactMap { $0["type"]?.stringValue }) }
        let agent = try makeAgent()
        server.enqueue(.status(400, type: "invalid_request_error", message: "prompt is too long: 212345 tokens > 200000 maximum"))
        server.enqueue(.text("Done."))
        XCTAssertEqual(try turn(agent, "go"), .answered("Done."))
        XCTAssertEqual(modelSide(), SameFault.tooLongThenAnswer)

        server.enqueue(FakeReply(items: [.text("The answer is")], stopReason: "max_tokens"))
        server.enqueue(.text("42."))
        XCTAssertEqual(try turn(agent, "go on"), .answered("42."))
        XCTAssertEqual(modelSide(), SameFault.cutThenAnswer)

        server.enqueue(.status(429, type: "rate_limit_error", message: "slow down"))
        guard case .failed = try turn(agent, "again") else { return XCTFail("expected a failed turn") }
        XCTAssertEqual(modelSide(), SameFault.rateLimited)
    }
}
