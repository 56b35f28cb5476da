import Foundation
import Glibc
import LLM
import Loop
import XCTest
import _TestSupport
@testable import Agents

final class CoderEditTests: XCTestCase {
    func edit(_ text: String, _ old: String, _ new: String, all: Bool = false, regex: Bool = false) throws -> (String, Int) {
        let o = try EditEngine.apply(content: Array(text.utf8), old: old, new: new, replaceAll: all, regex: regex)
        return (String(decoding: o.content, as: UTF8.self), o.replacements)
    }

    func testStringReplacementOnce() throws {
        let (out, n) = try edit("let a = 1\nlet b = 2\n", "b = 2", "b = 3")
        XCTAssertEqual(out, "let a = 1\nlet b = 3\n")
        XCTAssertEqual(n, 1)
    }

    func testAbsentTextFailsClearly() {
        XCTAssertThrowsError(try edit("abc", "xyz", "q")) { e in
            XCTAssertTrue("\(e)".contains("not found"), "\(e)")
        }
        XCTAssertThrowsError(try edit("abc", "x+", "q", regex: true)) { e in
            XCTAssertTrue("\(e)".contains("matches nothing"), "\(e)")
        }
    }

    func testAmbiguousWithoutReplaceAllFails() {
        XCTAssertThrowsError(try edit("x x x", "x", "y")) { e in
            XCTAssertTrue("\(e)".contains("matches 3 times"), "\(e)")
            XCTAssertTrue("\(e)".contains("replace_all"), "\(e)")
        }
    }

    func testReplaceAllCounts() throws {
        let (out, n) = try edit("foo bar foo baz foo", "foo", "qux", all: true)
        XCTAssertEqual(out, "qux bar qux baz qux")
        XCTAssertEqual(n, 3)
    }

    func testRegexWithGroups() throws {
        let (out, n) = try edit("name=alice\nname=bob\n", "^name=([a-z]+)$", "user: \\1 (\\0)", all: true, regex: true)
        XCTAssertEqual(out, "user: alice (name=alice)\nuser: bob (name=bob)\n")
        XCTAssertEqual(n, 2)
        let (swapped, _) = try edit("f(a, b)", "f\\(([a-z]), ([a-z])\\)", "f(\\2, \\1)", regex: true)
        XCTAssertEqual(swapped, "f(b, a)")
        XCTAssertThrowsError(try edit("abc", "a(", "x", regex: true)) { e in
            XCTAssertTrue("\(e)".contains("invalid regular expression"), "\(e)")
        }
    }

    func testRegexAmbiguousWithoutReplaceAll() {
        XCTAssertThrowsError(try edit("a1 a2", "a[0-9]", "b", regex: true)) { e in
            XCTAssertTrue("\(e)".contains("matches 2 times"), "\(e)")
        }
    }

    func testUnicodeExactBytes() throws {
        let (out, n) = try edit("café ☕️ naïve — 日本語\n", "☕️ naïve", "🍵 naive")
        XCTAssertEqual(out, "café 🍵 naive — 日本語\n")
        XCTAssertEqual(n, 1)
        // A decomposed é is different text from a precomposed one: exact matching, no surprise.
        XCTAssertThrowsError(try edit("cafe\u{301}", "café", "x"))
    }

    func testEditToolKeepsCRLFAndBOM() throws {
        let dir = TemporaryDirectory(prefix: "cedit")
        let ws = Workspace(path: dir.path)
        let crlf = dir.file("crlf.txt")
        FileManager.default.createFile(atPath: crlf, contents: Data("one\r\ntwo\r\nthree\r\n".utf8))
        var out = EditTool.edit(["file_path": "crlf.txt", "old_string": "two\nthree", "new_string": "2\n3\n4"], workspace: ws)
        XCTAssertFalse(out.isError, out.content)
        XCTAssertEqual(String(decoding: try Data(contentsOf: URL(fileURLWithPath: crlf)), as: UTF8.self), "one\r\n2\r\n3\r\n4\r\n")

        let bom = dir.file("bom.txt")
        FileManager.default.createFile(atPath: bom, contents: Data([0xEF, 0xBB, 0xBF] + Array("héllo wörld\n".utf8)))
        out = EditTool.edit(["file_path": "bom.txt", "old_string": "wörld", "new_string": "welt"], workspace: ws)
        XCTAssertFalse(out.isError, out.content)
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: bom))), [0xEF, 0xBB, 0xBF] + Array("héllo welt\n".utf8))

        let plain = dir.write("plain.txt", "a\nb\n")
        out = EditTool.edit(["file_path": "plain.txt", "old_string": "a", "new_string": "c", "replace_all": true], workspace: ws)
        XCTAssertTrue(out.content.contains("1 replacement"), out.content)
        XCTAssertEqual(try String(contentsOfFile: plain, encoding: .utf8), "c\nb\n")
    }

    func testEditToolErrors() {
        let dir = TemporaryDirectory(prefix: "cedit")
        let ws = Workspace(path: dir.path)
        _ = dir.write("f.txt", "same same\n")
        XCTAssertTrue(EditTool.edit(["file_path": "missing.txt", "old_string": "a", "new_string": "b"], workspace: ws).isError)
        let amb = EditTool.edit(["file_path": "f.txt", "old_string": "same", "new_string": "x"], workspace: ws)
        XCTAssertTrue(amb.isError)
        XCTAssertTrue(amb.content.contains("2 times"), amb.content)
        let all = EditTool.edit(["file_path": "f.txt", "old_string": "same", "new_string": "x", "replace_all": true], workspace: ws)
        XCTAssertEqual(all, ToolOutput("Edited f.txt: 2 replacements"))
        XCTAssertTrue(EditTool.edit(["file_path": "f.txt", "new_string": "b"], workspace: ws).content.contains("old_string"))
    }
}

final class CoderFileToolTests: XCTestCase {
    func testReadRangesAndNumbers() throws {
        let dir = TemporaryDirectory(prefix: "cread")
        let ws = Workspace(path: dir.path)
        _ = dir.write("ten.txt", (1...10).map { "line \($0)" }.joined(separator: "\n") + "\n")
        let all = ReadTool.read(["file_path": "ten.txt"], workspace: ws)
        XCTAssertFalse(all.isError)
        XCTAssertTrue(all.content.hasPrefix("     1\tline 1\n     2\tline 2\n"), all.content)
        XCTAssertTrue(all.content.contains("    10\tline 10\n"))
        let part = ReadTool.read(["file_path": "ten.txt", "offset": 4, "limit": 2], workspace: ws)
        XCTAssertEqual(part.content, "     4\tline 4\n     5\tline 5\n[lines 4-5 of 10; read more with offset 6]\n")
        let past = ReadTool.read(["file_path": "ten.txt", "offset": 20], workspace: ws)
        XCTAssertTrue(past.isError)
        XCTAssertTrue(ReadTool.read(["file_path": "nope.txt"], workspace: ws).content.contains("does not exist"))
        XCTAssertTrue(ReadTool.read(["file_path": "."], workspace: ws).content.contains("directory"))
    }

    func testReadRefusesBinary() {
        let dir = TemporaryDirectory(prefix: "cread")
        FileManager.default.createFile(atPath: dir.file("blob.bin"), contents: Data([0x7F, 0x45, 0x4C, 0x46, 0, 1, 2, 0xFF]))
        let out = ReadTool.read(["file_path": "blob.bin"], workspace: Workspace(path: dir.path))
        XCTAssertTrue(out.isError)
        XCTAssertTrue(out.content.contains("binary file"), out.content)
        // Control characters without a NUL byte: binary too.
        FileManager.default.createFile(atPath: dir.file("ctl.bin"), contents: Data(Array(repeating: [UInt8]([0x01, 0x02, 0x41, 0x03, 0x10]), count: 20).joined()))
        XCTAssertTrue(ReadTool.read(["file_path": "ctl.bin"], workspace: Workspace(path: dir.path)).content.contains("binary file"))
    }

    /// Latin-1 bytes of "café au lait\nnaïve\nplain\n".
    static let latin1: [UInt8] = Array("caf".utf8) + [0xE9] + Array(" au lait\nna".utf8) + [0xEF] + Array("ve\nplain\n".utf8)

    func testReadShowsTextThatIsNotUTF8Lossily() {
        let dir = TemporaryDirectory(prefix: "cread")
        FileManager.default.createFile(atPath: dir.file("latin1.txt"), contents: Data(Self.latin1))
        let out = ReadTool.read(["file_path": "latin1.txt"], workspace: Workspace(path: dir.path))
        XCTAssertFalse(out.isError, out.content)
        XCTAssertTrue(out.content.hasPrefix("     1\tcaf\u{FFFD} au lait\n     2\tna\u{FFFD}ve\n     3\tplain\n"), out.content)
        XCTAssertTrue(out.content.contains("[2 line(s) shown are not valid UTF-8"), out.content)
        // Only the lines shown count; a UTF-8 file gets no such note.
        XCTAssertFalse(ReadTool.read(["file_path": "latin1.txt", "offset": 3], workspace: Workspace(path: dir.path)).content.contains("UTF-8"))
        _ = dir.write("utf8.txt", "café\n")
        XCTAssertEqual(ReadTool.read(["file_path": "utf8.txt"], workspace: Workspace(path: dir.path)).content, "     1\tcafé\n")
    }

    /// Edit changes ASCII text of a Latin-1 file and keeps every other byte; it refuses what
    /// would mix encodings or cannot match.
    func testEditKeepsTheBytesOfTextThatIsNotUTF8() throws {
        let dir = TemporaryDirectory(prefix: "cedit")
        let ws = Workspace(path: dir.path)
        let path = dir.file("latin1.txt")
        FileManager.default.createFile(atPath: path, contents: Data(Self.latin1))
        func bytes() throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

        var out = EditTool.edit(["file_path": "latin1.txt", "old_string": "lait", "new_string": "cream"], workspace: ws)
        XCTAssertEqual(out, ToolOutput("Edited latin1.txt: 1 replacement (the file is not UTF-8; its other bytes are unchanged)"))
        var expected = Array("caf".utf8) + [0xE9] + Array(" au cream\nna".utf8) + [0xEF] + Array("ve\nplain\n".utf8)
        XCTAssertEqual(try bytes(), expected)

        out = EditTool.edit(["file_path": "latin1.txt", "old_string": "(au) (cream)$", "new_string": "\\2 \\1", "use_regex": true], workspace: ws)
        XCTAssertFalse(out.isError, out.content)
        expected = Array("caf".utf8) + [0xE9] + Array(" cream au\nna".utf8) + [0xEF] + Array("ve\nplain\n".utf8)
        XCTAssertEqual(try bytes(), expected)

        out = EditTool.edit(["file_path": "latin1.txt", "old_string": "plain", "new_string": "plaîn"], workspace: ws)
        XCTAssertTrue(out.isError)
        XCTAssertTrue(out.content.contains("not valid UTF-8") && out.content.contains("non-ASCII"), out.content)
        out = EditTool.edit(["file_path": "latin1.txt", "old_string": "na\u{FFFD}ve", "new_string": "naive"], workspace: ws)
        XCTAssertTrue(out.isError)
        XCTAssertTrue(out.content.contains("U+FFFD"), out.content)
        XCTAssertEqual(try bytes(), expected)

        // Write would turn the bytes Read showed as U+FFFD into U+FFFD for good: refused.
        let w = WriteTool.write(["file_path": "latin1.txt", "content": "caf\u{FFFD} au lait\n"], workspace: ws)
        XCTAssertTrue(w.isError)
        XCTAssertTrue(w.content.contains("U+FFFD"), w.content)
        XCTAssertEqual(try bytes(), expected)
        XCTAssertFalse(WriteTool.write(["file_path": "latin1.txt", "content": "new text\n"], workspace: ws).isError)
        XCTAssertEqual(try bytes(), Array("new text\n".utf8))
    }

    func testWriteCreatesParents() throws {
        let dir = TemporaryDirectory(prefix: "cwrite")
        let out = WriteTool.write(["file_path": "a/b/c/new.txt", "content": "hi\nthere\n"], workspace: Workspace(path: dir.path))
        XCTAssertFalse(out.isError, out.content)
        XCTAssertTrue(out.content.hasPrefix("Created a/b/c/new.txt"), out.content)
        XCTAssertEqual(try String(contentsOfFile: dir.file("a/b/c/new.txt"), encoding: .utf8), "hi\nthere\n")
        let again = WriteTool.write(["file_path": "a/b/c/new.txt", "content": "x"], workspace: Workspace(path: dir.path))
        XCTAssertTrue(again.content.hasPrefix("Replaced"), again.content)
    }

    /// The model is told how many lines it wrote: as an editor counts them, not the pieces a
    /// split on "\n" leaves (a file ending in a line break has no empty last line).
    func testWriteCountsLinesAsAnEditorDoes() throws {
        let dir = TemporaryDirectory(prefix: "clines")
        let ws = Workspace(path: dir.path)
        let six = "import sys\n\ndef greet(name):\n    return name\n\nprint(greet('x'))\n"
        for (content, lines) in [(six, 6), ("a\nb", 2), ("a\r\nb\r\n", 2), ("\n", 1), ("", 0), ("\n\n", 2), ("x", 1)] {
            let out = WriteTool.write(["file_path": "f.txt", "content": .string(content)], workspace: ws)
            XCTAssertTrue(out.content.hasSuffix(" bytes, \(lines) line\(lines == 1 ? "" : "s"))"), "\(content.debugDescription): \(out.content)")
        }
        XCTAssertEqual(FileText.lineCount(Array(six.utf8)), 6)
        XCTAssertEqual(FileText.lineCount("a\r\nb".utf8), 2)
        // Read agrees: six numbered lines.
        XCTAssertTrue(WriteTool.write(["file_path": "six.py", "content": .string(six)], workspace: ws).content.contains("6 lines"))
        XCTAssertTrue(ReadTool.read(["file_path": "six.py"], workspace: ws).content.contains("     6\tprint(greet('x'))\n"))
        XCTAssertFalse(ReadTool.read(["file_path": "six.py"], workspace: ws).content.contains("     7\t"))
    }

    func testGlobDoubleStarNewestFirst() throws {
        let dir = TemporaryDirectory(prefix: "cglob")
        let ws = Workspace(path: dir.path)
        for (i, p) in ["top.swift", "src/a.swift", "src/deep/er/b.swift", "src/c.txt", ".git/x.swift"].enumerated() {
            _ = dir.write(p, "x")
            var times = [timespec(tv_sec: 1_000_000 + i * 100, tv_nsec: 0), timespec(tv_sec: 1_000_000 + i * 100, tv_nsec: 0)]
            utimensat(AT_FDCWD, dir.file(p), &times, 0)
        }
        XCTAssertEqual(GlobTool.glob(["pattern": "**/*.swift"], workspace: ws).content, "src/deep/er/b.swift\nsrc/a.swift\ntop.swift")
        XCTAssertEqual(GlobTool.glob(["pattern": "*.swift"], workspace: ws).content, "top.swift")
        XCTAssertEqual(GlobTool.glob(["pattern": "src/**/*.swift"], workspace: ws).content, "src/deep/er/b.swift\nsrc/a.swift")
        XCTAssertEqual(GlobTool.glob(["pattern": "*.swift", "path": "src"], workspace: ws).content, "src/a.swift")
        XCTAssertTrue(GlobTool.glob(["pattern": "**/*.rs"], workspace: ws).content.contains("No files"))
        XCTAssertTrue(GlobMatcher.matches("**/x/*.c", "x/y.c"))
        XCTAssertFalse(GlobMatcher.matches("*.c", "x/y.c"))
    }

    func makeGrepTree() -> TemporaryDirectory {
        let dir = TemporaryDirectory(prefix: "cgrep")
        _ = dir.write("src/main.swift", "import Foo\nfunc main() {\n    print(\"hello\")\n}\n")
        _ = dir.write("src/util.swift", "func helper() {}\nfunc HELLO() {}\n")
        _ = dir.write("notes.md", "hello notes\n")
        FileManager.default.createFile(atPath: dir.file("bin.dat"), contents: Data([0, 1, 104, 101, 108, 108, 111]))
        return dir
    }

    func grep(_ input: JSONValue, _ dir: TemporaryDirectory, ripgrep: Bool) throws -> ToolOutput {
        let loop = EventLoop()
        defer { loop.close() }
        let context = ToolContext(loop: loop, box: LocalBox(workspace: dir.path, environment: ProcessInfo.processInfo.environment, withheld: []),
                                  workspace: Workspace(path: dir.path))
        context.useRipgrep = ripgrep
        var result: ToolOutput?
        GrepTool().run(input, context: context) { result = $0 }
        try runLoop(loop, until: "grep", seconds: 20) { result != nil }
        context.close()
        return result!
    }

    func testGrepBuiltInModes() throws {
        let dir = makeGrepTree()
        // Forced built-in search (as without ripgrep).
        let files = try grep(["pattern": "hel+o"], dir, ripgrep: false)
        XCTAssertEqual(Set(files.content.split(separator: "\n").map(String.init)), ["src/main.swift", "notes.md"])
        let content = try grep(["pattern": "print", "output_mode": "content", "-C": 1], dir, ripgrep: false)
        XCTAssertEqual(content.content, "src/main.swift-2-func main() {\nsrc/main.swift:3:    print(\"hello\")\nsrc/main.swift-4-}")
        let count = try grep(["pattern": "^func", "output_mode": "count", "glob": "*.swift"], dir, ripgrep: false)
        XCTAssertEqual(Set(count.content.split(separator: "\n").map(String.init)), ["src/main.swift:1", "src/util.swift:2"])
        let icase = try grep(["pattern": "hello", "-i": true, "glob": "*.swift", "output_mode": "content"], dir, ripgrep: false)
        XCTAssertTrue(icase.content.contains("src/util.swift:2:func HELLO() {}"), icase.content)
        let none = try grep(["pattern": "zzz"], dir, ripgrep: false)
        XCTAssertTrue(none.content.contains("No matches"))
        XCTAssertTrue(try grep(["pattern": "a(", "output_mode": "content"], dir, ripgrep: false).isError)
    }

    func testGrepBuiltInSearchesTextThatIsNotUTF8() throws {
        let dir = makeGrepTree()
        FileManager.default.createFile(atPath: dir.file("latin1.txt"), contents: Data(CoderFileToolTests.latin1))
        let files = try grep(["pattern": "lait|hello"], dir, ripgrep: false)
        XCTAssertEqual(Set(files.content.split(separator: "\n").map(String.init)), ["src/main.swift", "notes.md", "latin1.txt"])
        let content = try grep(["pattern": "^na", "output_mode": "content", "glob": "*.txt"], dir, ripgrep: false)
        XCTAssertEqual(content.content, "latin1.txt:2:na\u{FFFD}ve")
    }

    func testGrepWithRipgrepWhenInstalled() throws {
        guard resolveExecutable("rg", path: ProcessInfo.processInfo.environment["PATH"]) != nil else {
            throw XCTSkip("ripgrep is not installed")
        }
        let dir = makeGrepTree()
        let files = try grep(["pattern": "hel+o"], dir, ripgrep: true)
        XCTAssertEqual(Set(files.content.split(separator: "\n").map(String.init)), ["src/main.swift", "notes.md"])
        let content = try grep(["pattern": "print", "output_mode": "content", "-C": 1], dir, ripgrep: true)
        XCTAssertEqual(content.content, "src/main.swift-2-func main() {\nsrc/main.swift:3:    print(\"hello\")\nsrc/main.swift-4-}")
        let count = try grep(["pattern": "^func", "output_mode": "count", "glob": "*.swift"], dir, ripgrep: true)
        XCTAssertEqual(Set(count.content.split(separator: "\n").map(String.init)), ["src/main.swift:1", "src/util.swift:2"])
    }

    func testWorkspaceConfinement() throws {
        let outside = TemporaryDirectory(prefix: "cout")
        _ = outside.write("secret.txt", "secret\n")
        let dir = TemporaryDirectory(prefix: "cws")
        _ = dir.write("in.txt", "inside\n")
        try FileManager.default.createDirectory(atPath: dir.file("sub"), withIntermediateDirectories: true)
        let ws = Workspace(path: dir.path)
        symlink(outside.path, dir.file("escape"))
        symlink(outside.file("secret.txt"), dir.file("link.txt"))
        symlink(dir.file("in.txt"), dir.file("ok-link.txt"))

        for bad in ["../\((outside.path as NSString).lastPathComponent)/secret.txt", outside.file("secret.txt"), "/etc/passwd",
                    "escape/secret.txt", "link.txt", "sub/../../x", "escape/new.txt"] {
            XCTAssertThrowsError(try ws.resolve(bad), bad)
            XCTAssertTrue(ReadTool.read(["file_path": .string(bad)], workspace: ws).isError, bad)
            XCTAssertTrue(WriteTool.write(["file_path": .string(bad), "content": "x"], workspace: ws).isError, bad)
            XCTAssertTrue(EditTool.edit(["file_path": .string(bad), "old_string": "s", "new_string": "x"], workspace: ws).isError, bad)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: outside.file("new.txt")))
        XCTAssertEqual(try String(contentsOfFile: outside.file("secret.txt"), encoding: .utf8), "secret\n")
        XCTAssertTrue(ReadTool.read(["file_path": "escape/secret.txt"], workspace: ws).content.contains("symbolic link"))
        // Inside is fine, whichever way it is named.
        XCTAssertFalse(ReadTool.read(["file_path": "ok-link.txt"], workspace: ws).isError)
        XCTAssertFalse(ReadTool.read(["file_path": .string(dir.file("in.txt"))], workspace: ws).isError)
        XCTAssertFalse(ReadTool.read(["file_path": "sub/../in.txt"], workspace: ws).isError)
        XCTAssertTrue(GlobTool.glob(["pattern": "*", "path": ".."], workspace: ws).isError)
        XCTAssertThrowsError(try GrepTool.options(["pattern": "x", "path": "escape"], workspace: ws))
    }

    func testHTMLReducedToText() {
        let html = "<html><head><title>T</title><style>p{}</style><script>var x=1;</script></head><body><h1>Hi &amp; welcome</h1><p>One\n two</p><ul><li>a</li><li>b</li></ul><!-- c --></body></html>"
        XCTAssertEqual(HTMLText.reduce(html), "T\n\nHi & welcome\n\nOne two\n\n- a\n- b")
    }
}
