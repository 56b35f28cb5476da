import XCTest
@testable import Agents

/// The unified diff shown before an Edit or Write (expected outputs are GNU `diff -u`'s hunks).
final class CoderLineDiffTests: XCTestCase {
    let twenty = (1...20).map { "\($0)\n" }.joined()

    func testIdenticalContentHasNoDiff() {
        XCTAssertEqual(LineDiff.unified(old: "a\nb\n", new: "a\nb\n"), [])
        XCTAssertEqual(LineDiff.unified(old: "", new: ""), [])
    }

    func testInsertKeepsThreeLinesOfContext() {
        let new = twenty.replacing("10\n", with: "10\nnew\n")
        XCTAssertEqual(LineDiff.unified(old: twenty, new: new),
                       ["@@ -8,6 +8,7 @@", " 8", " 9", " 10", "+new", " 11", " 12", " 13"])
    }

    func testDeleteAtTheStartAndHunksFarApart() {
        let new = twenty.replacing("\n3\n", with: "\n").replacing("\n17\n", with: "\n")
        XCTAssertEqual(LineDiff.unified(old: twenty, new: new), [
            "@@ -1,6 +1,5 @@", " 1", " 2", "-3", " 4", " 5", " 6",
            "@@ -14,7 +13,6 @@", " 14", " 15", " 16", "-17", " 18", " 19", " 20",
        ])
    }

    func testNearbyChangesShareAHunk() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n"
        let new = "a\nb\nc\nD\ne\nf\ng\nh\nI\nj\nk\nl\nm\nn\n"
        XCTAssertEqual(LineDiff.unified(old: old, new: new), [
            "@@ -1,13 +1,14 @@", " a", " b", " c", "-d", "+D", " e", " f", " g", " h", "-i", "+I", " j", " k", " l", " m", "+n",
        ])
    }

    func testChangeOfSeveralLinesRemovesBeforeAdding() {
        XCTAssertEqual(LineDiff.unified(old: "x\none\ntwo\ny\n", new: "x\nuno\ndos\ntres\ny\n", context: 1),
                       ["@@ -1,4 +1,5 @@", " x", "-one", "-two", "+uno", "+dos", "+tres", " y"])
    }

    func testNewFileAndHeader() {
        XCTAssertEqual(LineDiff.unified(old: nil, new: "1\n2\n", path: "src/a.txt"),
                       ["--- /dev/null", "+++ b/src/a.txt", "@@ -0,0 +1,2 @@", "+1", "+2"])
        XCTAssertEqual(LineDiff.unified(old: "1\n", new: "2\n", path: "a.txt"), ["--- a/a.txt", "+++ b/a.txt", "@@ -1 +1 @@", "-1", "+2"])
        XCTAssertEqual(LineDiff.unified(old: "gone\n", new: ""), ["@@ -1 +0,0 @@", "-gone"])
    }

    func testMissingFinalNewline() {
        XCTAssertEqual(LineDiff.unified(old: "x\ny", new: "x\nz\n"),
                       ["@@ -1,2 +1,2 @@", " x", "-y", "\\ No newline at end of file", "+z"])
        XCTAssertEqual(LineDiff.unified(old: "x\n", new: "x"), ["@@ -1 +1 @@", "-x", "+x", "\\ No newline at end of file"])
    }

    func testLongOutputIsCut() {
        let old = (1...100).map { "line \($0)\n" }.joined()
        let new = (1...100).map { "LINE \($0)\n" }.joined()
        let d = LineDiff.unified(old: old, new: new)
        XCTAssertEqual(d.count, 41)
        XCTAssertEqual(d[0], "@@ -1,100 +1,100 @@")
        XCTAssertEqual(d.last, "... 161 more lines")
        XCTAssertEqual(LineDiff.unified(old: old, new: new, maxLines: 3), ["@@ -1,100 +1,100 @@", "-line 1", "-line 2", "... 198 more lines"])
    }

    func testTooBigToCompareIsSummarised() {
        let old = "keep\n" + (1...50).map { "a\($0)\n" }.joined() + "end\n"
        let new = "keep\n" + (1...40).map { "b\($0)\n" }.joined() + "end\n"
        XCTAssertEqual(LineDiff.unified(old: old, new: new, maxCells: 1000),
                       ["@@ -2,50 +2,40 @@", "(50 lines replaced by 40 lines: too many to compare)"])
        // A file of a few thousand lines with a small change is compared (common ends are skipped).
        let big = (1...5000).map { "l\($0)\n" }.joined()
        XCTAssertEqual(LineDiff.unified(old: big, new: big.replacing("l2500\n", with: "changed\n")).count, 9)
    }
}
