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
    }
}
