import Foundation
import Glibc
import Hosting
import LLM
import LLMClient
import Loop
import Profile
import XCTest
import _TestSupport
@testable import Agents

/// Records what the agent shows; answers permission prompts from a script.
final class RecordingUI: CoderUI {
    var transcript: [String] = []
    var answers: [PermissionAnswer] = []
    var asked: [String] = []
    /// The diff each question showed (empty for calls without one).
    var askedDiffs: [[String]] = []
    /// Diffs shown after calls the person was not asked about.
    var changes: [(tool: String, diff: [String])] = []
    var messages: [String?] = []
    var statuses: [CoderStatus] = []
    /// Called as streamed answer text arrives and as a tool call starts (tests interrupt there).
    var onDelta: ((String) -> Void)?
    var onToolStart: ((ToolCallInfo) -> Void)?
    private var answerText = ""

    func showUserMessage(_ text: String) { transcript.append("user: \(text)") }
    func showAssistantDelta(_ text: String) { answerText += text; onDelta?(text) }
    func assistantAnswerEnded() { transcript.append("assistant: \(answerText)"); answerText = "" }
    func showToolStart(_ call: ToolCallInfo) { transcript.append("tool: \(call.name)(\(call.summary))"); onToolStart?(call) }
    func showToolResult(_ call: ToolCallInfo, _ output: ToolOutput) { transcript.append("result\(output.isError ? " (error)" : ""): \(call.name)") }
    func showChange(_ call: ToolCallInfo, _ diff: [String]) { changes.append((call.name, diff)) }
    func showNotice(_ text: String) { transcript.append("notice: \(text)") }
    func showError(_ text: String) { transcript.append("error: \(text)") }
    func statusChanged(_ status: CoderStatus) { statuses.append(status) }
    /// Called before each message is handed over (a test changes settings between turns).
    var beforeNextMessage: (() -> Void)?
    func nextMessage(_ deliver: @escaping (String?) -> Void) {
        beforeNextMessage?()
        let next = messages.isEmpty ? nil : messages.removeFirst()
        deliver(next)
    }
    func askPermission(id: String, tool: String, summary: String, diff: [String], completion: @escaping (PermissionAnswer) -> Void) {
        asked.append(tool)
        askedDiffs.append(diff)
        completion(answers.isEmpty ? .no : answers.removeFirst())
    }
}

/// A fake LLM server, an agent on it, a workspace.
final class CoderHarness {
    let loop = EventLoop()
    let server: FakeLLMServer
    let dir = TemporaryDirectory(prefix: "cagent")
    let state = TemporaryDirectory(prefix: "cstate")
    let ui = RecordingUI()
    var client: LLMClient!
    var context: ToolContext!
    var agent: CoderAgent!
    var exitStatus: Int32?
    /// The agent's settings as the engine reads them at each request (`supervisor set`).
    var liveSpec: (() -> AgentSpec)?
    /// Changes the live model settings (as `supervisor set` does).
    func setLive(_ change: @escaping (inout AgentSpec) -> Void) {
        let base = baseSpec
        liveSpec = { var s = base; change(&s); return s }
    }
    private var baseSpec = AgentSpec(name: "coder", kind: .coder, cwd: "/", llm: LLMSettings())

    init() throws {
        server = try FakeLLMServer(loop: loop)
    }

    func makeAgent(prompt: String?, permission: Permission = .yolo, allow: [String]? = nil, deny: [String] = [],
                   session: CoderSession? = nil, hooks: CoderHooks = CoderHooks(), mcp: [MCPServerSpec] = [],
                   box: Box? = nil, events: AgentEvents = AgentEvents(environment: [:]), maxRetries: Int = 0,
                   configure: (inout CoderAgent.Options) -> Void = { _ in }) throws {
        var s = LLMSettings()
        s.provider = .anthropic
        s.model = "claude-test"
        s.baseURL = server.baseURL
        s.apiKeyEnv = "FAKE_CODER_KEY"
        s.maxRetries = maxRetries
        client = try LLMClient(settings: s, loop: loop, environment: ["FAKE_CODER_KEY": "k"])
        baseSpec = AgentSpec(name: "coder", kind: .coder, cwd: dir.path, llm: s)
        baseSpec.limit = AgentSpec.coderDefaultLimit
        let box = box ?? LocalBox(workspace: dir.path, environment: ProcessInfo.processInfo.environment, withheld: [])
        context = ToolContext(loop: loop, box: box, workspace: Workspace(box: box), http: client.http)
        context.useRipgrep = false
        if !mcp.isEmpty { context.mcp = MCPServers(specs: mcp, loop: loop, box: box, logPrefix: state.path + "/coder") }
        var options = CoderAgent.Options(prompt: prompt) { PermissionPolicy(mode: permission, allowTools: allow, denyTools: deny) }
        options.hooks = hooks
        configure(&options)
        let fixed = baseSpec
        let live = LiveSettings(kind: .coder) { [weak self] in self?.liveSpec?() ?? fixed }
        let engine = ModelEngine(model: client, live: live, events: events, clock: LoopClock(loop: loop))
        agent = CoderAgent(engine: engine, tools: CoderAgent.standardTools(), context: context, ui: ui,
                           store: SessionStore(stateDir: state.path),
                           session: session ?? CoderSession(id: "s1", started: "2026-01-01T00:00:00Z", model: "claude-test", workspace: dir.path),
                           options: options)
        agent.onExit = { [weak self] in self?.exitStatus = $0 }
    }

    func run(seconds: Double = 20) throws -> Int32 {
        agent.start(systemPrompt: "test system prompt")
        try runLoop(loop, until: "the agent to exit", seconds: seconds) { exitStatus != nil }
        return exitStatus!
    }

    /// The tool results of the request at `index`'s last message, by tool_use_id.
    func toolResults(_ index: Int) -> [String: (content: String, isError: Bool)] {
        var out: [String: (String, Bool)] = [:]
        guard let messages = server.requests[index].json?["messages"]?.arrayValue, let last = messages.last else { return [:] }
        for block in last["content"]?.arrayValue ?? [] where block["type"]?.stringValue == "tool_result" {
            var text = block["content"]?.stringValue ?? ""
            if let parts = block["content"]?.arrayValue { text = parts.compactMap { $0["text"]?.stringValue }.joined() }
            out[block["tool_use_id"]?.stringValue ?? ""] = (text, block["is_error"]?.boolValue ?? false)
        }
        return out
    }

    func toolNames(_ index: Int) -> [String] {
        server.requests[index].json?["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
    }

    deinit {
        context?.close()
        client?.close()
        server.stop()
        var spins = 0
        while loop.runOnce(wait: false) && spins < 100 { spins += 1 }
        loop.close()
    }
}

func toolCall(_ id: String, _ name: String, _ input: JSONValue) -> FakeReply.Item {
    .tool(id: id, name: name, arguments: input.serialized())
}

final class CoderAgentTests: XCTestCase {
    func testReadEditRunEndToEnd() throws {
        let h = try CoderHarness()
        _ = h.dir.write("greet.py", "print('hello world')\n")
        h.server.enqueue(FakeReply(items: [.text("Reading it."), toolCall("t1", "Read", ["file_path": "greet.py"])]))
        h.server.enqueue(FakeReply(items: [toolCall("t2", "Edit", ["file_path": "greet.py", "old_string": "world", "new_string": "coder"])]))
        h.server.enqueue(FakeReply(items: [toolCall("t3", "Bash", ["command": "python3 greet.py || cat greet.py"])]))
        h.server.enqueue(.text("Changed the greeting to 'hello coder'."))
        try h.makeAgent(prompt: "Make the greeting say coder")
        XCTAssertEqual(try h.run(), 0)

        XCTAssertEqual(try String(contentsOfFile: h.dir.file("greet.py"), encoding: .utf8), "print('hello coder')\n")
        XCTAssertEqual(h.server.requests.count, 4)
        // What the server received: the prompt, then each tool's result.
        let first = h.server.requests[0].json!
        XCTAssertEqual(first["system"]?.stringValue ?? first["system"]?[0]?["text"]?.stringValue, "test system prompt")
        XCTAssertEqual(Set(h.toolNames(0)), ["Bash", "Read", "Write", "Edit", "Glob", "Grep", "WebFetch"])
        XCTAssertTrue(h.toolResults(1)["t1"]!.content.contains("     1\tprint('hello world')"), "\(h.toolResults(1))")
        XCTAssertEqual(h.toolResults(2)["t2"]!.content, "Edited greet.py: 1 replacement")
        let bash = h.toolResults(3)["t3"]!
        XCTAssertTrue(bash.content.contains("hello coder"), bash.content)
        XCTAssertTrue(bash.content.contains("[exit 0]"), bash.content)
        XCTAssertFalse(bash.isError)
        XCTAssertEqual(h.ui.transcript, [
            "user: Make the greeting say coder", "assistant: Reading it.", "tool: Read(greet.py)", "result: Read",
            "tool: Edit(greet.py)", "result: Edit", "tool: Bash(python3 greet.py || cat greet.py)", "result: Bash",
            "assistant: Changed the greeting to 'hello coder'.",
        ])
        // Saved: finished, with the whole conversation.
        let saved = try SessionStore(stateDir: h.state.path).load("s1")
        XCTAssertTrue(saved.finished)
        XCTAssertEqual(saved.messages.count, 8)
        XCTAssertEqual(saved.turns, 1)
        XCTAssertEqual(saved.usage.input, 40)
        XCTAssertEqual(saved.lastMessagePreview, "Changed the greeting to 'hello coder'.")
    }

    func testInteractiveTurnsAndFailedRequest() throws {
        let h = try CoderHarness()
        h.server.enqueue(.text("Hi!"))
        h.server.enqueue(.status(400, type: "invalid_request_error", message: "bad thing"))
        h.server.enqueue(.text("Second try works."))
        try h.makeAgent(prompt: nil)
        h.ui.messages = ["hello", "do it", "again", nil]
        XCTAssertEqual(try h.run(), 0)
        XCTAssertEqual(h.server.requests.count, 3)
        XCTAssertTrue(h.ui.transcript.contains { $0.hasPrefix("error: model request failed") && $0.contains("bad thing") }, "\(h.ui.transcript)")
        // The failed message and the next are sent as one user message.
        let last = h.server.requests[2].json!["messages"]!.arrayValue!
        XCTAssertEqual(last.count, 3)
        XCTAssertEqual(last[2]["content"]?.arrayValue?.count, 2)
        XCTAssertTrue(try SessionStore(stateDir: h.state.path).load("s1").finished)
    }

    func testOneShotFailureExitsNonZero() throws {
        let h = try CoderHarness()
        h.server.enqueue(.status(400, type: "invalid_request_error", message: "nope"))
        try h.makeAgent(prompt: "x")
        XCTAssertEqual(try h.run(), 1)
        XCTAssertFalse(try SessionStore(stateDir: h.state.path).load("s1").finished)
    }

    // MARK: Permissions

    func testAskModeDeniedCallIsNotRun() throws {
        let h = try CoderHarness()
        h.server.enqueue(FakeReply(items: [toolCall("b1", "Bash", ["command": "touch ran.txt"]), toolCall("r1", "Read", ["file_path": "x.txt"])]))
        h.server.enqueue(.text("OK, I won't."))
        _ = h.dir.write("x.txt", "x\n")
        try h.makeAgent(prompt: "go", permission: .ask)
        h.ui.answers = [.no]
        XCTAssertEqual(try h.run(), 0)
        XCTAssertEqual(h.ui.asked, ["Bash"])  // Read never asks
        XCTAssertFalse(FileManager.default.fileExists(atPath: h.dir.file("ran.txt")))
        let results = h.toolResults(1)
        XCTAssertTrue(results["b1"]!.isError)
        XCTAssertTrue(results["b1"]!.content.contains("did not allow"), results["b1"]!.content)
        XCTAssertFalse(results["r1"]!.isError)
    }

    func testAskModeAlwaysStopsAsking() throws {
        let h = try CoderHarness()
        h.server.enqueue(FakeReply(items: [toolCall("w1", "Write", ["file_path": "a.txt", "content": "1"])]))
        h.server.enqueue(FakeReply(items: [toolCall("w2", "Write", ["file_path": "b.txt", "content": "2"]),
                                           toolCall("e1", "Edit", ["file_path": "a.txt", "old_string": "1", "new_string": "3"])]))
        h.server.enqueue(.text("done"))
        try h.makeAgent(prompt: "go", permission: .ask)
        h.ui.answers = [.always, .yes]
        XCTAssertEqual(try h.run(), 0)
        XCTAssertEqual(h.ui.asked, ["Write", "Edit"])
        XCTAssertEqual(try String(contentsOfFile: h.dir.file("a.txt"), encoding: .utf8), "3")
        XCTAssertEqual(try String(contentsOfFile: h.dir.file("b.txt"), encoding: .utf8), "2")
        XCTAssertEqual(try SessionStore(stateDir: h.state.path).load("s1").alwaysAllowed, ["Write"])
    }

    func testPermissionQuestionShowsTheDiffOfEditAndWrite() throws {
        let h = try CoderHarness()
        _ = h.dir.write("a.txt", "one\ntwo\nthree\n")
        _ = h.dir.write("old.txt", "keep\nold\n")
        h.server.enqueue(FakeReply(items: [toolCall("e1", "Edit", ["file_path": "a.txt", "old_string": "two", "new_string": "2"])]))
        h.server.enqueue(FakeReply(items: [toolCall("w1", "Write", ["file_path": "new.txt", "content": "x\ny\n"]),
                                           toolCall("w2", "Write", ["file_path": "old.txt", "content": "keep\nnew\n"]),
                                           toolCall("e2", "Edit", ["file_path": "a.txt", "old_string": "three", "new_string": "3"]),
                                           toolCall("b1", "Bash", ["command": "true"])]))
        h.server.enqueue(.text("done"))
        try h.makeAgent(prompt: "go", permission: .ask)
        h.ui.answers = [.yes, .yes, .yes, .no, .no]
        XCTAssertEqual(try h.run(), 0)
        XCTAssertEqual(h.ui.asked, ["Edit", "Write", "Write", "Edit", "Bash"])
        XCTAssertEqual(h.ui.askedDiffs, [
            ["@@ -1,3 +1,3 @@", " one", "-two", "+2", " three"],
            ["@@ -0,0 +1,2 @@", "+x", "+y"],
            ["@@ -1,2 +1,2 @@", " keep", "-old", "+new"],
            ["@@ -1,3 +1,3 @@", " one", " 2", "-three", "+3"],
            [],
        ])
        // Computing the diff wrote nothing: the refused Edit left the file as it was.
        XCTAssertEqual(try String(contentsOfFile: h.dir.file("a.txt"), encoding: .utf8), "one\n2\nthree\n")
        XCTAssertEqual(try String(contentsOfFile: h.dir.file("new.txt"), encoding: .utf8), "x\ny\n")
        // The model gets the results it got before; the person saw the change in the question only.
        XCTAssertEqual(h.toolResults(1)["e1"]!.content, "Edited a.txt: 1 replacement")
        XCTAssertEqual(h.toolResults(2)["w1"]!.content, "Created new.txt (4 bytes, 2 lines)")
        XCTAssertTrue(h.ui.changes.isEmpty)
    }

    func testChangeIsShownAfterTheCallWhenNotAsked() throws {
        let h = try CoderHarness()
        _ = h.dir.write("a.txt", "one\ntwo\n")
        h.server.enqueue(FakeReply(items: [toolCall("e1", "Edit", ["file_path": "a.txt", "old_string": "two", "new_string": "2"]),
                                           toolCall("e2", "Edit", ["file_path": "a.txt", "old_string": "absent", "new_string": "x"]),
                                           toolCall("w1", "Write", ["file_path": "b.txt", "content": "b"])]))
        h.server.enqueue(.text("done"))
        try h.makeAgent(prompt: "go", permission: .allowEdits)
        XCTAssertEqual(try h.run(), 0)
        XCTAssertEqual(h.ui.asked, [])
        // The failed Edit shows no change.
        XCTAssertEqual(h.ui.changes.map(\.tool), ["Edit", "Write"])
        XCTAssertEqual(h.ui.changes.map(\.diff), [["@@ -1,2 +1,2 @@", " one", "-two", "+2"],
                                                  ["@@ -0,0 +1 @@", "+b", "\\ No newline at end of file"]])
        XCTAssertEqual(h.toolResults(1)["e1"]!.content, "Edited a.txt: 1 replacement")
    }

    func testAllowEditsAsksOnlyForCommandsAndFetches() throws {
        let h = try CoderHarness()
        h.server.enqueue(FakeReply(items: [toolCall("w1", "Write", ["file_path": "a.txt", "content": "1"]),
                                           toolCall("b1", "Bash", ["command": "echo hi"]),
                                           toolCall("f1", "WebFetch", ["url": "http://127.0.0.1:9/"])]))
        h.server.enqueue(.text("done"))
        try h.makeAgent(prompt: "go", permission: .allowEdits)
        h.ui.answers = [.yes, .no]
        XCTAssertEqual(try h.run(), 0)
        XCTAssertEqual(h.ui.asked, ["Bash", "WebFetch"])
        let r = h.toolResults(1)
        XCTAssertFalse(r["w1"]!.isError)
        XCTAssertTrue(r["b1"]!.content.contains("hi"))
        XCTAssertTrue(r["f1"]!.content.contains("did not allow"))
    }

    func testYoloNeverAsksAndDenyListRefuses() throws {
        let h = try CoderHarness()
        h.server.enqueue(FakeReply(items: [toolCall("b1", "Bash", ["command": "echo yolo"]), toolCall("f1", "WebFetch", ["url": "http://x/"])]))
        h.server.enqueue(.text("done"))
        try h.makeAgent(prompt: "go", permission: .yolo, deny: ["WebFetch"])
        XCTAssertEqual(try h.run(), 0)
        XCTAssertEqual(h.ui.asked, [])
        XCTAssertFalse(h.toolNames(0).contains("WebFetch"))
        let r = h.toolResults(1)
        XCTAssertTrue(r["b1"]!.content.contains("yolo"))
        XCTAssertTrue(r["f1"]!.isError)
        XCTAssertTrue(r["f1"]!.content.contains("not allowed"), r["f1"]!.content)
    }

    func testAllowListLimitsTools() throws {
        let p = PermissionPolicy(mode: .yolo, allowTools: ["Read", "Grep"])
        XCTAssertEqual(p.decide("Read"), .allow)
        XCTAssertEqual(p.decide("Bash"), .deny("the Bash tool is not allowed for this agent (allow_tools/deny_tools)"))
        let ask = PermissionPolicy(mode: .ask)
        XCTAssertEqual(["Read", "Glob", "Grep", "Write", "Edit", "Bash", "WebFetch"].map(ask.decide),
                       [.allow, .allow, .allow, .ask, .ask, .ask, .ask])
        XCTAssertEqual(PermissionAnswer(text: " Y\n"), .yes)
        XCTAssertEqual(PermissionAnswer(text: "always"), .always)
        XCTAssertEqual(PermissionAnswer(text: "nah"), .no)
    }

    func testHooksBlockAndObserveToolCalls() throws {
        let h = try CoderHarness()
        h.server.enqueue(FakeReply(items: [toolCall("b1", "Bash", ["command": "rm -rf stuff"]),
                                           toolCall("b2", "Bash", ["command": "echo fine"])]))
        h.server.enqueue(.text("done"))
        let pre = #"case "$TOOL_INPUT" in *rm\ -rf*) echo "no recursive deletes"; exit 2;; esac"#
        let post = #"echo "$TOOL_NAME $TOOL_IS_ERROR" >> hook.log"#
        try h.makeAgent(prompt: "go", hooks: CoderHooks(preTool: pre, postTool: post, stop: "echo stopped > stop.log"))
        XCTAssertEqual(try h.run(), 0)
        let r = h.toolResults(1)
        XCTAssertTrue(r["b1"]!.isError)
        XCTAssertTrue(r["b1"]!.content.contains("no recursive deletes"), r["b1"]!.content)
        XCTAssertTrue(r["b2"]!.content.contains("fine"))
        XCTAssertEqual(try String(contentsOfFile: h.dir.file("hook.log"), encoding: .utf8), "Bash 0\n")
        XCTAssertEqual(try String(contentsOfFile: h.dir.file("stop.log"), encoding: .utf8), "stopped\n")
    }

    // MARK: Parallel tools

    func testReadOnlyToolsRunInParallel() throws {
        let h = try CoderHarness()
        let web = try SlowHTTPServer(loop: h.loop, delay: 0.8)
        defer { web.stop() }
        h.server.enqueue(FakeReply(items: [toolCall("f1", "WebFetch", ["url": .string(web.url("/one"))]),
                                           toolCall("f2", "WebFetch", ["url": .string(web.url("/two"))]),
                                           toolCall("g1", "Glob", ["pattern": "*"])]))
        h.server.enqueue(.text("done"))
        try h.makeAgent(prompt: "fetch both")
        XCTAssertEqual(try h.run(), 0)
        let r = h.toolResults(1)
        XCTAssertTrue(r["f1"]!.content.contains("Page /one"), r["f1"]!.content)
        XCTAssertTrue(r["f2"]!.content.contains("Page /two"), r["f2"]!.content)
        XCTAssertFalse(r["f1"]!.content.contains("<p>"))
        // Both fetches overlapped: the tool phase took about one delay, not two.
        let toolPhase = h.server.requests[1].receivedAt - h.server.requests[0].receivedAt
        XCTAssertLessThan(toolPhase, 1.5, "the two 0.8 s fetches did not overlap")
        XCTAssertEqual(web.maxConcurrent, 2)
    }

    /// `count` empty files under `root`, 100 to a directory (a tree big enough that walking it
    /// takes many milliseconds).
    func makeBigTree(_ root: String, files count: Int) {
        for d in 0..<(count + 99) / 100 {
            let dir = root + "/tree/d\(d)"
            XCTAssertEqual(mkdir(root + "/tree", 0o755) == 0 || errno == EEXIST, true)
            XCTAssertEqual(mkdir(dir, 0o755), 0)
            for f in 0..<min(100, count - d * 100) {
                let fd = open(dir + "/f\(f).txt", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
                XCTAssertGreaterThanOrEqual(fd, 0)
                close(fd)
            }
        }
    }

    /// Glob, Read and the built-in Grep walk and read on a worker thread: the loop keeps
    /// running (a timer keeps firing) while a Glob walks 20,000 files, the calls of one group
    /// overlap, and the output is the same as the walk's done directly.
    func testBigGlobDoesNotBlockTheLoop() throws {
        let h = try CoderHarness()
        makeBigTree(h.dir.path, files: 20_000)
        _ = h.dir.write("notes.md", "hello notes\n")
        h.server.enqueue(FakeReply(items: [toolCall("g1", "Glob", ["pattern": "**/f1?.txt"]),
                                           toolCall("r1", "Read", ["file_path": "notes.md"]),
                                           toolCall("s1", "Grep", ["pattern": "hel+o", "glob": "*.md"])]))
        h.server.enqueue(.text("done"))
        try h.makeAgent(prompt: "list them")
        var globRunning = false
        var ticksWhileGlobRuns = 0
        var othersDoneWhileGlobRuns = 0
        h.ui.onToolStart = { if $0.name == "Glob" { globRunning = true } }
        let timer = LoopTimer(loop: h.loop)
        defer { timer.close() }
        timer.start(milliseconds: 1, repeatMilliseconds: 1) {
            guard globRunning else { return }
            if h.ui.transcript.contains("result: Glob") { globRunning = false; return }
            ticksWhileGlobRuns += 1
            othersDoneWhileGlobRuns = h.ui.transcript.filter { $0 == "result: Read" || $0 == "result: Grep" }.count
        }
        let started = EventLoop.monotonicSeconds()
        XCTAssertEqual(try h.run(seconds: 60), 0)
        XCTAssertLessThan(EventLoop.monotonicSeconds() - started, 30)
        XCTAssertGreaterThanOrEqual(ticksWhileGlobRuns, 2, "the loop was blocked while Glob walked the tree")
        XCTAssertEqual(othersDoneWhileGlobRuns, 2, "Read and Grep did not finish while Glob was still walking")
        let r = h.toolResults(1)
        let direct = GlobTool.glob(["pattern": "**/f1?.txt"], workspace: h.context.workspace)
        XCTAssertEqual(r["g1"]?.content, direct.content)
        XCTAssertEqual(r["g1"]?.content.split(separator: "\n").count, 501)  // 500 shown + the "more" line
        XCTAssertTrue(r["g1"]!.content.hasSuffix("[1500 more not shown; narrow the pattern]"), r["g1"]!.content)
        XCTAssertEqual(r["r1"]?.content, "     1\thello notes\n")
        XCTAssertEqual(r["s1"]?.content, "notes.md")
    }

    /// Esc while a Glob walks a big tree: the walk stops early (it does not list the tree) and
    /// the model is told the person stopped it, as for an interrupted command.
    func testInterruptStopsABigGlob() throws {
        let h = try CoderHarness()
        makeBigTree(h.dir.path, files: 20_000)
        h.server.enqueue(FakeReply(items: [toolCall("g1", "Glob", ["pattern": "**/*.txt"])]))
        h.server.enqueue(.text("Stopped; tell me when to go on."))
        try h.makeAgent(prompt: nil)
        h.ui.messages = ["list everything", "why did it stop?", nil]
        let timer = LoopTimer(loop: h.loop)
        defer { timer.close() }
        var interruptedAt: Double?
        h.ui.onToolStart = { call in
            guard call.name == "Glob" else { return }
            // Once the walk runs (the call starts right after this), like Esc pressed then.
            timer.start(milliseconds: 2) { interruptedAt = EventLoop.monotonicSeconds(); h.agent.interrupt() }
        }
        h.agent.start(systemPrompt: "test system prompt")
        try runLoop(h.loop, until: "the agent to exit", seconds: 60) { h.exitStatus != nil }
        XCTAssertEqual(h.exitStatus, 0)
        XCTAssertNotNil(interruptedAt)
        XCTAssertEqual(h.server.requests.count, 2)
        let g1 = try XCTUnwrap(h.toolResults(1)["g1"])
        XCTAssertTrue(g1.isError)
        XCTAssertTrue(g1.content.hasPrefix("Glob was stopped before it finished"), g1.content)
        XCTAssertTrue(g1.content.hasSuffix(CoderAgent.interruptedWhileRunning), g1.content)
        XCTAssertFalse(g1.content.contains("f1.txt"), g1.content)
        XCTAssertTrue(h.ui.transcript.contains("notice: interrupted"), "\(h.ui.transcript)")
    }

    func testGrouping() {
        func c(_ n: String) -> ToolCallInfo { ToolCallInfo(id: n, name: n, summary: "", input: [:]) }
        let ro: Set<String> = ["Read", "Glob", "Grep", "WebFetch"]
        let calls = ["Read", "Grep", "Edit", "WebFetch", "WebFetch", "Bash", "Bash", "Read"].map(c)
        XCTAssertEqual(CoderAgent.groups(calls) { ro.contains($0) }, [[0, 1], [2], [3, 4], [5], [6], [7]])
    }

    // MARK: Sessions

    func testResumeRepairsInterruptedToolCall() throws {
        let h = try CoderHarness()
        var s = CoderSession(id: "old", started: "2026-01-01T00:00:00Z", model: "m", workspace: h.dir.path)
        s.messages = [.user("run it"), Message(role: .assistant, content: [.toolUse(id: "t9", name: "Bash", input: ["command": "sleep 100"])])]
        h.server.enqueue(.text("It was interrupted; tell me if I should run it again."))
        try h.makeAgent(prompt: "run it", session: s)
        XCTAssertEqual(try h.run(), 0)
        let r = h.toolResults(0)
        XCTAssertTrue(r["t9"]!.isError)
        XCTAssertTrue(r["t9"]!.content.contains("stopped before this tool call finished"))
        XCTAssertTrue(h.ui.transcript.contains("user: run it"))
        XCTAssertTrue(h.ui.transcript.contains { $0.hasPrefix("notice: resumed session old") })
    }

    /// `sessions list`: the last text on one line, its text blocks and lines apart by a space.
    func testSessionPreviewKeepsWordsApart() {
        var s = CoderSession(id: "a", started: "2026-01-01T00:00:00Z", model: "m", workspace: "/w")
        s.messages = [Message(role: .assistant, content: [.text("first line\nsecond"), .text("alpha")])]
        XCTAssertEqual(s.lastMessagePreview, "first line second alpha")
        s.messages = [Message(role: .user, content: [.text(String(repeating: "word ", count: 30))])]
        XCTAssertEqual(s.lastMessagePreview, "you: " + String(repeating: "word ", count: 11) + "word…")
    }

    func testSessionJSONRoundTripAndLatest() throws {
        let state = TemporaryDirectory(prefix: "csess")
        let store = SessionStore(stateDir: state.path)
        var a = CoderSession(id: "a", started: "2026-01-01T00:00:00Z", model: "m", workspace: "/w")
        a.messages = [.user("hi"), Message(role: .assistant, content: [.text("t"), .toolUse(id: "1", name: "Read", input: ["file_path": "x"])]),
                      Message(role: .user, content: [.toolResult(toolUseId: "1", content: "c", isError: true)])]
        a.alwaysAllowed = ["Bash"]
        a.usage = Usage(input: 1, output: 2, cacheRead: 3, cacheWrite: 4)
        try store.save(a)
        XCTAssertEqual(try store.load("a"), a)
        var b = CoderSession(id: "b", started: "2026-01-02T00:00:00Z", model: "m", workspace: "/w")
        b.finished = true
        try store.save(b)
        XCTAssertEqual(store.list().map(\.id), ["a", "b"])
        XCTAssertEqual(store.latestUnfinished()?.id, "a")
        XCTAssertThrowsError(try store.load("../x"))
        XCTAssertThrowsError(try store.load("missing"))
    }

    func testEnvironmentContextInGitRepository() throws {
        let h = try CoderHarness()
        let git = "git init -q -b trunk . && git -c user.email=a@b -c user.name=t commit -q --allow-empty -m first && echo x > new.txt"
        try h.makeAgent(prompt: nil)
        var done = false
        h.context.runCommand(git, timeout: 20) { _ in done = true }
        try runLoop(h.loop, until: "git init", seconds: 20) { done }
        var env: EnvironmentContext?
        EnvironmentContext.gather(context: h.context) { env = $0 }
        try runLoop(h.loop, until: "context", seconds: 20) { env != nil }
        XCTAssertTrue(env!.isGitRepository)
        XCTAssertEqual(env!.gitBranch, "trunk")
        XCTAssertEqual(env!.gitClean, false)
        XCTAssertEqual(env!.recentCommits.count, 1)
        XCTAssertTrue(env!.osVersion.hasPrefix("Linux"))
        XCTAssertTrue(env!.envBlock.contains("Working directory: \(h.dir.path)"))
        XCTAssertTrue(env!.envBlock.contains("Current branch: trunk"))
        XCTAssertTrue(env!.envBlock.contains("first"))
    }
}

/// Answers every GET with a small HTML page after `delay` seconds; counts overlapping requests.
final class SlowHTTPServer {
    let listener: TCPStream
    let loop: EventLoop
    let delay: Double
    var port: Int { listener.localPort }
    private(set) var active = 0
    private(set) var maxConcurrent = 0
    private var connections: [ObjectIdentifier: (TCPStream, LoopTimer)] = [:]

    init(loop: EventLoop, delay: Double) throws {
        self.loop = loop
        self.delay = delay
        listener = TCPStream(loop: loop)
        try listener.bind(host: "127.0.0.1", port: 0)
        try listener.listen { [weak self] conn in self?.accept(conn) }
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    private func accept(_ conn: TCPStream) {
        let timer = LoopTimer(loop: loop)
        let key = ObjectIdentifier(conn)
        connections[key] = (conn, timer)
        var buffer: [UInt8] = []
        try? conn.startReading { [weak self] result in
            guard let self else { return }
            switch result {
            case .data(let bytes):
                buffer.append(contentsOf: bytes)
                guard let end = buffer.firstRange(of: [13, 10, 13, 10]) else { return }
                let head = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
                let path = head.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
                buffer = []
                self.active += 1
                self.maxConcurrent = max(self.maxConcurrent, self.active)
                // Reason: the test's slow server answers after its delay.
                timer.start(seconds: self.delay) {
                    self.active -= 1
                    let body = "<html><body><h1>Page \(path)</h1><p>Some &lt;text&gt;.</p></body></html>"
                    conn.write("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)") { _ in
                        self.drop(key)
                    }
                }
            case .eof, .error:
                self.drop(key)
            }
        }
    }

    private func drop(_ key: ObjectIdentifier) {
        guard let (c, t) = connections.removeValue(forKey: key) else { return }
        t.close()
        c.close()
    }

    func stop() {
        for key in Array(connections.keys) { drop(key) }
        listener.close()
    }
}
