import XCTest
final class ProfileTestsPlaceholder: XCTestCase { func testNothing() {} }
