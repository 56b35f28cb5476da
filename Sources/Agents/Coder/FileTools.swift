import Glibc
import LLM
import Loop

/// Small POSIX file helpers (no Foundation on the tool path).
enum Files {
    static func isDirectory(_ p: String) -> Bool {
        var st = stat()
        return stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
    static func exists(_ p: String) -> Bool {
        var st = stat()
        return lstat(p, &st) == 0
    }
    static func size(_ p: String) -> Int? {
        var st = stat()
        return stat(p, &st) == 0 ? Int(st.st_size) : nil
    }
    static func mtime(_ p: String) -> Double {
        var st = stat()
        guard stat(p, &st) == 0 else { return 0 }
        return Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }

    static func read(_ p: String, limit: Int = Int.max) throws -> [UInt8] {
        let fd = open(p, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ToolError("cannot read \(p): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        switch Posix.readAll(fd, limit: limit) {
        case .success(let bytes): return bytes
        case .failure(let error): throw ToolError("cannot read \(p): \(error.reason)")
        }
    }

    /// Creates missing parent directories, then replaces the file atomically (temp + rename),
    /// keeping an existing file's permissions.
    static func write(_ p: String, _ bytes: [UInt8]) throws {
        let dir = parent(p)
        try makeDirectories(dir)
        var mode: mode_t = 0o644
        var st = stat()
        if stat(p, &st) == 0 { mode = st.st_mode & 0o7777 }
        let temp = dir + "/.\(basename(p)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ToolError("cannot write \(p): \(String(cString: strerror(errno)))") }
        if let error = Posix.writeAll(fd, bytes) {
            close(fd); unlink(temp)
            throw ToolError("cannot write \(p): \(error.reason)")
        }
        fchmod(fd, mode)
        close(fd)
        guard rename(temp, p) == 0 else {
            let e = errno
            unlink(temp)
            throw ToolError("cannot write \(p): \(String(cString: strerror(e)))")
        }
    }

    static func makeDirectories(_ dir: String) throws {
        if isDirectory(dir) { return }
        let up = parent(dir)
        if up != dir { try makeDirectories(up) }
        if mkdir(dir, 0o755) != 0 && errno != EEXIST {
            throw ToolError("cannot create directory \(dir): \(String(cString: strerror(errno)))")
        }
    }

    static func parent(_ p: String) -> String {
        guard let slash = p.lastIndex(of: "/") else { return "." }
        return slash == p.startIndex ? "/" : String(p[..<slash])
    }
    static func basename(_ p: String) -> String {
        guard let slash = p.lastIndex(of: "/") else { return p }
        return String(p[p.index(after: slash)...])
    }

    /// Binary: a NUL byte, or more than 10% control characters (other than tab, line and page
    /// breaks, backspace and escape). Text in another encoding than UTF-8 (Latin-1,
    /// Windows-1252) is text: its bytes above 0x7F are not counted.
    static func looksBinary(_ sample: [UInt8]) -> Bool {
        if sample.contains(0) { return true }
        var control = 0
        for b in sample where (b < 0x20 && ![8, 9, 10, 11, 12, 13, 27].contains(b)) || b == 0x7F { control += 1 }
        return control * 10 > sample.count
    }

    /// Whether `bytes` are valid UTF-8; with `cutEnd`, a multi-byte character cut by the end of a
    /// sample does not count.
    static func isUTF8<C: Collection>(_ bytes: C, cutEnd: Bool = false) -> Bool where C.Element == UInt8, C.Index == Int {
        var end = bytes.endIndex
        if cutEnd {
            var i = bytes.endIndex - 1
            while i >= bytes.startIndex && bytes.endIndex - i <= 4 {
                let b = bytes[i]
                if b & 0xC0 == 0x80 { i -= 1; continue }
                if b >= 0xC0 {
                    let need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
                    if bytes.endIndex - i < need { end = i }
                }
                break
            }
        }
        return String(validating: bytes[bytes.startIndex..<end], as: UTF8.self) != nil
    }

    /// What Read, Edit and Write say about text that is not UTF-8.
    static let notUTF8 = "not valid UTF-8 (perhaps Latin-1 or another legacy encoding)"
}

// MARK: Read

public struct ReadTool: CoderToolImplementation {
    public init() {}
    public let name = "Read"
    public let isReadOnly = true
    /// Lines returned when no limit is given; longer lines are cut.
    public static let defaultLimit = 2000
    public static let maxLineLength = 2000
    /// Output cap (characters).
    public static let maxOutput = 256_000
    /// Files above this size must be read with offset/limit ranges.
    public static let maxWholeFile = 10 << 20

    public var definition: ToolDefinition {
        ToolDefinition(name: name, description: """
            Reads a text file from the workspace. Output lines are numbered (cat -n style, starting at 1). \
            By default up to \(Self.defaultLimit) lines from the start; use offset (first line, 1-based) and limit \
            (number of lines) to read a part of a long file. Binary files are refused; in text that is not UTF-8 \
            (e.g. Latin-1) the bytes that are not UTF-8 are shown as U+FFFD, and the output says so.
            """, inputSchema: Schema.object([
                ("file_path", Schema.string("Path of the file (relative to the workspace, or absolute inside it)")),
                ("offset", Schema.integer("Line number to start reading from (1-based)")),
                ("limit", Schema.integer("Number of lines to read")),
            ], required: ["file_path"]))
    }

    public func run(_ input: JSONValue, context: ToolContext, completion: @escaping (ToolOutput) -> Void) {
        let workspace = context.workspace
        context.runInBackground({ cancel in Self.read(input, workspace: workspace, cancel: cancel) }, completion: completion)
    }

    /// Blocking file I/O: runs on a worker thread (`run`); stops early once `cancel` is set.
    public static func read(_ input: JSONValue, workspace: Workspace, cancel: CancellationFlag? = nil) -> ToolOutput {
        let args = ToolInput(value: input, tool: "Read")
        do {
            let given = try args.string("file_path")
            let path = try workspace.resolve(given)
            guard Files.exists(path) else { return .error("\(given) does not exist") }
            if Files.isDirectory(path) { return .error("\(given) is a directory; use Glob or Bash (ls) to list it") }
            let offset = max(1, try args.int("offset") ?? 1)
            let limit = try args.int("limit") ?? defaultLimit
            guard limit > 0 else { return .error("limit must be at least 1") }
            let size = Files.size(path) ?? 0
            guard let file = fopen(path, "rb") else { return .error("cannot read \(given): \(String(cString: strerror(errno)))") }
            defer { fclose(file) }
            // Binary check on the first 8 KiB.
            var sample = [UInt8](repeating: 0, count: 8192)
            let n = fread(&sample, 1, sample.count, file)
            sample.removeLast(sample.count - n)
            if Files.looksBinary(sample) {
                return .error("\(given) is a binary file (\(size) bytes); Read only shows text. Use Bash (e.g. `file`, `xxd | head`) to inspect it")
            }
            var notUTF8Lines = 0
            if size > maxWholeFile && input["offset"] == nil && input["limit"] == nil {
                return .error("\(given) is \(size) bytes, too large to read whole; read a range with offset and limit")
            }
            rewind(file)
            // Stream line by line: a range of a huge file needs no more memory than the range.
            var out = ""
            var lineNumber = 0
            var shown = 0
            var cutLines = 0
            var truncatedOutput = false
            var line: UnsafeMutablePointer<CChar>?
            var capacity = 0
            defer { free(line) }
            var skipBOM = true
            while true {
                let len = getline(&line, &capacity, file)
                if len < 0 { break }
                lineNumber += 1
                if lineNumber % 4096 == 0, cancel?.isCancelled == true { return .error(Self.stopped) }
                if lineNumber < offset { skipBOM = false; continue }
                if shown >= limit { break }
                var bytes = UnsafeRawBufferPointer(start: line, count: len)[...]
                if skipBOM && bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
                skipBOM = false
                if bytes.last == 10 { bytes = bytes.dropLast() }
                if bytes.last == 13 { bytes = bytes.dropLast() }
                var text: String
                if let valid = String(validating: bytes, as: UTF8.self) {
                    text = valid
                } else {
                    text = String(decoding: bytes, as: UTF8.self)  // invalid bytes become U+FFFD
                    notUTF8Lines += 1
                }
                if text.count > maxLineLength { text = String(text.prefix(maxLineLength)) + " [line cut]"; cutLines += 1 }
                let numbered = pad(lineNumber) + "\t" + text + "\n"
                if out.utf8.count + numbered.utf8.count > maxOutput { truncatedOutput = true; break }
                out += numbered
                shown += 1
            }
            var totalKnown = true
            if shown >= limit || truncatedOutput {
                // Count the remaining lines only for files of sane size.
                if size <= maxWholeFile {
                    while getline(&line, &capacity, file) >= 0 {
                        lineNumber += 1
                        if lineNumber % 4096 == 0, cancel?.isCancelled == true { return .error(Self.stopped) }
                    }
                } else { totalKnown = false }
            }
            if lineNumber == 0 { return ToolOutput("(\(given) is empty)") }
            if offset > lineNumber { return .error("\(given) has \(lineNumber) lines; offset \(offset) is past the end") }
            let last = offset + shown - 1
            if last < lineNumber || !totalKnown || truncatedOutput {
                out += "[lines \(offset)-\(last) of \(totalKnown ? "\(lineNumber)" : "many"); read more with offset \(last + 1)]\n"
            }
            if cutLines > 0 { out += "[\(cutLines) long line(s) cut at \(maxLineLength) characters]\n" }
            if notUTF8Lines > 0 {
                out += "[\(notUTF8Lines) line(s) shown are \(Files.notUTF8): bytes that are not UTF-8 are shown as U+FFFD (\u{FFFD}). "
                    + "Edit can change the ASCII text of this file and keeps every other byte as it is]\n"
            }
            return ToolOutput(out)
        } catch {
            return .error("\(error)")
        }
    }

    /// The result when the agent stopped the read (Esc) before it finished.
    static let stopped = "Read was stopped before it finished"

    static func pad(_ n: Int) -> String {
        let s = String(n)
        return s.count >= 6 ? s : String(repeating: " ", count: 6 - s.count) + s
    }
}

// MARK: Write

public struct WriteTool: CoderToolImplementation {
    public init() {}
    public let name = "Write"
    public let isReadOnly = false
    public var definition: ToolDefinition {
        ToolDefinition(name: name, description: """
            Writes a file in the workspace, replacing it if it exists. Missing parent directories are created. \
            Prefer Edit for changing part of an existing file.
            """, inputSchema: Schema.object([
                ("file_path", Schema.string("Path of the file (relative to the workspace, or absolute inside it)")),
                ("content", Schema.string("The complete new content of the file")),
            ], required: ["file_path", "content"]))
    }

    public func run(_ input: JSONValue, context: ToolContext, completion: @escaping (ToolOutput) -> Void) {
        completion(Self.write(input, workspace: context.workspace))
    }

    public func preview(_ input: JSONValue, context: ToolContext) -> [String]? {
        try? Self.plan(input, workspace: context.workspace).get().preview
    }

    public static func write(_ input: JSONValue, workspace: Workspace) -> ToolOutput {
        FileChange.apply(plan(input, workspace: workspace))
    }

    /// What the call would write, without writing (or why it cannot).
    static func plan(_ input: JSONValue, workspace: Workspace) -> Result<FileChange, ToolError> {
        let args = ToolInput(value: input, tool: "Write")
        do {
            let given = try args.string("file_path")
            let content = try args.string("content")
            let path = try workspace.resolve(given)
            if Files.isDirectory(path) { throw ToolError("\(given) is a directory") }
            let existed = Files.exists(path)
            var bytes = Array(content.utf8)
            var before: FileChange.Before = .absent
            // An existing CRLF / BOM file keeps its style.
            if existed, let old = try? Files.read(path, limit: FileChange.maxCompared + 1) {
                // Read showed its bytes that are not UTF-8 as U+FFFD: writing that back would
                // lose them for good.
                let sample = Array(old.prefix(1 << 20))
                if content.unicodeScalars.contains("\u{FFFD}") && !Files.looksBinary(Array(old.prefix(8192)))
                    && !Files.isUTF8(sample, cutEnd: old.count > sample.count) {
                    throw ToolError("\(given) is \(Files.notUTF8) and content contains U+FFFD (\u{FFFD}), which Read shows in place of "
                        + "its bytes that are not UTF-8; writing it would replace those bytes for good. Change the ASCII text with Edit "
                        + "(it keeps the other bytes), or convert the file first with Bash (e.g. iconv -f latin1 -t utf-8)")
                }
                let style = FileText(bytes: old)
                bytes = FileText(content: FileText.toLF(bytes), hasBOM: style.hasBOM, crlf: style.crlf).bytes
                before = old.count > FileChange.maxCompared || Files.looksBinary(Array(old.prefix(8192)))
                    ? .uncompared(Files.size(path) ?? old.count) : .text(String(decoding: style.content, as: UTF8.self))
            }
            let lines = FileText.lineCount(content.utf8)
            return .success(FileChange(path: path, bytes: bytes, before: before,
                                       after: String(decoding: FileText.toLF(Array(content.utf8)), as: UTF8.self),
                                       result: "\(existed ? "Replaced" : "Created") \(workspace.relative(path)) (\(bytes.count) bytes, \(lines) line\(lines == 1 ? "" : "s"))"))
        } catch let e as ToolError {
            return .failure(e)
        } catch {
            return .failure(ToolError("\(error)"))
        }
    }
}

/// A change Write or Edit would make: the bytes to write, and the text before and after for
/// showing the person a diff (the dry run behind the permission prompt).
struct FileChange {
    /// absent: a new file.
    enum Before { case absent, text(String), uncompared(Int) }
    /// Files larger than this (bytes) are not compared line by line.
    static let maxCompared = 4 << 20

    var path: String
    var bytes: [UInt8]
    var before: Before
    var after: String
    /// What the tool tells the model once written.
    var result: String

    /// The diff to show (never empty).
    var preview: [String] {
        switch before {
        case .uncompared(let size):
            return ["(replaces a file of \(size) bytes, too large or binary to compare, with \(bytes.count) bytes)"]
        case .absent: return LineDiff.unified(old: nil, new: after).nonEmpty ?? ["(an empty new file)"]
        case .text(let old): return LineDiff.unified(old: old, new: after).nonEmpty ?? ["(no change)"]
        }
    }

    static func apply(_ plan: Result<FileChange, ToolError>) -> ToolOutput {
        do {
            let change = try plan.get()
            try Files.write(change.path, change.bytes)
            return ToolOutput(change.result)
        } catch {
            return .error("\(error)")
        }
    }
}

extension Array {
    var nonEmpty: Self? { isEmpty ? nil : self }
}

// MARK: Edit

public struct EditTool: CoderToolImplementation {
    public init() {}
    public let name = "Edit"
    public let isReadOnly = false
    public var definition: ToolDefinition {
        ToolDefinition(name: name, description: """
            Replaces text in a file. old_string must match exactly once (include enough surrounding lines to be \
            unique) unless replace_all is true. With use_regex, old_string is a POSIX extended regular expression \
            (^ and $ match at line ends) and new_string may use \\1..\\9 for its groups. The file's line endings and \
            byte order mark are kept. In a file that is not UTF-8 (e.g. Latin-1) only ASCII text can be written; \
            its other bytes are kept. Returns the number of replacements.
            """, inputSchema: Schema.object([
                ("file_path", Schema.string("Path of the file to edit")),
                ("old_string", Schema.string("Exact text (or regex with use_regex) to replace")),
                ("new_string", Schema.string("Replacement text")),
                ("replace_all", Schema.boolean("Replace every occurrence (default false)")),
                ("use_regex", Schema.boolean("Treat old_string as a POSIX extended regular expression (default false)")),
            ], required: ["file_path", "old_string", "new_string"]))
    }

    public func run(_ input: JSONValue, context: ToolContext, completion: @escaping (ToolOutput) -> Void) {
        completion(Self.edit(input, workspace: context.workspace))
    }

    public func preview(_ input: JSONValue, context: ToolContext) -> [String]? {
        try? Self.plan(input, workspace: context.workspace).get().preview
    }

    public static func edit(_ input: JSONValue, workspace: Workspace) -> ToolOutput {
        FileChange.apply(plan(input, workspace: workspace))
    }

    /// The edited file, without writing it (or why the edit cannot be made).
    static func plan(_ input: JSONValue, workspace: Workspace) -> Result<FileChange, ToolError> {
        let args = ToolInput(value: input, tool: "Edit")
        do {
            let given = try args.string("file_path")
            var old = try args.string("old_string")
            var new = try args.string("new_string")
            let path = try workspace.resolve(given)
            guard Files.exists(path), !Files.isDirectory(path) else { throw ToolError("\(given) does not exist (use Write to create a file)") }
            let bytes = try Files.read(path)
            if bytes.contains(0) || Files.looksBinary(Array(bytes.prefix(8192))) {
                throw ToolError("\(given) is a binary file; Edit only changes text")
            }
            var text = FileText(bytes: bytes)
            // Text that is not UTF-8 (Latin-1, ...) is edited byte for byte: only the matched bytes
            // change, and only to ASCII, so the file keeps its encoding and every other byte.
            let utf8 = Files.isUTF8(text.content)
            if !utf8 {
                if new.unicodeScalars.contains(where: { !$0.isASCII }) {
                    throw ToolError("\(given) is \(Files.notUTF8); new_string has non-ASCII characters, which would be written as "
                        + "UTF-8 and mix two encodings in the file. Edit can change only ASCII text in this file; use Bash "
                        + "(e.g. sed, or iconv to convert the file to UTF-8 first) for the rest")
                }
                if old.unicodeScalars.contains("\u{FFFD}") {
                    throw ToolError("\(given) is \(Files.notUTF8); old_string contains U+FFFD (\u{FFFD}), which Read shows in place "
                        + "of bytes that are not UTF-8 and which cannot match them. Choose old_string from the ASCII text around them")
                }
            }
            if text.crlf {
                old = old.replacing("\r\n", with: "\n")
                new = new.replacing("\r\n", with: "\n")
            }
            if old == new && !args.bool("use_regex") { throw ToolError("old_string and new_string are the same; nothing to change") }
            let outcome = try EditEngine.apply(content: text.content, old: old, new: new,
                                               replaceAll: args.bool("replace_all"), regex: args.bool("use_regex"))
            let before = String(decoding: text.content, as: UTF8.self)
            text.content = outcome.content
            let n = outcome.replacements
            return .success(FileChange(path: path, bytes: text.bytes,
                                       before: bytes.count > FileChange.maxCompared ? .uncompared(bytes.count) : .text(before),
                                       after: String(decoding: outcome.content, as: UTF8.self),
                                       result: "Edited \(workspace.relative(path)): \(n) replacement\(n == 1 ? "" : "s")"
                                           + (utf8 ? "" : " (the file is not UTF-8; its other bytes are unchanged)")))
        } catch let e as ToolError {
            return .failure(e)
        } catch {
            return .failure(ToolError("\(error)"))
        }
    }
}
