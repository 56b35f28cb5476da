import XCTest
final class HostingTestsPlaceholder: XCTestCase { func testNothing() {} }
