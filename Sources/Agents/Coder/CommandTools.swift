import Glibc
import HTTP
import LLM

// MARK: Bash

public struct BashTool: CoderToolImplementation {
    public init() {}
    public let name = "Bash"
    public let isReadOnly = false
    public var definition: ToolDefinition {
        ToolDefinition(name: name, description: """
            Runs a bash command in the workspace (in the agent's box) and returns its output (stdout and stderr \
            together; long output keeps its beginning and end) and exit status. Each call is a fresh shell in the \
            workspace directory. Default timeout 120 s (timeout is in milliseconds, at most 600000).
            """, inputSchema: Schema.object([
                ("command", Schema.string("The command to run")),
                ("timeout", Schema.integer("Timeout in milliseconds (default 120000, at most 600000)")),
                ("description", Schema.string("Five to ten words saying what the command does")),
            ], required: ["command"]))
    }

    public func summary(_ input: JSONValue) -> String { input["command"]?.stringValue ?? "" }

    public func run(_ input: JSONValue, context: ToolContext, completion: @escaping (ToolOutput) -> Void) {
        let args = ToolInput(value: input, tool: "Bash")
        let command: String
        let timeout: Double
        do {
            command = try args.string("command")
            let ms = try args.int("timeout")
            timeout = ms.map { min(context.bashMaxTimeout, max(0.001, Double($0) / 1000)) } ?? context.bashTimeout
        } catch { completion(.error("\(error)")); return }
        context.runCommand(command, timeout: timeout) { result in
            completion(Self.format(result, timeout: timeout))
        }
    }

    static func format(_ r: CommandResult, timeout: Double) -> ToolOutput {
        var text = r.output
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        if r.timedOut {
            text += "[killed after the \(formatSeconds(timeout)) timeout]"
            return ToolOutput(text, isError: true)
        }
        switch r.exit {
        case .exited(let code)?:
            text += "[exit \(code)]"
            return ToolOutput(text, isError: code != 0)
        case let other?:
            text += "[\(other)]"
            return ToolOutput(text, isError: true)
        case nil:
            return ToolOutput(text + "[no exit status]", isError: true)
        }
    }

    static func formatSeconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : "\((s * 1000).rounded() / 1000) s"
    }
}

// MARK: WebFetch

public struct WebFetchTool: CoderToolImplementation {
    public init() {}
    public let name = "WebFetch"
    public let isReadOnly = true
    public static let maxText = 100_000
    public var definition: ToolDefinition {
        ToolDefinition(name: name, description: """
            Fetches a web page (HTTP GET, redirects followed) and returns its text: HTML is reduced to readable \
            text, other text types are returned as they are. Long pages are cut.
            """, inputSchema: Schema.object([
                ("url", Schema.string("http:// or https:// URL")),
                ("prompt", Schema.string("What you are looking for on the page (for the transcript)")),
            ], required: ["url"]))
    }

    public func summary(_ input: JSONValue) -> String { input["url"]?.stringValue ?? "" }

    public func run(_ input: JSONValue, context: ToolContext, completion: @escaping (ToolOutput) -> Void) {
        let url: String
        do { url = try ToolInput(value: input, tool: "WebFetch").string("url") } catch { completion(.error("\(error)")); return }
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            completion(.error("WebFetch only fetches http:// and https:// URLs")); return
        }
        Self.fetch(url, context: context, redirects: 0, completion: completion)
    }

    static func fetch(_ url: String, context: ToolContext, redirects: Int, completion: @escaping (ToolOutput) -> Void) {
        var body: [UInt8] = []
        var cut = false
        let limit = context.webFetchMaxBytes
        let request = HTTPRequest(method: "GET", url: url,
                                  headers: [("User-Agent", "supervisor-coder/1"), ("Accept", "text/html, text/plain, */*;q=0.5")],
                                  connectTimeout: 10, stallTimeout: context.webFetchTimeout, totalTimeout: context.webFetchTimeout)
        var transfer: HTTPTransfer?
        transfer = context.http.start(request, onBody: { bytes in
            guard !cut else { return }
            body.append(contentsOf: bytes.prefix(limit - body.count))
            if body.count >= limit { cut = true; transfer?.cancel() }
        }, onComplete: { result in
            switch result {
            case .success(let info):
                let status = info.head.status
                if (300...399).contains(status), let location = info.head.header("location") {
                    guard redirects < 5 else { completion(.error("too many redirects fetching \(url)")); return }
                    fetch(resolve(location, against: url), context: context, redirects: redirects + 1, completion: completion)
                    return
                }
                completion(render(status: status, contentType: info.head.header("content-type"), body: body, url: url, cut: false))
            case .failure(let e):
                if cut, let head = transfer?.head {
                    completion(render(status: head.status, contentType: head.header("content-type"), body: body, url: url, cut: true))
                } else {
                    completion(.error("fetching \(url) failed: \(e.message)"))
                }
            }
        })
    }

    static func render(status: Int, contentType: String?, body: [UInt8], url: String, cut: Bool) -> ToolOutput {
        let type = (contentType ?? "").lowercased()
        let isHTML = type.contains("html") || (type.isEmpty && body.prefix(512).contains(UInt8(ascii: "<")))
        if !isHTML && !type.isEmpty && !type.hasPrefix("text/") && !type.contains("json") && !type.contains("xml")
            && !type.contains("javascript") {
            return .error("\(url) returned \(contentType ?? "?") (\(body.count) bytes), not text")
        }
        var text = String(decoding: body, as: UTF8.self)
        if isHTML { text = HTMLText.reduce(text) }
        var notes = ""
        if cut { notes += "\n[page cut at \(body.count) bytes]" }
        if text.count > maxText { text = String(text.prefix(maxText)); notes += "\n[text cut at \(maxText) characters]" }
        let header = "URL: \(url)\nStatus: \(status)\n\n"
        return ToolOutput(header + text + notes, isError: status >= 400)
    }

    static func resolve(_ location: String, against base: String) -> String {
        if location.contains("://") { return location }
        guard let schemeEnd = base.range(of: "://") else { return location }
        let afterScheme = base[schemeEnd.upperBound...]
        let hostEnd = afterScheme.firstIndex(of: "/") ?? afterScheme.endIndex
        let origin = String(base[..<hostEnd])
        if location.hasPrefix("//") { return String(base[..<schemeEnd.lowerBound]) + ":" + location }
        if location.hasPrefix("/") { return origin + location }
        let path = base[hostEnd...]
        let dir = path.lastIndex(of: "/").map { String(path[...$0]) } ?? "/"
        return origin + dir + location
    }
}

/// HTML reduced to readable text: scripts, styles and comments dropped, block elements become
/// line breaks, entities decoded, runs of blank space collapsed.
public enum HTMLText {
    static let blocks: Set<String> = ["p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
                                      "section", "article", "header", "footer", "pre", "blockquote", "hr", "title", "dt", "dd", "nav"]

    public static func reduce(_ html: String) -> String {
        var out = ""
        var i = html.startIndex
        var skipUntil: String?
        var pre = 0
        while i < html.endIndex {
            let c = html[i]
            if c == "<" {
                if html[i...].hasPrefix("<!--") {
                    i = html[i...].range(of: "-->")?.upperBound ?? html.endIndex
                    continue
                }
                guard let close = html[i...].firstIndex(of: ">") else { break }
                let tag = html[html.index(after: i)..<close]
                let closing = tag.hasPrefix("/")
                let name = String(tag.drop(while: { $0 == "/" }).prefix(while: { $0.isLetter || $0.isNumber })).lowercased()
                i = html.index(after: close)
                if let skip = skipUntil {
                    if closing && name == skip { skipUntil = nil }
                    continue
                }
                if !closing && (name == "script" || name == "style" || name == "noscript" || name == "svg") && !tag.hasSuffix("/") {
                    skipUntil = name
                    continue
                }
                if name == "pre" { pre += closing ? -1 : 1 }
                if blocks.contains(name) && !(closing && name == "li") { out += "\n" }
                if name == "li" && !closing { out += "- " }
                continue
            }
            if skipUntil != nil { i = html.index(after: i); continue }
            if c == "&", let semi = html[i...].prefix(12).firstIndex(of: ";") {
                let entity = String(html[html.index(after: i)..<semi])
                if let decoded = decodeEntity(entity) {
                    out += decoded
                    i = html.index(after: semi)
                    continue
                }
            }
            if pre == 0 && (c == "\n" || c == "\t" || c == "\r\n") { out += " " } else { out.append(c) }
            i = html.index(after: i)
        }
        // Collapse spaces within lines and runs of blank lines.
        var lines: [String] = []
        var blank = 0
        for raw in out.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            if line.isEmpty { blank += 1; if blank > 1 { continue } } else { blank = 0 }
            lines.append(line)
        }
        while lines.first == "" { lines.removeFirst() }
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    static func decodeEntity(_ e: String) -> String? {
        switch e {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos", "#39": return "'"
        case "nbsp": return " "
        case "mdash": return "—"
        case "ndash": return "–"
        case "hellip": return "…"
        case "copy": return "©"
        default:
            if e.hasPrefix("#x") || e.hasPrefix("#X"), let v = UInt32(e.dropFirst(2), radix: 16), let s = Unicode.Scalar(v) { return String(s) }
            if e.hasPrefix("#"), let v = UInt32(e.dropFirst()), let s = Unicode.Scalar(v) { return String(s) }
            return nil
        }
    }
}
