import XCTest
final class VTScreenPlaceholder: XCTestCase { func testNothing() {} }
