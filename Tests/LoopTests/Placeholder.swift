import XCTest
final class LoopTestsPlaceholder: XCTestCase { func testNothing() {} }
