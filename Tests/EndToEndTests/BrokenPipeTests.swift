import Foundation
import Glibc
import XCTest
import _TestSupport

/// A shim that closes its connection while the CLI is still writing a request must cost the
/// CLI an error, not its life by SIGPIPE; and the CLI must still end by SIGPIPE when what reads
/// its own output goes away (`supervisor logs | head`), as a Unix filter does.
final class BrokenPipeTests: EndToEndTestCase {
    func testAShimClosingMidRequestIsAnErrorNotSIGPIPE() throws {
        let path = sv.writeProfile("pipe", agent("a", ["sleep", "600"]))
        let up = try sv.run(["up", path, "--detach"])
        XCTAssertEqual(up.status, 0, "\(up)")
        // A fake shim in the real one's place: accepts, then closes without reading a byte.
        let socket = sv.shimSocket("pipe", "a")
        let fake = try sv.start(["-c", """
            import os, socket, sys
            os.unlink(sys.argv[1])
            s = socket.socket(socket.AF_UNIX)
            s.bind(sys.argv[1]); s.listen(1)
            print("ready", flush=True)
            c, _ = s.accept(); c.close()
            """, socket], executable: "/usr/bin/python3")
        try waitFor("the fake shim to listen") { fake.stdout.contains("ready") }
        // 4 MB of text: far more than a socket buffer holds, so the CLI is mid-write when the
        // fake closes. `$?` is 141 when the CLI died of SIGPIPE.
        let send = try sv.run(["-c", #"head -c 4000000 /dev/zero | tr '\0' x | "$0" send pipe a -; echo "status=$?" >&2"#, sv.executable],
                              executable: "/bin/sh")
        XCTAssertTrue(send.stderr.contains("status=") && !send.stderr.contains("status=141"), "died of SIGPIPE: \(send.stderr)")
        XCTAssertTrue(send.stderr.contains("supervisor: the shim of a closed the connection"), "no error message: \(send.stderr)")
        _ = try fake.wait(seconds: 10)
    }

    /// Guards the design: SIGPIPE is ignored only while a write to a shim is in flight. With it
    /// ignored for good, this write to a closed pipe would trap in Foundation instead.
    func testTheCLIStillEndsBySIGPIPEWhenItsReaderGoes() throws {
        let path = sv.writeProfile("head", agent("a", sh("yes supervisor-line | head -n 200000; exec sleep 600")))
        let up = try sv.run(["up", path, "--detach"])
        XCTAssertEqual(up.status, 0, "\(up)")
        try sv.waitForLog("head", "a", containing: "supervisor-line\r\n", seconds: 20)
        // `logs --follow` never ends by itself: only SIGPIPE from `head` leaving can end it.
        let logs = try sv.run(["-c", #""$0" logs head a --follow --raw | head -c 10 >/dev/null; echo "status=${PIPESTATUS[0]}" >&2"#, sv.executable],
                              executable: "/bin/bash", timeout: 30)
        XCTAssertTrue(logs.stderr.contains("status=141"), "not ended by SIGPIPE (128 + 13): \(logs.stderr)")
    }
}
