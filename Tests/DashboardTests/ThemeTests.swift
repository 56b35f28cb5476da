@testable import Dashboard
@testable import TerminalUI
import VTScreen
import XCTest

final class ThemeTests: XCTestCase {
    func testParsesKittyFormat() {
        let theme = Theme.parse("""
            # Dracula-ish
            background #282a36
            foreground   #f8f8f2
            color1 #ff5555
            color12 #abc
            cursor #bbbbbb
            selection_background #44475a

            assistant_fg #8be9fd
            user_fg #50fa7b
            status_bg #44475a
            error_fg #ff5555
            header_fg #bd93f9
            """, source: "t.conf")
        XCTAssertEqual(theme.background, RGB(0x28, 0x2a, 0x36))
        XCTAssertEqual(theme.foreground, RGB(0xf8, 0xf8, 0xf2))
        XCTAssertEqual(theme.palette[1], RGB(0xff, 0x55, 0x55))
        XCTAssertEqual(theme.palette[12], RGB(0xaa, 0xbb, 0xcc))
        XCTAssertEqual(theme.assistantFg, RGB(0x8b, 0xe9, 0xfd))
        XCTAssertEqual(theme.userFg, RGB(0x50, 0xfa, 0x7b))
        XCTAssertEqual(theme.statusBg, RGB(0x44, 0x47, 0x5a))
        XCTAssertEqual(theme.errorFg, RGB(0xff, 0x55, 0x55))
        XCTAssertEqual(theme.headerFg, RGB(0xbd, 0x93, 0xf9))
        XCTAssertEqual(theme.warnings, [])
    }

    func testRolesFallBackToAnsiColours() {
        var theme = Theme.parse("color4 #0000aa\ncolor1 #aa0000\ncolor3 #aaaa00")
        XCTAssertEqual(theme.wanted(.header), RGB(0, 0, 0xaa))
        XCTAssertEqual(theme.wanted(.error), RGB(0xaa, 0, 0))
        XCTAssertEqual(theme.statusBackground, ColorMapper.xterm256(235))
        theme.headerFg = RGB(1, 2, 3)
        XCTAssertEqual(theme.wanted(.header), RGB(1, 2, 3))
    }

    func testBadLinesAreReportedAndSkipped() {
        let theme = Theme.parse("foreground #zzzzzz\ncolor2\nheader_fg #123456\ncolor99 #ffffff\n  # indented comment\n", source: "bad.conf")
        XCTAssertNil(theme.foreground)
        XCTAssertEqual(theme.headerFg, RGB(0x12, 0x34, 0x56))
        XCTAssertEqual(theme.warnings.count, 2, "\(theme.warnings)")
        XCTAssertTrue(theme.warnings[0].hasPrefix("bad.conf:1:"))
        XCTAssertTrue(theme.warnings[1].hasPrefix("bad.conf:2:"))
    }

    func testShippedThemesParseCleanly() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../profiles/themes").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".conf") }
        XCTAssertGreaterThanOrEqual(files.count, 2)
        for file in files {
            let text = try String(contentsOfFile: dir.appendingPathComponent(file).path, encoding: .utf8)
            let theme = Theme.parse(text, source: file)
            XCTAssertEqual(theme.warnings, [], file)
            for key in [theme.assistantFg, theme.userFg, theme.statusBg, theme.errorFg, theme.headerFg] { XCTAssertNotNil(key, file) }
        }
    }

    /// Every text colour of the built-in theme is readable as chosen (WCAG >= 4.5:1 on the dark
    /// background it assumes, and on the status bar), and the shipped themes are readable as drawn
    /// (their own colours, except where the contrast guard had to step in).
    func testContrastOfEveryThemePair() throws {
        let builtIn = Theme.builtIn
        for role in Theme.Role.allCases {
            guard let fg = builtIn.wanted(role) else { continue }
            XCTAssertGreaterThanOrEqual(Theme.contrast(fg, builtIn.assumedBackground), 4.5, "\(role) \(fg)")
            XCTAssertGreaterThanOrEqual(Theme.contrast(fg, builtIn.statusBackground), 4.5, "\(role) \(fg) on the status bar")
            XCTAssertEqual(builtIn.foreground(role), fg, "the built-in colours need no correction")
        }
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../profiles/themes").standardized
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path) where file.hasSuffix(".conf") {
            let theme = Theme.parse(try String(contentsOfFile: dir.appendingPathComponent(file).path, encoding: .utf8), source: file)
            XCTAssertNotNil(theme.background, "\(file) sets its background")
            for role in Theme.Role.allCases {
                if let fg = theme.foreground(role) {
                    XCTAssertGreaterThanOrEqual(Theme.contrast(fg, theme.assumedBackground), 4.5, "\(file) \(role)")
                    XCTAssertEqual(fg, theme.wanted(role), "\(file): \(role) is readable as the theme chose it")
                }
                if let fg = theme.statusForeground(role) {
                    XCTAssertGreaterThanOrEqual(Theme.contrast(fg, theme.statusBackground), 4.5, "\(file) \(role) on the status bar")
                }
            }
        }
    }

    func testUnreadableColoursAreCorrected() {
        XCTAssertEqual(Theme.contrast(RGB(0, 0, 0), RGB(255, 255, 255)), 21, accuracy: 0.01)
        // xterm's blue on black (the old header colour) is 2.2:1: the guard lightens it.
        let theme = Theme.parse("color4 #0000ee")
        XCTAssertLessThan(Theme.contrast(RGB(0, 0, 0xee), RGB(0, 0, 0)), 4.5)
        let header = try! XCTUnwrap(theme.foreground(.header))
        XCTAssertGreaterThanOrEqual(Theme.contrast(header, RGB(0, 0, 0)), 4.5)
        // Dark text on a light background stays dark.
        let light = Theme.parse("background #ffffff\ncolor3 #ffff00")
        let waiting = try! XCTUnwrap(light.foreground(.waiting))
        XCTAssertGreaterThanOrEqual(Theme.contrast(waiting, RGB(255, 255, 255)), 4.5)
        XCTAssertLessThan(waiting.luminance, RGB(255, 255, 0).luminance)
    }

    func testLookupOrder() {
        let all: Set<String> = ["/x/theme.conf", "/cfg/supervisor/theme.conf", "/home/u/.supervisor/theme.conf"]
        let exists = { (p: String) in all.contains(p) }
        XCTAssertEqual(Theme.locate(environment: ["SUPERVISOR_THEME": "/x/theme.conf", "XDG_CONFIG_HOME": "/cfg", "HOME": "/home/u"], exists: exists), "/x/theme.conf")
        XCTAssertEqual(Theme.locate(environment: ["XDG_CONFIG_HOME": "/cfg", "HOME": "/home/u"], exists: exists), "/cfg/supervisor/theme.conf")
        XCTAssertEqual(Theme.locate(environment: ["HOME": "/home/u"], exists: exists), "/home/u/.supervisor/theme.conf")
        XCTAssertNil(Theme.locate(environment: ["HOME": "/nowhere"], exists: exists))
    }

    func testNoColor() {
        XCTAssertTrue(Theme.colorDisabled(environment: ["NO_COLOR": "1"]))
        XCTAssertFalse(Theme.colorDisabled(environment: ["NO_COLOR": ""]))
        XCTAssertFalse(Theme.colorDisabled(environment: [:]))
    }

    func testColourMapping() {
        let c256 = ColorMapper(available: 256)
        XCTAssertEqual(c256.index(.default), -1)
        XCTAssertEqual(c256.index(.indexed(200)), 200)
        XCTAssertEqual(c256.index(.rgb(255, 0, 0)), 196)
        XCTAssertEqual(c256.index(.rgb(128, 128, 128)), 244)
        let c8 = ColorMapper(available: 8)
        XCTAssertEqual(c8.index(.indexed(3)), 3)
        XCTAssertEqual(c8.index(.indexed(196)), 1)
        XCTAssertEqual(c8.index(.rgb(0, 200, 0)), 2)
        XCTAssertEqual(ColorMapper(available: 16).index(.indexed(12)), 12)
    }

    func testPairCacheIsLazyAndBounded() {
        var cache = ColorPairCache(capacity: 4, reserved: 0)
        XCTAssertEqual(cache.lookup(ColorPairKey(-1, -1))?.number, 0)
        let a = cache.lookup(ColorPairKey(1, -1))
        XCTAssertEqual(a?.isNew, true)
        XCTAssertEqual(cache.lookup(ColorPairKey(1, -1))?.isNew, false)
        XCTAssertEqual(cache.lookup(ColorPairKey(1, -1))?.number, a?.number)
        _ = cache.lookup(ColorPairKey(2, -1))
        _ = cache.lookup(ColorPairKey(3, -1))
        XCTAssertNil(cache.lookup(ColorPairKey(4, -1)), "full")
        XCTAssertEqual(ColorPairCache.fallback(ColorPairKey(196, 12)), ColorPairKey(1, 4))
    }
}
