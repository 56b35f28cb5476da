// llm-bench: measurements for bench/llm.sh.
//   llm-bench sse [MB]                     SSE decoding throughput
//   llm-bench serve                        fake LLM server on 127.0.0.1; prints the port, runs until killed
//   llm-bench body                         the request body the other commands send (for curl)
//   llm-bench sequential PORT N            N requests one after another through LLMClient
//   llm-bench concurrent PORT N            N concurrent streams on one loop: wall, CPU, peak RSS
import Foundation
import Glibc
import HTTP
import LLM
import LLMClient
import Loop
import Profile
import _TestSupport

setvbuf(stdout, nil, _IOLBF, 0)
let args = CommandLine.arguments

func now() -> Double { EventLoop.monotonicSeconds() }

func benchReply(_ r: FakeRecordPrompt) -> FakeReply {
    var reply = FakeReply.text(String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 8),
                               usage: Usage(input: 20, output: 80))
    reply.textChunk = 12
    reply.intervalMilliseconds = 0
    return reply
}
typealias FakeRecordPrompt = FakeRequestRecord

func settings(port: String) -> LLMSettings {
    var s = LLMSettings()
    s.provider = .anthropic
    s.model = "claude-sonnet-4-5"
    s.baseURL = "http://127.0.0.1:\(port)"
    s.apiKeyEnv = "BENCH_KEY"
    s.maxTokens = 256
    return s
}
let env = ["BENCH_KEY": "bench-key"]

func request(_ c: LLMClient, _ i: Int) -> ChatRequest {
    c.makeRequest(system: "Be brief.", messages: [.user("benchmark question \(i)")])
}

func usage() -> Never {
    FileHandle.standardError.write("usage: llm-bench sse [MB] | serve | body | sequential PORT N | concurrent PORT N\n".data(using: .utf8)!)
    exit(2)
}

func rusage() -> (cpu: Double, maxRSSKB: Int) {
    var u = Glibc.rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    let cpu = Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    return (cpu, u.ru_maxrss)
}

guard args.count >= 2 else { usage() }
switch args[1] {
case "sse":
    let megabytes = args.count > 2 ? Double(args[2]) ?? 32 : 32
    // A realistic Anthropic stream: text deltas of ~12 characters.
    var one = ""
    for i in 0..<1000 {
        one += "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"token \(i) é \"}}\n\n"
    }
    let unit = Array(one.utf8)
    let repeats = max(1, Int(megabytes * 1_048_576) / unit.count)
    let head = Array("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"x\",\"usage\":{\"input_tokens\":1}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n".utf8)
    let chunk = 16384
    // SSE framing only.
    var sse = SSEDecoder()
    var events = 0
    var t0 = now()
    for _ in 0..<repeats {
        var off = 0
        while off < unit.count {
            events += sse.feed(Array(unit[off..<min(off + chunk, unit.count)])).count
            off += chunk
        }
    }
    var dt = now() - t0
    let total = Double(repeats * unit.count) / 1_048_576
    print(String(format: "sse-decoder: %.1f MB in %.3f s = %.1f MB/s (%d events, %.0f events/s)", total, dt, total / dt, events, Double(events) / dt))
    // SSE + Anthropic JSON decoding into neutral events.
    var parser = StreamParser(api: .anthropicMessages)
    _ = parser.feed(head)
    var decoded = 0
    t0 = now()
    for _ in 0..<repeats {
        var off = 0
        while off < unit.count {
            decoded += parser.feed(Array(unit[off..<min(off + chunk, unit.count)])).count
            off += chunk
        }
    }
    dt = now() - t0
    print(String(format: "stream-parser (SSE + anthropic JSON): %.1f MB in %.3f s = %.1f MB/s (%d events)", total, dt, total / dt, decoded))
    // The same plus the Assembler, one response (1000 deltas, ~15 kB of text) at a time.
    var chars = 0
    t0 = now()
    for _ in 0..<repeats {
        var p = StreamParser(api: .anthropicMessages)
        var asm = Assembler(provider: "anthropic")
        asm.apply(p.feed(head))
        var off = 0
        while off < unit.count {
            asm.apply(p.feed(Array(unit[off..<min(off + chunk, unit.count)])))
            off += chunk
        }
        chars += asm.text.count
    }
    dt = now() - t0
    print(String(format: "stream-parser + assembler, per 15 kB response: %.1f MB in %.3f s = %.1f MB/s (%d chars)", total, dt, total / dt, chars))
case "serve":
    let loop = EventLoop()
    let server = try FakeLLMServer(loop: loop)
    server.fallback = benchReply
    print(server.port)
    loop.run()
case "body":
    let c = try LLMClient(settings: settings(port: "1"), loop: EventLoop(), environment: env)
    let spec = WireAPI.anthropicMessages.encode(request(c, 0), apiKey: nil)
    FileHandle.standardOutput.write(Data(spec.body))
case "sequential":
    guard args.count == 4, let n = Int(args[3]) else { usage() }
    let loop = EventLoop()
    let c = try LLMClient(settings: settings(port: args[2]), loop: loop, environment: env)
    var times: [Double] = []
    var ttft: [Double] = []
    for i in 0..<(n + 3) {
        var done: Result<LLMReply, LLMError>?
        let t0 = now()
        c.stream(request: request(c, i), onEvent: { _ in }, completion: { done = $0 })
        while done == nil { loop.runOnce() }
        let r = try done!.get()
        if i >= 3 { times.append(now() - t0); ttft.append(r.metrics.timeToFirstToken ?? 0) }  // 3 warm-up requests
    }
    times.sort()
    let mean = times.reduce(0, +) / Double(times.count)
    print(String(format: "llmclient sequential: %d requests, mean %.3f ms, median %.3f ms, p90 %.3f ms, mean TTFT %.3f ms",
                 n, mean * 1000, times[times.count / 2] * 1000, times[times.count * 9 / 10] * 1000,
                 ttft.reduce(0, +) / Double(ttft.count) * 1000))
    c.close()
case "concurrent":
    guard args.count == 4, let n = Int(args[3]) else { usage() }
    let loop = EventLoop()
    let c = try LLMClient(settings: settings(port: args[2]), loop: loop, environment: env)
    let before = rusage()
    let t0 = now()
    var ok = 0, failed = 0
    for i in 0..<n {
        c.stream(request: request(c, i), onEvent: { _ in }, completion: { r in
            if case .success = r { ok += 1 } else { failed += 1 }
        })
    }
    while ok + failed < n { loop.runOnce() }
    let wall = now() - t0
    let after = rusage()
    print(String(format: "llmclient concurrent: %d streams (%d ok, %d failed) in %.3f s wall, %.3f s CPU (%.3f ms CPU/stream), peak RSS %.1f MB",
                 n, ok, failed, wall, after.cpu - before.cpu, (after.cpu - before.cpu) / Double(n) * 1000, Double(after.maxRSSKB) / 1024))
    c.close()
default:
    usage()
}
