import Glibc
import XCTest
@testable import Serve
import _TestSupport

final class AccessTests: XCTestCase {
    let access = Access(controlToken: String(repeating: "c", count: 64), readToken: String(repeating: "r", count: 64))

    func request(_ authorization: String? = nil, cookie: String? = nil, origin: String? = nil) -> WebRequest {
        WebRequest(method: "GET", path: "/api/profiles", authorization: authorization, cookie: cookie, origin: origin, host: "127.0.0.1:8765")
    }

    func testScopes() {
        XCTAssertEqual(access.scope(of: request("Bearer " + access.controlToken)), .control)
        XCTAssertEqual(access.scope(of: request("bearer " + access.readToken)), .read)
        XCTAssertEqual(access.scope(of: request(cookie: "a=b; supervisor_token=" + access.readToken)), .read)
        XCTAssertNil(access.scope(of: request("Bearer " + access.controlToken.dropLast())))
        XCTAssertNil(access.scope(of: request("Basic " + access.controlToken)))
        XCTAssertNil(access.scope(of: request()))
    }

    func testRefusals() {
        XCTAssertEqual(access.refusal(for: request(), needs: .read)?.status, 401)
        XCTAssertEqual(access.refusal(for: request("Bearer " + access.readToken), needs: .control)?.status, 403)
        XCTAssertEqual(access.refusal(for: request("Bearer " + access.controlToken, origin: "http://evil.example"), needs: .read)?.status, 403)
        XCTAssertNil(access.refusal(for: request("Bearer " + access.controlToken, origin: "http://127.0.0.1:8765"), needs: .control))
        XCTAssertNil(access.refusal(for: request("Bearer " + access.readToken), needs: .read))
    }

    func testConstantTimeEqual() {
        XCTAssertTrue(constantTimeEqual("abc", "abc"))
        XCTAssertFalse(constantTimeEqual("abc", "abd"))
        XCTAssertFalse(constantTimeEqual("abc", "abcd"))
        XCTAssertFalse(constantTimeEqual("", "a"))
    }

    /// First start makes two different 256-bit tokens, private; a second start reads the same;
    /// a token file others can read is refused.
    func testTokenFiles() throws {
        let home = TemporaryDirectory(prefix: "svtok")
        let first = try TokenFiles.load(home: home.path)
        XCTAssertEqual(first.controlToken.count, 64)
        XCTAssertNotEqual(first.controlToken, first.readToken)
        var info = stat()
        XCTAssertEqual(stat(TokenFiles.controlPath(home: home.path), &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        let again = try TokenFiles.load(home: home.path)
        XCTAssertEqual(again.controlToken, first.controlToken)
        chmod(TokenFiles.readPath(home: home.path), 0o644)
        XCTAssertThrowsError(try TokenFiles.load(home: home.path))
    }
}
