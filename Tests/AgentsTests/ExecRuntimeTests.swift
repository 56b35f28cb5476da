import XCTest
import Glibc
import LLM
import Loop
@testable import Agents
import _TestSupport

/// The runtime protocol and the Python runtime in isolation (no model).
final class ExecRuntimeTests: XCTestCase {
    var loop: EventLoop!
    var dir: TemporaryDirectory!
    var runtimes: [PythonRuntime] = []

    override func setUp() {
        loop = EventLoop()
        dir = TemporaryDirectory(prefix: "exrt")
    }

    override func tearDown() {
        for r in runtimes {
            let pid = r.pid
            r.close()
            if let pid { _ = try? runLoop(loop, until: "runtime \(pid) gone", seconds: 10) { kill(pid, 0) != 0 || !r.isStarted } }
        }
        runtimes = []
        loop.close()
    }

    func makeRuntime(memoryLimit: Int? = nil, grace: Double = 3) -> PythonRuntime {
        let box = LocalBox(workspace: dir.path, environment: ProcessInfo.processInfo.environment, withheld: ["SECRET_KEY"])
        var o = PythonRuntime.Options()
        o.memoryLimit = memoryLimit
        o.grace = grace
        let r = PythonRuntime(loop: loop, box: box, options: o)
        runtimes.append(r)
        return r
    }

    func run(_ r: PythonRuntime, _ code: String, timeout: Double = 20, seconds: Double = 30) throws -> BlockResult {
        var result: BlockResult?
        r.execute(code: code, name: "block t", timeout: timeout) { result = $0 }
        try runLoop(loop, until: "block result", seconds: seconds) { result != nil }
        return result!
    }

    // MARK: Framing (pure)

    func testFramesSurviveAnySplitAndRoundTrip() throws {
        let a: JSONValue = ["type": "output", "text": "héllo\n"]
        let b: JSONValue = ["type": "result", "id": 7, "value": "42"]
        let bytes = RuntimeFrame.encode(a) + RuntimeFrame.encode(b)
        XCTAssertEqual(Array(bytes[0..<4]), [0, 0, 0, UInt8(a.serializedBytes().count)])
        for cut in 0...bytes.count {
            var d = RuntimeFrameDecoder()
            var frames = try d.feed(Array(bytes[..<cut]))
            frames += try d.feed(Array(bytes[cut...]))
            XCTAssertEqual(frames, [a, b], "split at \(cut)")
            XCTAssertEqual(d.pendingBytes, 0)
        }
    }

    func testOversizedOrBrokenFramesAreErrors() {
        var d = RuntimeFrameDecoder()
        XCTAssertThrowsError(try d.feed([0x7f, 0xff, 0xff, 0xff]))
        var e = RuntimeFrameDecoder()
        XCTAssertThrowsError(try e.feed([0, 0, 0, 3] + Array("{x}".utf8)))
    }

    func testMemorySizes() {
        XCTAssertEqual(parseMemorySize("512m"), 512 << 20)
        XCTAssertEqual(parseMemorySize("2G"), 2 << 30)
        XCTAssertEqual(parseMemorySize("4096"), 4096)
        XCTAssertEqual(parseMemorySize("10k"), 10 << 10)
        XCTAssertNil(parseMemorySize("lots"))
        XCTAssertNil(parseMemorySize("0"))
    }

    // MARK: Code blocks (pure)

    func testFencedAndTaggedBlocksInOrderOthersIgnored() {
        let text = """
        First:
        ```python
        x = 1
        ```
        Not run:
        ```bash
        ls
        ```
        ```
        plain
        ```
        <python>
        y = x + 1
        </python>
        and `print("inline code")` is not a block
        ````Python3
        ```nested fence text```
        z = 3
        ````
        """
        let scan = CodeBlocks.scan(text)
        XCTAssertEqual(scan.blocks, ["x = 1", "y = x + 1", "```nested fence text```\nz = 3"])
        XCTAssertFalse(scan.unterminated)
    }

    func testTagInsideAnotherFenceIsNotRunAndCutOffBlocksAreReported() {
        XCTAssertEqual(CodeBlocks.scan("```text\n<python>print(1)</python>\n```").blocks, [])
        XCTAssertEqual(CodeBlocks.scan("inline <python>print(2)</python> tag").blocks, ["print(2)"])
        let cut = CodeBlocks.scan("Here:\r\n```python\r\nx = [1,\r\n")
        XCTAssertEqual(cut.blocks, [])
        XCTAssertTrue(cut.unterminated)
        XCTAssertTrue(CodeBlocks.scan("<python>x = 1").unterminated)
    }

    // MARK: The runtime

    func testStatePersistsAndTheLastExpressionIsReprd() throws {
        let r = makeRuntime()
        let first = try run(r, "import math\nx = 41\nprint('hello')")
        XCTAssertEqual(first.status, .ok)
        XCTAssertEqual(first.stdout, "hello\n")
        XCTAssertNil(first.value)
        let second = try run(r, "x += 1\n{'x': x, 'pi': round(math.pi, 2)}")
        XCTAssertEqual(second.status, .ok)
        XCTAssertEqual(second.value, "{'x': 42, 'pi': 3.14}")
        let none = try run(r, "None")
        XCTAssertNil(none.value)
        XCTAssertEqual(r.generation, 1)
    }

    func testTracebackStderrAndSyntaxErrors() throws {
        let r = makeRuntime()
        let e = try run(r, "import sys\nprint('warn', file=sys.stderr)\ndef f():\n    return 1 / 0\nf()")
        XCTAssertEqual(e.status, .error)
        XCTAssertEqual(e.errorType, "ZeroDivisionError")
        XCTAssertEqual(e.stderr, "warn\n")
        XCTAssertTrue(e.error!.hasPrefix("Traceback (most recent call last):\n  File \"<block t>\", line 5"), e.error!)
        XCTAssertTrue(e.error!.contains("return 1 / 0"), e.error!)
        XCTAssertTrue(e.error!.hasSuffix("ZeroDivisionError: division by zero\n"), e.error!)
        XCTAssertFalse(e.error!.contains("<string>"), "no runtime frames: \(e.error!)")
        let s = try run(r, "def f(:\n  pass")
        XCTAssertEqual(s.errorType, "SyntaxError")
        XCTAssertFalse(s.error!.contains("Traceback"), s.error!)
        let exit = try run(r, "import sys; sys.exit(4)")
        XCTAssertEqual(exit.errorType, "SystemExit")
        XCTAssertEqual(try run(r, "'still here'").value, "'still here'")
    }

    func testTimeoutInterruptsAndTheRuntimeKeepsItsState() throws {
        let r = makeRuntime()
        _ = try run(r, "kept = 'yes'")
        let start = EventLoop.monotonicSeconds()
        let loopResult = try run(r, "while True:\n    pass", timeout: 0.5)
        XCTAssertEqual(loopResult.status, .interrupted)
        XCTAssertEqual(loopResult.errorType, "KeyboardInterrupt")
        XCTAssertLessThan(EventLoop.monotonicSeconds() - start, 3.5)
        let sleeper = try run(r, "import time\ntime.sleep(60)", timeout: 0.3)
        XCTAssertEqual(sleeper.status, .interrupted)
        XCTAssertEqual(try run(r, "kept").value, "'yes'")
        XCTAssertEqual(r.generation, 1)
    }

    func testABlockThatIgnoresTheInterruptIsKilledAndTheNextRunsFresh() throws {
        let r = makeRuntime(grace: 0.5)
        _ = try run(r, "kept = 1")
        let firstPID = r.pid!
        let stubborn = try run(r, "import time\nwhile True:\n    try:\n        time.sleep(10)\n    except KeyboardInterrupt:\n        pass", timeout: 0.3)
        XCTAssertEqual(stubborn.status, .killed)
        XCTAssertTrue(stubborn.lostState)
        try runLoop(loop, until: "old runtime reaped", seconds: 10) { kill(firstPID, 0) != 0 }
        let next = try run(r, "'kept' in globals()")
        XCTAssertEqual(next.value, "False")
        XCTAssertEqual(r.generation, 2)
    }

    func testABlockSentWhileTheRuntimeIsBeingStoppedRunsInTheNextOne() throws {
        let r = makeRuntime()
        _ = try run(r, "kept = 1")
        r.close() // like /restart: the kill is under way when the next block comes
        let next = try run(r, "'kept' in globals()")
        XCTAssertEqual(next.status, .ok)
        XCTAssertEqual(next.value, "False")
        XCTAssertEqual(r.generation, 2)
    }

    func testACrashIsReportedAndTheNextBlockGetsAFreshRuntime() throws {
        let r = makeRuntime()
        let crash = try run(r, "import os, sys\nsys.stderr.flush()\nos.write(2, b'last words\\n')\nos._exit(3)")
        XCTAssertEqual(crash.status, .crashed)
        XCTAssertTrue(crash.error!.contains("exit 3"), crash.error!)
        XCTAssertTrue(crash.strayOutput.contains("last words"), crash.strayOutput)
        XCTAssertEqual(try run(r, "1 + 1").value, "2")
        XCTAssertEqual(r.generation, 2)
    }

    func testMemoryLimitStopsAHugeAllocationAndTheRuntimeSurvives() throws {
        let r = makeRuntime(memoryLimit: 400 << 20)
        _ = try run(r, "kept = 5")
        let big = try run(r, "block = bytearray(3 * 1024 ** 3)")
        XCTAssertEqual(big.status, .error)
        XCTAssertEqual(big.errorType, "MemoryError")
        XCTAssertEqual(try run(r, "kept * 2").value, "10")
        XCTAssertEqual(r.generation, 1)
    }

    func testHelpersBashFilesAndAnswer() throws {
        let r = makeRuntime()
        _ = dir.write("in.txt", "3\n4\n")
        let b = try run(r, "res = bash('echo out; echo err >&2; echo ${SECRET_KEY:-unset}; exit 3')\n(res.stdout, res.stderr, res.returncode, res.ok)")
        XCTAssertEqual(b.value, "('out\\nunset\\n', 'err\\n', 3, False)")
        let t = try run(r, "bash('sleep 30', timeout=0.2).timed_out")
        XCTAssertEqual(t.value, "True")
        let f = try run(r, "n = sum(int(x) for x in read_file('in.txt').split())\nwrite_file('sub/out.txt', f'{n}\\n')")
        XCTAssertEqual(f.value, "2")
        XCTAssertEqual(String(decoding: FileManager.default.contents(atPath: dir.file("sub/out.txt"))!, as: UTF8.self), "7\n")
        let a = try run(r, "print('before')\nanswer({'n': n})\nprint('after')")
        XCTAssertEqual(a.status, .answer)
        XCTAssertEqual(a.answer, "{'n': 7}")
        XCTAssertEqual(a.stdout, "before\n")
        XCTAssertEqual(try run(r, "answer('plain text')").answer, "plain text")
    }

    func testOutputStreamsLiveAndIsCappedHeadAndTail() throws {
        let r = makeRuntime()
        var live = ""
        r.onOutput = { stream, text in if stream == "stdout" { live += text } }
        let res = try run(r, "for i in range(30000):\n    print(i)")
        XCTAssertEqual(res.status, .ok)
        XCTAssertTrue(res.stdout.hasPrefix("0\n1\n2\n"))
        XCTAssertTrue(res.stdout.hasSuffix("29998\n29999\n"))
        XCTAssertTrue(res.stdout.contains("characters left out"))
        XCTAssertLessThan(res.stdout.count, 21_000)
        XCTAssertTrue(live.hasPrefix("0\n1\n2\n"))
        XCTAssertLessThanOrEqual(live.count, 65_536)
        let fd = try run(r, "import os\nos.system('echo from-a-child')\nprint('py')")
        XCTAssertEqual(fd.stdout, "py\n")
        XCTAssertEqual(fd.strayOutput, "from-a-child\n")
    }
}
