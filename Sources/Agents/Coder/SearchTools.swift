import Glibc
import LLM
import Loop

/// Glob patterns with `**` (any number of directories), `*`, `?`, `[...]` per path segment.
public enum GlobMatcher {
    /// Directories never searched (version control internals).
    static let skipped: Set<String> = [".git", ".hg", ".svn"]

    public static func matches(_ pattern: String, _ relativePath: String) -> Bool {
        let p = pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let s = relativePath.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        return match(p[...], s[...])
    }

    static func match(_ p: ArraySlice<String>, _ s: ArraySlice<String>) -> Bool {
        guard let first = p.first else { return s.isEmpty }
        if first == "**" {
            let rest = p.dropFirst()
            var t = s
            while true {
                if match(rest, t) { return true }
                guard !t.isEmpty else { return false }
                t = t.dropFirst()
            }
        }
        guard let name = s.first, fnmatch(first, name, FNM_PERIOD) == 0 || (first.hasPrefix(".") && fnmatch(first, name, 0) == 0) else {
            return false
        }
        return match(p.dropFirst(), s.dropFirst())
    }

    /// Every file under `root` (relative paths), skipping version-control directories; stops
    /// after `limit` files. Blocking (runs on a worker thread); returns false when it stopped
    /// early because `cancel` was set.
    @discardableResult
    static func walk(_ root: String, limit: Int = 200_000, cancel: CancellationFlag? = nil, _ visit: (String, String) -> Void) -> Bool {
        var count = 0
        var entries = 0
        var stack: [(String, String)] = [(root, "")]
        while let (dir, rel) = stack.popLast() {
            if cancel?.isCancelled == true { return false }
            guard let d = opendir(dir) else { continue }
            defer { closedir(d) }
            while let entry = readdir(d) {
                entries += 1
                if entries % 256 == 0, cancel?.isCancelled == true { return false }
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name == "." || name == ".." { continue }
                let full = dir == "/" ? "/" + name : dir + "/" + name
                let relative = rel.isEmpty ? name : rel + "/" + name
                var type = entry.pointee.d_type
                if type == UInt8(DT_UNKNOWN) || type == UInt8(DT_LNK) {
                    var st = stat()
                    // Symlinks are not followed into directories (no loops, no escape).
                    if lstat(full, &st) == 0 { type = (st.st_mode & S_IFMT) == S_IFDIR ? UInt8(DT_DIR) : UInt8(DT_REG) }
                }
                if type == UInt8(DT_DIR) {
                    if !skipped.contains(name) { stack.append((full, relative)) }
                } else {
                    visit(full, relative)
                    count += 1
                    if count >= limit { return true }
                }
            }
        }
        return true
    }
}

// MARK: Glob

public struct GlobTool: CoderToolImplementation {
    public init() {}
    public let name = "Glob"
    public let isReadOnly = true
    public static let maxResults = 500
    public var definition: ToolDefinition {
        ToolDefinition(name: name, description: """
            Finds files by name pattern, newest first. Patterns are relative to path (default: the workspace): \
            `*` and `?` match within one path segment, `**` matches any number of directories \
            (e.g. "**/*.swift", "src/**/test_*.py").
            """, inputSchema: Schema.object([
                ("pattern", Schema.string("Glob pattern, e.g. **/*.swift")),
                ("path", Schema.string("Directory to search in (default: the workspace)")),
            ], required: ["pattern"]))
    }

    public func run(_ input: JSONValue, context: ToolContext, completion: @escaping (ToolOutput) -> Void) {
        let workspace = context.workspace
        context.runInBackground({ cancel in Self.glob(input, workspace: workspace, cancel: cancel) }, completion: completion)
    }

    /// The result when the agent stopped the walk (Esc) before it finished.
    static func stopped(_ tool: String, _ detail: String) -> ToolOutput {
        .error("\(tool) was stopped before it finished (\(detail))")
    }

    /// Blocking (walks the tree): runs on a worker thread (`run`); stops early once `cancel` is set.
    public static func glob(_ input: JSONValue, workspace: Workspace, cancel: CancellationFlag? = nil) -> ToolOutput {
        let args = ToolInput(value: input, tool: "Glob")
        do {
            var pattern = try args.string("pattern")
            let base = try workspace.resolve(args.optionalString("path") ?? ".")
            guard Files.isDirectory(base) else { return .error("\(args.optionalString("path") ?? ".") is not a directory") }
            if pattern.hasPrefix("./") { pattern.removeFirst(2) }
            if pattern.hasPrefix("/") {
                // An absolute pattern inside the workspace: make it relative to the base.
                let rel = workspace.relative(Workspace.normalize(workspace.hostPath(pattern)))
                guard rel != pattern else { return .error("the pattern \(pattern) is outside the workspace") }
                pattern = rel
            }
            var found: [(String, Double)] = []
            let complete = GlobMatcher.walk(base, cancel: cancel) { full, rel in
                if GlobMatcher.matches(pattern, rel) { found.append((full, Files.mtime(full))) }
            }
            if !complete { return stopped("Glob", "\(found.count) matching files found so far, not shown") }
            if found.isEmpty { return ToolOutput("No files match \(pattern)") }
            found.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
            var lines = found.prefix(maxResults).map { workspace.relative($0.0) }
            if found.count > maxResults { lines.append("[\(found.count - maxResults) more not shown; narrow the pattern]") }
            return ToolOutput(lines.joined(separator: "\n"))
        } catch {
            return .error("\(error)")
        }
    }
}

// MARK: Grep

public struct GrepTool: CoderToolImplementation {
    public init() {}
    public let name = "Grep"
    public let isReadOnly = true
    public static let maxOutput = 60_000
    public var definition: ToolDefinition {
        ToolDefinition(name: name, description: """
            Searches file contents with a regular expression (ripgrep syntax when ripgrep is installed, else POSIX \
            extended). output_mode: "files_with_matches" (default: paths of matching files), "content" (matching \
            lines with line numbers, optional context lines), "count" (matches per file). glob filters file names \
            (e.g. "*.swift", "**/*.{ts,tsx}" with ripgrep).
            """, inputSchema: Schema.object([
                ("pattern", Schema.string("Regular expression to search for")),
                ("path", Schema.string("File or directory to search (default: the workspace)")),
                ("glob", Schema.string("Only files whose path matches this glob, e.g. *.swift")),
                ("output_mode", Schema.enumeration("What to show", ["content", "files_with_matches", "count"])),
                ("-i", Schema.boolean("Case-insensitive")),
                ("-C", Schema.integer("Context lines before and after each match (content mode)")),
                ("-A", Schema.integer("Context lines after each match (content mode)")),
                ("-B", Schema.integer("Context lines before each match (content mode)")),
                ("head_limit", Schema.integer("Show at most this many output lines")),
            ], required: ["pattern"]))
    }

    struct Options {
        var pattern: String
        var path: String
        var glob: String?
        var mode: String
        var ignoreCase: Bool
        var before: Int
        var after: Int
        var headLimit: Int?
    }

    static func options(_ input: JSONValue, workspace: Workspace) throws -> Options {
        let args = ToolInput(value: input, tool: "Grep")
        let pattern = try args.string("pattern")
        let path = try workspace.resolve(args.optionalString("path") ?? ".")
        guard Files.exists(path) else { throw ToolError("\(args.optionalString("path") ?? ".") does not exist") }
        var mode = args.optionalString("output_mode") ?? "files_with_matches"
        if mode == "files" { mode = "files_with_matches" }
        guard ["content", "files_with_matches", "count"].contains(mode) else {
            throw ToolError("output_mode must be content, files_with_matches or count")
        }
        let c = try args.int("-C") ?? args.int("context") ?? 0
        return Options(pattern: pattern, path: path, glob: args.optionalString("glob"), mode: mode, ignoreCase: args.bool("-i"),
                       before: max(0, try args.int("-B") ?? c), after: max(0, try args.int("-A") ?? c),
                       headLimit: try args.int("head_limit"))
    }

    public func run(_ input: JSONValue, context: ToolContext, completion: @escaping (ToolOutput) -> Void) {
        let o: Options
        do { o = try Self.options(input, workspace: context.workspace) } catch { completion(.error("\(error)")); return }
        func builtIn() {
            let workspace = context.workspace
            context.runInBackground({ cancel in Self.builtInSearch(o, workspace: workspace, cancel: cancel) }, completion: completion)
        }
        func withRipgrep(_ available: Bool) {
            if available { Self.ripgrep(o, context: context, completion: completion) } else { builtIn() }
        }
        if let known = context.useRipgrep { withRipgrep(known); return }
        context.runCommand("command -v rg >/dev/null 2>&1", timeout: 10) { result in
            context.useRipgrep = result.exit == .exited(0)
            withRipgrep(context.useRipgrep!)
        }
    }

    // With ripgrep, in the box (paths translated to the box's view of the workspace).
    static func ripgrep(_ o: Options, context: ToolContext, completion: @escaping (ToolOutput) -> Void) {
        let ws = context.workspace
        var args = ["rg", "--color=never", "--no-heading", "--hidden", "--glob", "!.git"]
        switch o.mode {
        case "content":
            args += ["--line-number", "--with-filename"]
            if o.before > 0 { args += ["-B", "\(o.before)"] }
            if o.after > 0 { args += ["-A", "\(o.after)"] }
        case "count": args += ["--count-matches", "--with-filename"]
        default: args += ["--files-with-matches", "--sortr=modified"]
        }
        if o.ignoreCase { args.append("-i") }
        if let g = o.glob { args += ["--glob", g] }
        args += ["-e", o.pattern, "--", ws.relative(o.path)]
        let command = args.map(shellQuote).joined(separator: " ")
        context.runCommand(command, timeout: 60, outputLimit: maxOutput * 2) { result in
            switch result.exit {
            case .exited(0)?:
                // Searching "." makes ripgrep print "./path"; the model gets workspace-relative paths.
                let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
                    .map { $0.hasPrefix("./") ? String($0.dropFirst(2)) : String($0) }
                completion(ToolOutput(finish(lines.joined(separator: "\n"), o)))
            case .exited(1)?: completion(ToolOutput("No matches for \(o.pattern)"))
            default: completion(.error("ripgrep failed (\(result.statusText)): \(result.output)"))
            }
        }
    }

    static func finish(_ text: String, _ o: Options) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while lines.last == "" { lines.removeLast() }
        var extra = ""
        if let h = o.headLimit, h >= 0, lines.count > h {
            extra = "\n[\(lines.count - h) more lines not shown]"
            lines = Array(lines.prefix(h))
        }
        var out = lines.joined(separator: "\n")
        if out.utf8.count > maxOutput { out = String(out.prefix(maxOutput)) + "\n[output cut; narrow the search]" }
        return out + extra
    }

    /// The search without ripgrep: POSIX extended regex, line by line, binary files skipped.
    /// Blocking: runs on a worker thread (`run`); stops early once `cancel` is set.
    static func builtInSearch(_ o: Options, workspace: Workspace, cancel: CancellationFlag? = nil) -> ToolOutput {
        var re = regex_t()
        let rc = regcomp(&re, o.pattern, REG_EXTENDED | REG_NOSUB | (o.ignoreCase ? REG_ICASE : 0))
        guard rc == 0 else {
            var buffer = [CChar](repeating: 0, count: 256)
            regerror(rc, &re, &buffer, buffer.count)
            return .error("invalid regular expression \"\(o.pattern)\": \(String(cString: buffer))")
        }
        defer { regfree(&re) }
        var files: [(String, Double)] = []
        if Files.isDirectory(o.path) {
            let complete = GlobMatcher.walk(o.path, cancel: cancel) { full, rel in
                if let g = o.glob {
                    let matchesGlob = g.contains("/") ? GlobMatcher.matches(g, rel) : fnmatch(g, Files.basename(rel), 0) == 0
                    if !matchesGlob { return }
                }
                files.append((full, 0))
            }
            if !complete { return GlobTool.stopped("Grep", "while listing the files; none searched yet") }
        } else {
            files = [(o.path, 0)]
        }
        var output: [String] = []
        var matchedFiles: [(String, Double)] = []
        var totalSize = 0
        for (file, _) in files {
            if cancel?.isCancelled == true { return GlobTool.stopped("Grep", "\(matchedFiles.count) matching files found so far, not shown") }
            guard let size = Files.size(file), size <= 20 << 20, let bytes = try? Files.read(file) else { continue }
            if Files.looksBinary(Array(bytes.prefix(8192))) { continue }
            let lines = bytes.split(separator: 10, omittingEmptySubsequences: false)
            var hits: [Int] = []
            for (i, line) in lines.enumerated() {
                var cLine = Array(line)
                if cLine.last == 13 { cLine.removeLast() }
                cLine.append(0)
                let r = cLine.withUnsafeBufferPointer { p in
                    p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { regexec(&re, $0, 0, nil, 0) }
                }
                if r == 0 { hits.append(i) }
            }
            if lines.last?.isEmpty == true, let last = hits.last, last == lines.count - 1 { hits.removeLast() }
            guard !hits.isEmpty else { continue }
            let rel = workspace.relative(file)
            matchedFiles.append((rel, Files.mtime(file)))
            switch o.mode {
            case "count": output.append("\(rel):\(hits.count)")
            case "content":
                var shown = Set<Int>()
                var lastShown = -2
                for h in hits {
                    let from = max(0, h - o.before), to = min(lines.count - 1, h + o.after)
                    for i in from...to where !shown.contains(i) {
                        if i == lines.count - 1 && lines[i].isEmpty { continue }
                        if lastShown >= 0 && i > lastShown + 1 && (o.before > 0 || o.after > 0) { output.append("--") }
                        shown.insert(i)
                        var text = String(decoding: lines[i], as: UTF8.self)
                        if text.hasSuffix("\r") { text.removeLast() }
                        output.append("\(rel)\(i == h || hits.contains(i) ? ":" : "-")\(i + 1)\(i == h || hits.contains(i) ? ":" : "-")\(text)")
                        lastShown = i
                        totalSize += text.utf8.count
                    }
                }
            default: break
            }
            if totalSize > maxOutput * 2 { break }
        }
        if matchedFiles.isEmpty { return ToolOutput("No matches for \(o.pattern)") }
        if o.mode == "files_with_matches" {
            output = matchedFiles.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.map(\.0)
        }
        return ToolOutput(finish(output.joined(separator: "\n"), o))
    }
}
