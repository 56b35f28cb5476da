import Foundation
import Hosting
import XCTest

/// `supervisor status --json` is a documented interface (README, "status --json"): this pins
/// its exact shape, so a change to it is a deliberate one.
final class StatusJSONTests: XCTestCase {
    private let running = AgentStatus(profile: "p", agent: "a", kind: "command", state: "running", pid: 42, shimPid: 41,
                                      shimAlive: true, restarts: 2, since: 1_795_310_287.5, lastExit: .exited(3), lastError: nil,
                                      logBytes: 10, logPath: "/tmp/logs/p/a.log")
    private let down = AgentStatus(profile: "p", agent: "b", kind: "goal", state: "stopped", pid: nil, shimPid: nil,
                                   shimAlive: false, restarts: 0, since: 0, lastExit: .signaled(15), lastError: "gone",
                                   logBytes: 0, logPath: "/tmp/logs/p/b.log", container: "sv-p-b", containerState: "missing")

    func testTheDocumentsShape() throws {
        let text = String(decoding: try StatusDocument(agents: [running, down]).encoded(), as: UTF8.self)
        XCTAssertEqual(text, """
        {
          "agents": [
            {
              "agent": "a",
              "kind": "command",
              "lastExit": {
                "code": 3
              },
              "logBytes": 10,
              "logPath": "/tmp/logs/p/a.log",
              "pid": 42,
              "profile": "p",
              "restarts": 2,
              "shimAlive": true,
              "shimPid": 41,
              "since": "2026-11-22T01:18:07.500Z",
              "state": "running"
            },
            {
              "agent": "b",
              "container": "sv-p-b",
              "containerState": "missing",
              "kind": "goal",
              "lastError": "gone",
              "lastExit": {
                "signal": 15
              },
              "logBytes": 0,
              "logPath": "/tmp/logs/p/b.log",
              "profile": "p",
              "restarts": 0,
              "shimAlive": false,
              "since": "1970-01-01T00:00:00.000Z",
              "state": "stopped"
            }
          ],
          "schema": 1
        }

        """)
    }

    func testItReadsBackWhatItWrites() throws {
        let document = StatusDocument(agents: [running, down])
        XCTAssertEqual(try JSONDecoder().decode(StatusDocument.self, from: try document.encoded()), document)
    }

    /// README's section on the schema: its example is a valid document, and its table names
    /// every field an agent's status can have.
    func testTheReadmeDocumentsTheSchema() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let section = try XCTUnwrap(text.range(of: "### `status --json`"), "README has no section on status --json")
        let rest = text[section.upperBound...]
        let start = try XCTUnwrap(rest.range(of: "```json\n"))
        let end = try XCTUnwrap(rest.range(of: "\n```", range: start.upperBound..<rest.endIndex))
        let example = try JSONDecoder().decode(StatusDocument.self, from: Data(rest[start.upperBound..<end.lowerBound].utf8))
        XCTAssertEqual(example.schema, StatusDocument.currentSchema)
        var full = down
        full.pid = 1; full.shimPid = 2; full.containerID = "0123456789ab"
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(full)) as? [String: Any])
        let table = rest[end.upperBound...].split(separator: "\n").prefix { !$0.hasPrefix("#") }.joined(separator: "\n")
        for key in object.keys.sorted() {
            XCTAssertTrue(table.contains("`\(key)`"), "README's status --json table does not name \(key)")
        }
    }

    func testATimeThatIsNotRFC3339IsRefused() {
        let json = #"{"schema":1,"agents":[{"profile":"p","agent":"a","kind":"command","state":"down","shimAlive":false,"restarts":0,"since":1795310287.5,"logBytes":0,"logPath":"/l"}]}"#
        XCTAssertThrowsError(try JSONDecoder().decode(StatusDocument.self, from: Data(json.utf8)))
    }
}
