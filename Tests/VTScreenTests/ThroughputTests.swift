import XCTest
import Glibc
import VTScreen

/// Feeds large inputs through the screen and checks what it kept; prints MB/s for a person to
/// read. Speed is asserted nowhere (a loaded machine makes any floor flaky; bench/ measures
/// speed as ratios in one run). Run in release for real numbers:
///   VTSCREEN_BENCH_MB=10 swift test -c release -Xswiftc -enable-testing --filter VTScreenTests.ThroughputTests
/// (default 2 MB per run to keep the normal suite quick).
final class ThroughputTests: XCTestCase {
    /// This thread's CPU time, not the wall clock: on a loaded machine (parallel builds, a
    /// fresh-machine run) waiting for a core made the 1 MB/s floor fail at 0.3 MB/s.
    private func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private func measure(_ name: String, megabytes: Int, rows: Int = 50, cols: Int = 200, scrollback: Int = 1000, line: (Int) -> String) -> Double {
        var data: [UInt8] = []
        let megabytes = getenv("VTSCREEN_BENCH_MB").flatMap { Int(String(cString: $0)) } ?? megabytes
        data.reserveCapacity(megabytes << 20)
        var i = 0
        while data.count < megabytes << 20 { data.append(contentsOf: line(i).utf8); i += 1 }
        let s = VirtualScreen(rows: rows, cols: cols, scrollback: scrollback)
        let chunk = 64 * 1024
        let start = now()
        data.withUnsafeBytes { all in
            var off = 0
            while off < all.count {
                let n = min(chunk, all.count - off)
                s.feed(UnsafeRawBufferPointer(rebasing: all[off..<off + n]))
                off += n
            }
        }
        _ = s.takeDamage()
        let secs = now() - start
        let mbps = Double(data.count) / 1_048_576 / secs
        print("VTScreen throughput \(name) \(rows)x\(cols) scrollback \(scrollback): \(data.count) bytes, \(i) lines in \(String(format: "%.3f", secs)) s = \(String(format: "%.1f", mbps)) MB/s")
        XCTAssertEqual(s.scrollbackCount, scrollback)
        XCTAssertFalse(s.text().joined().isEmpty)
        return mbps
    }

    func testPlainLines() {
        let line = { (i: Int) in "line \(i): some text of moderate length here\r\n" }
        _ = measure("plain", megabytes: 2, line: line)
        _ = measure("plain", megabytes: 2, scrollback: 0, line: line)
        _ = measure("plain", megabytes: 2, rows: 24, cols: 80, line: line)
    }

    func testColouredLines() {
        let e = "\u{1B}"
        _ = measure("coloured", megabytes: 2) {
            "\(e)[32mINFO\(e)[0m \(e)[1;34mline \($0)\(e)[0m: \(e)[38;5;208msome\(e)[0m \(e)[38;2;10;200;30mtext\(e)[0m \(e)[4mhere\(e)[0m\r\n"
        }
        _ = measure("coloured", megabytes: 2, rows: 24, cols: 80) {
            "\(e)[32mINFO\(e)[0m \(e)[1;34mline \($0)\(e)[0m: \(e)[38;5;208msome\(e)[0m \(e)[38;2;10;200;30mtext\(e)[0m \(e)[4mhere\(e)[0m\r\n"
        }
    }

    func testRepaintCost() {
        let s = VirtualScreen(rows: 50, cols: 200)
        let e = "\u{1B}"
        for i in 0..<200 { s.feed("\(e)[3\(i % 8)mcoloured line \(i) 漢字 \(e)[0m with plain text and more text to fill the line up\r\n") }
        let start = now()
        var bytes = 0
        for _ in 0..<100 { bytes = s.renderRepaint().count }
        let per = (now() - start) / 100
        print("VTScreen renderRepaint 50x200 coloured: \(bytes) bytes, \(String(format: "%.3f", per * 1000)) ms each")
    }
}
