import AgentProtocol
import Foundation
import XCTest
@testable import Serve

final class RouteTests: XCTestCase {
    func testAPIRoutes() {
        XCTAssertEqual(try Route.parse(method: "GET", path: "/api/profiles").get(), .profiles)
        XCTAssertEqual(try Route.parse(method: "GET", path: "/api/profiles/p/agents/a/log").get(), .log("p", "a"))
        XCTAssertEqual(try Route.parse(method: "POST", path: "/api/profiles/p/agents/a/restart").get(), .control("p", "a", "restart"))
        XCTAssertEqual(Route.parse(method: "GET", path: "/api/profiles/p/agents/a/restart"), .failure(.methodNotAllowed))
        XCTAssertEqual(Route.parse(method: "GET", path: "/api/profiles/../agents/a/log"), .failure(.notFound))
        XCTAssertEqual(try Route.parse(method: "GET", path: "/api/profiles/p/agents/a/stream", upgrade: true).get(), .streamSocket("p", "a"))
        XCTAssertEqual(try Route.parse(method: "GET", path: "/api/profiles/p/events", upgrade: true).get(), .eventsSocket("p"))
        XCTAssertEqual(Route.control("p", "a", "stop").scope, .control)
        XCTAssertEqual(Route.log("p", "a").scope, .read)
        XCTAssertEqual(try Route.parse(method: "GET", path: "/api/profiles/p/agents/a/screen").get(), .screen("p", "a"))
        XCTAssertEqual(try Route.parse(method: "GET", path: "/api/session").get(), .session)
        XCTAssertEqual(Route.screen("p", "a").scope, .read)
        XCTAssertEqual(try Route.parse(method: "POST", path: "/api/profiles/p/agents/a/permission/toolu_1").get(), .permission("p", "a", "toolu_1"))
        XCTAssertEqual(Route.permission("p", "a", "q").scope, .control)
        XCTAssertEqual(Route.parse(method: "GET", path: "/api/profiles/p/agents/a/permission/q"), .failure(.methodNotAllowed))
        XCTAssertEqual(Route.parse(method: "POST", path: "/api/profiles/p/agents/a/permission/q%20x"), .failure(.notFound))
    }
}

final class OpenAPITests: XCTestCase {
    /// The document is valid JSON and names every HTTP route the router has.
    func testDocumentCoversTheRoutes() throws {
        let json = try OrderedJSON.parse(Array(OpenAPI.document.utf8))
        guard case .object(let paths)? = json["paths"] else { return XCTFail("no paths") }
        let names = Set(paths.map(\.0))
        for path in ["/api/profiles", "/api/profiles/{profile}/agents/{agent}/log", "/api/profiles/{profile}/agents/{agent}/paste",
                     "/api/profiles/{profile}/agents/{agent}/conversations/{id}/resume"] {
            XCTAssertTrue(names.contains(path), path)
        }
        for path in names {
            let concrete = path.replacingOccurrences(of: "{profile}", with: "p").replacingOccurrences(of: "{agent}", with: "a")
                .replacingOccurrences(of: "{id}", with: "c1")
            guard case .object(let ops)? = json["paths"]?[path] else { continue }
            for (method, _) in ops {
                XCTAssertNoThrow(try Route.parse(method: method.uppercased(), path: concrete).get(), "\(method) \(path)")
            }
        }
    }
}
