import XCTest
@testable import Profile

final class SourceMapTests: XCTestCase {
    func pos(_ map: SourceMap, _ path: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        guard let e = map.entry(path) else {
            XCTFail("no entry for \(path); have: \(map.order)", file: file, line: line)
            return "-"
        }
        return "\(e.key)" + (e.value.map { " \($0)" } ?? "")
    }

    func testHeadersArraysOfTablesAndSubtables() {
        let text = """
        name = "x"
        [llm]
        model = "m"

        [[agents]]
        name = "a"
        [agents.llm]
        model = "b"
        [[agents]]
          name = "c"
        [agents.backend]
        type = "docker"
        """
        let m = SourceMap(text: text)
        XCTAssertEqual(pos(m, "name"), "1:1 1:8")
        XCTAssertEqual(pos(m, "llm"), "2:1")
        XCTAssertEqual(pos(m, "llm.model"), "3:1 3:9")
        XCTAssertEqual(pos(m, "agents[0]"), "5:1")
        XCTAssertEqual(pos(m, "agents[0].name"), "6:1 6:8")
        XCTAssertEqual(pos(m, "agents[0].llm"), "7:1")
        XCTAssertEqual(pos(m, "agents[0].llm.model"), "8:1 8:9")
        XCTAssertEqual(pos(m, "agents[1]"), "9:1")
        XCTAssertEqual(pos(m, "agents[1].name"), "10:3 10:10")
        XCTAssertEqual(pos(m, "agents[1].backend.type"), "12:1 12:8")
        XCTAssertNil(m.entry("agents[1].llm"))
        XCTAssertNil(m.entry("agents[2]"))
    }

    func testMultilineStringsHideHeadersAndKeys() {
        let text = #"""
        [[agents]]
        goal = """
        [[agents]]
        fake = 1
        \"""
        """
        prompt = '''
        [agents.llm]
        model = "no"'''
        limit = 3
        [[agents]]
        name = "second"
        """#
        let m = SourceMap(text: text)
        XCTAssertEqual(pos(m, "agents[0].goal"), "2:1 2:8")
        XCTAssertEqual(pos(m, "agents[0].prompt"), "7:1 7:10")
        XCTAssertEqual(pos(m, "agents[0].limit"), "10:1 10:9")
        XCTAssertEqual(pos(m, "agents[1]"), "11:1")
        XCTAssertEqual(pos(m, "agents[1].name"), "12:1 12:8")
        XCTAssertNil(m.entry("agents[0].fake"))
        XCTAssertNil(m.entry("fake"))
        XCTAssertNil(m.entry("agents[0].llm"))
        XCTAssertNil(m.entry("agents[2]"))
    }

    func testQuotesEndingMultilineStrings() {
        // Up to two quotes may sit right before the closing delimiter.
        let text = #"""
        a = """x"""""
        b = '''y'''''
        c = 1
        """#
        let m = SourceMap(text: text)
        XCTAssertEqual(pos(m, "c"), "3:1 3:5")
    }

    func testCommentsAndStringsWithSpecialCharacters() {
        let text = #"""
        # [[agents]] in a comment
        a = "x # not a comment = [y]" # comment = 1
        b = 'C:\path\' # [z]
        c = "quote \" inside = 2"
        d = 4 # e = 5
        """#
        let m = SourceMap(text: text)
        XCTAssertEqual(pos(m, "a"), "2:1 2:5")
        XCTAssertEqual(pos(m, "b"), "3:1 3:5")
        XCTAssertEqual(pos(m, "c"), "4:1 4:5")
        XCTAssertEqual(pos(m, "d"), "5:1 5:5")
        XCTAssertEqual(m.order, ["a", "b", "c", "d"])
    }

    func testDottedAndQuotedKeys() {
        let text = #"""
        [[agents]]
        llm.model = "m"
        "odd key" = 1
        'lit.key' = 2
        backend . "type" = "docker"
        [llm.prices."gpt-4.1"]
        input = 2
        """#
        let m = SourceMap(text: text)
        XCTAssertEqual(pos(m, "agents[0].llm"), "2:1")
        XCTAssertEqual(pos(m, "agents[0].llm.model"), "2:1 2:13")
        XCTAssertEqual(pos(m, #"agents[0]."odd key""#), "3:1 3:13")
        XCTAssertEqual(pos(m, #"agents[0]."lit.key""#), "4:1 4:13")
        XCTAssertEqual(pos(m, "agents[0].backend.type"), "5:1 5:20")
        XCTAssertEqual(pos(m, #"llm.prices."gpt-4.1".input"#), "7:1 7:9")
    }

    func testInlineTablesAndArraysAcrossLines() {
        let text = #"""
        [[agents]]
        llm = { model = "m", prices = { "gpt-4o" = { input = 1, output = 2 } } }
        command = [
          "sh", # the shell
          # a comment line with ] and ,
          "-c", 'echo "]"',
          [1, 2],
        ]
        env = { A = "1", B = "}" }
        after = true
        """#
        let m = SourceMap(text: text)
        XCTAssertEqual(pos(m, "agents[0].llm"), "2:1 2:7")
        XCTAssertEqual(pos(m, "agents[0].llm.model"), "2:9 2:17")
        XCTAssertEqual(pos(m, "agents[0].llm.prices.gpt-4o.output"), "2:57 2:66")
        XCTAssertEqual(pos(m, "agents[0].command"), "3:1 3:11")
        XCTAssertEqual(pos(m, "agents[0].command[0]"), "4:3 4:3")
        XCTAssertEqual(pos(m, "agents[0].command[1]"), "6:3 6:3")
        XCTAssertEqual(pos(m, "agents[0].command[2]"), "6:9 6:9")
        XCTAssertEqual(pos(m, "agents[0].command[3][1]"), "7:7 7:7")
        XCTAssertEqual(pos(m, "agents[0].env.B"), "9:18 9:22")
        XCTAssertEqual(pos(m, "agents[0].after"), "10:1 10:9")
    }

    func testNestedArraysOfTablesAndDates() {
        let text = """
        when = 1979-05-27 07:32:00Z
        next = 1
        [[a]]
        [[a.b]]
        x = 1
        [[a.b]]
        x = 2
        [[a]]
        [[a.b]]
        x = 3
        """
        let m = SourceMap(text: text)
        XCTAssertEqual(pos(m, "next"), "2:1 2:8")
        XCTAssertEqual(pos(m, "a[0].b[1].x"), "7:1 7:5")
        XCTAssertEqual(pos(m, "a[1].b[0].x"), "10:1 10:5")
    }

    func testUnicodeColumnsCountScalars() {
        let text = "a = \"héllo ✓\"; \nb = 1\n".replacingOccurrences(of: "; ", with: "  ") + "c = { \"ключ\" = 1, d = 2 }\n"
        let m = SourceMap(text: text)
        XCTAssertEqual(pos(m, "b"), "2:1 2:5")
        XCTAssertEqual(pos(m, "c.d"), "3:19 3:23")
        XCTAssertEqual(pos(m, #"c."ключ""#), "3:7 3:16")
    }

    func testCRLFLineEndings() {
        let m = SourceMap(text: "a = 1\r\n[t]\r\nb = \"\"\"\r\nx\r\n\"\"\"\r\nc = 2\r\n")
        XCTAssertEqual(pos(m, "t.c"), "6:1 6:5")
    }

    func testRender() {
        XCTAssertEqual(SourceMap.render([.key("agents"), .index(2), .key("llm"), .key("model")]), "agents[2].llm.model")
        XCTAssertEqual(SourceMap.render([.key("prices"), .key("gpt-4.1")]), #"prices."gpt-4.1""#)
        XCTAssertEqual(SourceMap.render([.key("a\"b")]), #""a\"b""#)
    }
}
