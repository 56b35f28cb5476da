import Glibc
import Loop

/// What a token allows: `read` watches, `control` also types, pastes, starts, stops, restarts
/// and changes settings.
public enum Scope: String, Sendable, Comparable {
    case read, control
    public static func < (a: Scope, b: Scope) -> Bool { a == .read && b == .control }
}

/// The two tokens `serve` accepts, and the checks every request passes before anything is done.
/// Pure: the files are `TokenFiles`' business.
public struct Access: Sendable {
    public let controlToken: String
    public let readToken: String
    /// Origins besides the server's own that may open WebSockets and send cookies' requests.
    public var allowedOrigins: Set<String> = []

    public static let cookieName = "supervisor_token"

    public init(controlToken: String, readToken: String) {
        self.controlToken = controlToken
        self.readToken = readToken
    }

    /// The scope the request's credentials give, nil when it has none or a wrong one.
    /// `Authorization: Bearer` first, then the login cookie.
    public func scope(of request: WebRequest) -> Scope? {
        var presented: String?
        if let authorization = request.authorization {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { presented = String(parts[1]).trimmingSpaces }
        }
        if presented == nil, let cookie = request.cookie { presented = Access.cookieValue(cookie, name: Access.cookieName) }
        guard let presented else { return nil }
        return scope(ofToken: presented)
    }

    public func scope(ofToken token: String) -> Scope? {
        // Both compared, always, so the time taken says nothing about either.
        let isControl = constantTimeEqual(token, controlToken)
        let isRead = constantTimeEqual(token, readToken)
        if isControl { return .control }
        if isRead { return .read }
        return nil
    }

    /// The refusal for a request that needs `needed`, or nil when it may go ahead.
    /// 401: no or wrong credentials; 403: a cross-site Origin, or a read token asking to act.
    public func refusal(for request: WebRequest, needs needed: Scope) -> WebResponse? {
        guard let scope = scope(of: request) else {
            return .error(401, "missing or wrong token: send Authorization: Bearer TOKEN, or log in through the URL `supervisor serve` printed",
                          headers: [.init("WWW-Authenticate", "Bearer")])
        }
        if !originAllowed(request) { return .error(403, "cross-origin request refused (Origin \(request.origin ?? ""))") }
        if scope < needed { return .error(403, "this token may only read; \(needed.rawValue) needs the control token") }
        return nil
    }

    /// No Origin (a program, not a browser) or the server's own origin (the Host it was reached
    /// by), or one allowed explicitly. Browsers always send Origin on WebSocket upgrades and on
    /// cross-site POSTs, so this closes cross-site WebSocket hijacking and request forgery.
    public func originAllowed(_ request: WebRequest) -> Bool {
        guard let origin = request.origin else { return true }
        if allowedOrigins.contains(origin) { return true }
        guard let host = request.host, !host.isEmpty else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    /// The value of cookie `name` in a `Cookie:` header.
    public static func cookieValue(_ header: String, name: String) -> String? {
        for pair in header.split(separator: ";") {
            let trimmed = String(pair).trimmingSpaces
            if trimmed.hasPrefix(name + "=") { return String(trimmed.dropFirst(name.count + 1)) }
        }
        return nil
    }

    /// `Set-Cookie` for a browser that logged in with `token`.
    public static func loginCookie(_ token: String, secure: Bool) -> String {
        "\(cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }
}

/// Equal strings in time that depends only on their lengths.
public func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var difference = UInt8(truncatingIfNeeded: x.count ^ y.count)
    if x.count != y.count { difference |= 1 }
    let n = max(x.count, y.count)
    for i in 0..<n {
        let p = i < x.count ? x[i] : 0
        let q = i < y.count ? y[i] : 0
        difference |= p ^ q
    }
    return difference == 0
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let first = s.first, first == " " || first == "\t" { s.removeFirst() }
        while let last = s.last, last == " " || last == "\t" { s.removeLast() }
        return String(s)
    }
}

/// The token files in `SUPERVISOR_HOME/serve/`: made on first start from 256 random bits,
/// mode 0600 in a 0700 directory; refused when anyone else could read or replace them.
public enum TokenFiles {
    public static func directory(home: String) -> String { home + "/serve" }
    public static func controlPath(home: String) -> String { directory(home: home) + "/control.token" }
    public static func readPath(home: String) -> String { directory(home: home) + "/read.token" }

    /// Both tokens, creating what is missing.
    public static func load(home: String) throws -> Access {
        let dir = directory(home: home)
        if mkdir(home, 0o700) != 0 && errno != EEXIST { throw ServeError("cannot create \(home): \(String(cString: strerror(errno)))") }
        if mkdir(dir, 0o700) != 0 && errno != EEXIST { throw ServeError("cannot create \(dir): \(String(cString: strerror(errno)))") }
        try checkPrivate(dir, directory: true)
        return Access(controlToken: try loadOrCreate(controlPath(home: home)), readToken: try loadOrCreate(readPath(home: home)))
    }

    private static func checkPrivate(_ path: String, directory: Bool) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw ServeError("cannot read \(path): \(String(cString: strerror(errno)))") }
        let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
        let isFile = (info.st_mode & S_IFMT) == S_IFREG
        if directory ? !isDirectory : !isFile { throw ServeError("\(path) is not a \(directory ? "directory" : "regular file"); remove it") }
        if info.st_uid != getuid() { throw ServeError("\(path) belongs to another user; remove it") }
        if info.st_mode & 0o077 != 0 { throw ServeError("\(path) is readable by others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod go= it or remove it") }
    }

    private static func loadOrCreate(_ path: String) throws -> String {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd >= 0 {
            let token = try randomToken()
            let failed = Posix.writeAll(fd, token + "\n") != nil
            close(fd)
            if failed {
                unlink(path)
                throw ServeError("cannot write \(path)")
            }
            return token
        }
        guard errno == EEXIST else { throw ServeError("cannot create \(path): \(String(cString: strerror(errno)))") }
        try checkPrivate(path, directory: false)
        let readFD = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard readFD >= 0 else { throw ServeError("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(readFD) }
        let buffer = (try? Posix.readAll(readFD, limit: 256).get()) ?? []
        let token = String(decoding: buffer, as: UTF8.self).trimmingCharacters(in: "\n\r \t")
        guard token.count >= 32, token.allSatisfy({ $0.isHexDigit }) else {
            throw ServeError("\(path) does not hold a token; remove it and a new one is made")
        }
        return token
    }

    /// 32 bytes from the kernel's generator, as 64 hex digits.
    static func randomToken() throws -> String {
        guard case .success(let fd) = Posix.open("/dev/urandom", O_RDONLY) else { throw ServeError("no random bytes from the kernel") }
        defer { close(fd) }
        guard case .success(let bytes) = Posix.readAll(fd, limit: 32), bytes.count == 32 else { throw ServeError("no random bytes from the kernel") }
        return bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let first = s.first, set.contains(first) { s.removeFirst() }
        while let last = s.last, set.contains(last) { s.removeLast() }
        return String(s)
    }
}
