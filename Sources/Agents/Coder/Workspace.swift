import Glibc

/// A path the model named could not be used.
public struct ToolError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The directory the file tools are confined to. Every path the model gives is resolved here:
/// relative paths against the root, `..` lexically, symlinks with `realpath` of the longest
/// prefix that exists; the result must be the root or inside it.
///
/// On the Docker backend the model knows the workspace by the container's path (`shown`, e.g.
/// `/workspace`) while the file tools work on the host side of the bind mount (`path`):
/// absolute paths under `shown` are translated to `path` first, and every check is made on
/// the host path.
public struct Workspace {
    /// The root on the host, as given (absolute).
    public let path: String
    /// The root with symlinks resolved.
    public let root: String
    /// The root as the model (and commands in the box) see it.
    public let shown: String

    public init(path: String, shownAs: String? = nil) {
        self.path = path
        root = Workspace.realPath(path) ?? Workspace.normalize(path)
        shown = Workspace.normalize(shownAs ?? path)
    }

    /// A workspace for the box's view: file tools on `box.hostWorkspace`, paths as `box.boxWorkspace`.
    public init(box: Box) {
        self.init(path: box.hostWorkspace, shownAs: box.boxWorkspace)
    }

    /// An absolute path as the model sees it -> the host path (unchanged when not under `shown`).
    public func hostPath(_ shownPath: String) -> String {
        guard shown != Workspace.normalize(path) else { return shownPath }
        let p = Workspace.normalize(shownPath)
        if p == shown { return path }
        if shown == "/" { return path + p }
        if p.hasPrefix(shown + "/") { return path + p.dropFirst(shown.count) }
        return shownPath
    }

    /// A host path -> as the model sees it.
    public func shownPath(_ full: String) -> String {
        let rel = relative(full)
        if rel == full { return full }
        return rel == "." ? shown : (shown == "/" ? "/" : shown + "/") + rel
    }

    /// The real absolute path of `given`, or a ToolError when it would leave the workspace.
    public func resolve(_ given: String) throws -> String {
        guard !given.isEmpty else { throw ToolError("empty path") }
        guard !given.utf8.contains(0) else { throw ToolError("path contains a NUL byte") }
        let absolute = given.hasPrefix("/") ? hostPath(given) : path + "/" + given
        let lexical = Workspace.normalize(absolute)
        // Lexically outside (`..` past the root, or an absolute path elsewhere): refused even
        // when a symlink would happen to lead back in.
        let lexicalRootOK = Workspace.isInside(lexical, Workspace.normalize(path)) || Workspace.isInside(lexical, root)
        guard lexicalRootOK else {
            throw ToolError("\(given) is outside the workspace \(shown) (file tools only work inside it)")
        }
        // realpath of the longest existing prefix, then the rest appended.
        var components = lexical.split(separator: "/").map(String.init)
        var rest: [String] = []
        var resolved: String?
        while true {
            let prefix = "/" + components.joined(separator: "/")
            if let r = Workspace.realPath(prefix) { resolved = r; break }
            guard let last = components.popLast() else { break }
            rest.insert(last, at: 0)
        }
        var full = resolved ?? "/"
        for c in rest { full += (full.hasSuffix("/") ? "" : "/") + c }
        guard Workspace.isInside(full, root) else {
            let target = shown == Workspace.normalize(path) ? full : "a path outside the workspace on the host"
            throw ToolError("\(given) leads outside the workspace \(shown) through a symbolic link (resolves to \(target))")
        }
        return full
    }

    /// `path` relative to the workspace root, for messages ("src/a.swift"; "." for the root).
    public func relative(_ full: String) -> String {
        for base in [root, Workspace.normalize(path)] {
            if full == base { return "." }
            if full.hasPrefix(base == "/" ? "/" : base + "/") { return String(full.dropFirst(base == "/" ? 1 : base.count + 1)) }
        }
        return full
    }

    static func isInside(_ p: String, _ base: String) -> Bool {
        p == base || base == "/" || p.hasPrefix(base + "/")
    }

    /// `/a/./b/../c` -> `/a/c`; never above `/`.
    static func normalize(_ p: String) -> String {
        var out: [Substring] = []
        for c in p.split(separator: "/") {
            if c == "." || c.isEmpty { continue }
            if c == ".." { _ = out.popLast(); continue }
            out.append(c)
        }
        return "/" + out.joined(separator: "/")
    }

    static func realPath(_ p: String) -> String? {
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }
}
