import CCurl
import Glibc
import Loop

/// `curl_global_init` exactly once per process (Swift globals are initialised once, thread-safely).
private let curlGlobalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

/// libcurl's multi-socket API driven by our libuv loop (curl's `docs/examples/multi-uv.c`):
/// CURLMOPT_SOCKETFUNCTION starts and stops one `Poll` per socket, CURLMOPT_TIMERFUNCTION drives
/// one `LoopTimer`, events go to `curl_multi_socket_action`, finished transfers come from
/// `curl_multi_info_read`. Everything runs on the loop thread; nothing blocks.
///
/// Re-entrancy: curl forbids calling back into the multi handle from its callbacks. User code
/// that runs inside one (`onHead`, `onBody`) may call `start` or `cancel`; those are then
/// deferred to a zero-delay timer that runs after curl returned.
///
/// Proxy (`http_proxy`, `https_proxy`, `no_proxy`, ...) is left to libcurl; CA settings follow
/// the curl tool's variables `CURL_CA_BUNDLE`, `SSL_CERT_FILE`, `SSL_CERT_DIR` when set.
public final class HTTPClient {
    public let loop: EventLoop
    private let multi: UnsafeMutableRawPointer
    private let timer: LoopTimer
    private let deferTimer: LoopTimer
    private var polls: [curl_socket_t: Poll] = [:]
    private var transfers: [UnsafeMutableRawPointer: HTTPTransfer] = [:]
    private var deferred: [() -> Void] = []
    /// > 0 while inside `curl_multi_socket_action` (so inside curl callbacks).
    private var insideCurl = 0
    private var closed = false
    private let caBundle: String?
    private let caPath: String?

    /// Transfers in flight.
    public var activeTransfers: Int { transfers.count }

    public init(loop: EventLoop, environment: [String: String]? = nil) {
        precondition(curlGlobalInit == CURLE_OK, "curl_global_init failed")
        self.loop = loop
        multi = curl_multi_init()
        timer = LoopTimer(loop: loop)
        deferTimer = LoopTimer(loop: loop)
        let env = environment ?? HTTPClient.processEnvironment()
        caBundle = [env["CURL_CA_BUNDLE"], env["SSL_CERT_FILE"]].compactMap { $0 }.first { !$0.isEmpty }
        caPath = env["SSL_CERT_DIR"].flatMap { $0.isEmpty ? nil : $0 }

        let me = Unmanaged.passUnretained(self).toOpaque()
        sv_multi_setopt_ptr(multi, CURLMOPT_SOCKETDATA, me)
        sv_multi_setopt_ptr(multi, CURLMOPT_TIMERDATA, me)
        sv_multi_setopt_socket_cb(multi, CURLMOPT_SOCKETFUNCTION) { _, socket, what, userp, _ in
            Unmanaged<HTTPClient>.fromOpaque(userp!).takeUnretainedValue().socketCallback(socket, what)
            return 0
        }
        sv_multi_setopt_timer_cb(multi, CURLMOPT_TIMERFUNCTION) { _, timeoutMs, userp in
            Unmanaged<HTTPClient>.fromOpaque(userp!).takeUnretainedValue().timerCallback(timeoutMs)
            return 0
        }
    }

    static func processEnvironment() -> [String: String] {
        var out: [String: String] = [:]
        for name in ["CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"] {
            if let v = getenv(name) { out[name] = String(cString: v) }
        }
        return out
    }

    deinit {
        if !closed { close() }
    }

    /// Cancels every transfer (their completions get `.cancelled`), then frees curl and the handles.
    public func close() {
        guard !closed else { return }
        let inFlight = Array(transfers.values)
        for transfer in inFlight { detach(transfer) }
        closed = true
        curl_multi_cleanup(multi)
        for poll in polls.values { poll.close() }
        polls = [:]
        timer.close()
        deferTimer.close()
        deferred = []
        for transfer in inFlight { transfer.finish(.failure(HTTPError(kind: .cancelled, message: "HTTP client closed"))) }
    }

    // MARK: Starting and cancelling

    /// Starts a transfer. `onHead` gets the final response's status and headers before any body
    /// byte; `onBody` gets body bytes as they arrive (valid only during the call); `onComplete`
    /// runs exactly once, after the transfer left curl (also after `cancel()`).
    @discardableResult
    public func start(
        _ request: HTTPRequest,
        onHead: @escaping (HTTPResponseHead) -> Void = { _ in },
        onBody: @escaping (UnsafeRawBufferPointer) -> Void = { _ in },
        onComplete: @escaping (Result<HTTPTransferInfo, HTTPError>) -> Void
    ) -> HTTPTransfer {
        let transfer = HTTPTransfer(client: self, request: request, onHead: onHead, onBody: onBody, onComplete: onComplete)
        guard !closed else {
            transfer.completeLater(loop: loop, .failure(HTTPError(kind: .cancelled, message: "HTTP client closed")))
            return transfer
        }
        if let error = transfer.configure(caBundle: caBundle, caPath: caPath) {
            transfer.completeLater(loop: loop, .failure(error))
            return transfer
        }
        outsideCurl { [self] in
            guard !transfer.isFinished, !closed else { return }
            transfers[transfer.easy] = transfer
            let status = curl_multi_add_handle(multi, transfer.easy)
            if status != CURLM_OK {
                transfers[transfer.easy] = nil
                transfer.finish(.failure(HTTPError(kind: .other, message: "curl_multi_add_handle: \(String(cString: curl_multi_strerror(status)))")))
                transfer.cleanup()
                return
            }
            transfer.started(loop: loop)
        }
        return transfer
    }

    /// Ends `transfer` with `error` and removes it from curl, outside any curl callback.
    func abort(_ transfer: HTTPTransfer, _ error: HTTPError) {
        guard !transfer.isFinished else { return }
        transfer.markAborting()
        outsideCurl { [self] in
            detach(transfer)
            transfer.finish(.failure(error))
        }
    }

    /// Runs `work` now, or after curl returned when called from inside a curl callback.
    private func outsideCurl(_ work: @escaping () -> Void) {
        if insideCurl == 0 { work(); return }
        deferred.append(work)
        if !deferTimer.isActive {
            // Reason: curl forbids re-entering the multi handle from its callbacks.
            deferTimer.start(milliseconds: 0) { [unowned self] in self.runDeferred() }
        }
    }

    private func runDeferred() {
        while !deferred.isEmpty {
            let work = deferred
            deferred = []
            work.forEach { $0() }
        }
    }

    /// Takes a transfer out of curl and frees its easy handle (never from inside a curl callback).
    private func detach(_ transfer: HTTPTransfer) {
        guard transfers.removeValue(forKey: transfer.easy) != nil else { return }
        if !closed { curl_multi_remove_handle(multi, transfer.easy) }
        transfer.cleanup()
    }

    // MARK: curl callbacks

    private func socketCallback(_ socket: curl_socket_t, _ what: Int32) {
        if what == CURL_POLL_REMOVE {
            polls.removeValue(forKey: socket)?.close()
            return
        }
        let poll: Poll
        if let existing = polls[socket] {
            poll = existing
        } else {
            guard let created = try? Poll(loop: loop, fd: socket) else { return }
            polls[socket] = created
            poll = created
        }
        var events: Poll.Events = []
        if what & CURL_POLL_IN != 0 { events.insert(.readable) }
        if what & CURL_POLL_OUT != 0 { events.insert(.writable) }
        try? poll.start(events) { [unowned self] status, ready in
            var flags: Int32 = 0
            if status < 0 { flags = CURL_CSELECT_ERR } else {
                if ready.contains(.readable) || ready.contains(.disconnect) { flags |= CURL_CSELECT_IN }
                if ready.contains(.writable) { flags |= CURL_CSELECT_OUT }
            }
            self.socketAction(socket, flags)
        }
    }

    private func timerCallback(_ timeoutMs: Int) {
        if timeoutMs < 0 {
            timer.stop()
            return
        }
        // Reason: curl's own timeout (connect, retransmits, its timeouts); 0 means "as soon as
        // possible", which must not be a call back into curl from here.
        timer.start(milliseconds: UInt64(max(1, timeoutMs))) { [unowned self] in
            self.socketAction(-1 /* CURL_SOCKET_TIMEOUT */, 0)
        }
    }

    private func socketAction(_ socket: curl_socket_t, _ flags: Int32) {
        guard !closed else { return }
        var running: Int32 = 0
        insideCurl += 1
        curl_multi_socket_action(multi, socket, flags, &running)
        insideCurl -= 1
        readFinished()
    }

    private func readFinished() {
        var pending: Int32 = 0
        while !closed, let message = curl_multi_info_read(multi, &pending) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            guard let transfer = transfers[easy] else { continue }
            let result = transfer.outcome(code)
            detach(transfer)
            transfer.finish(result)
        }
        if !deferred.isEmpty && insideCurl == 0 { runDeferred() }
    }
}

/// One request in flight. Keep it to cancel; dropping it does not cancel.
public final class HTTPTransfer {
    private weak var client: HTTPClient?
    public let request: HTTPRequest
    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var onHead: ((HTTPResponseHead) -> Void)?
    private var onBody: ((UnsafeRawBufferPointer) -> Void)?
    private var onComplete: ((Result<HTTPTransferInfo, HTTPError>) -> Void)?
    private var stallTimer: LoopTimer?
    private var aborting = false
    public private(set) var isFinished = false
    private var cleanedUp = false

    private var headLines: [(String, String)] = []
    private var statusLine: (status: Int, version: String)?
    public private(set) var head: HTTPResponseHead?
    public private(set) var bodyBytes = 0

    init(client: HTTPClient, request: HTTPRequest, onHead: @escaping (HTTPResponseHead) -> Void,
         onBody: @escaping (UnsafeRawBufferPointer) -> Void, onComplete: @escaping (Result<HTTPTransferInfo, HTTPError>) -> Void) {
        self.client = client
        self.request = request
        self.onHead = onHead
        self.onBody = onBody
        self.onComplete = onComplete
        easy = curl_easy_init()
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        if !cleanedUp { curl_easy_cleanup(easy); curl_slist_free_all(headerList) }
        errorBuffer.deallocate()
    }

    /// Ends the transfer; `onComplete` gets `.cancelled` (after curl let go of it). Idempotent.
    public func cancel() {
        guard !isFinished, !aborting else { return }
        if let client { client.abort(self, HTTPError(kind: .cancelled, message: "request cancelled", receivedHead: head != nil)) }
    }

    /// Sets the easy handle up; returns an error for a request curl refuses.
    func configure(caBundle: String?, caPath: String?) -> HTTPError? {
        func ms(_ seconds: Double) -> Int { Int((seconds * 1000).rounded(.up)) }
        var bad: [String] = []
        func set(_ option: CURLoption, _ value: Int, _ name: String) {
            if sv_easy_setopt_long(easy, option, value) != CURLE_OK { bad.append(name) }
        }
        func set(_ option: CURLoption, _ value: String, _ name: String) {
            if sv_easy_setopt_str(easy, option, value) != CURLE_OK { bad.append(name) }
        }
        set(CURLOPT_URL, request.url, "url")
        set(CURLOPT_NOSIGNAL, 1, "nosignal")
        set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS), "http_version")
        set(CURLOPT_TCP_NODELAY, 1, "tcp_nodelay")
        // Streams must reach us as they arrive: no content decoding that could buffer.
        if let c = request.connectTimeout { set(CURLOPT_CONNECTTIMEOUT_MS, max(1, ms(c)), "connect timeout") }
        if let t = request.totalTimeout { set(CURLOPT_TIMEOUT_MS, max(1, ms(t)), "total timeout") }
        if let ca = caBundle { set(CURLOPT_CAINFO, ca, "CA bundle") }
        if let cp = caPath { set(CURLOPT_CAPATH, cp, "CA path") }
        switch request.method.uppercased() {
        case "GET": set(CURLOPT_HTTPGET, 1, "GET")
        case "POST": set(CURLOPT_POST, 1, "POST")
        case "HEAD": set(CURLOPT_NOBODY, 1, "HEAD")
        default: set(CURLOPT_CUSTOMREQUEST, request.method, "method")
        }
        if !request.body.isEmpty || request.method.uppercased() == "POST" {
            if sv_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)) != CURLE_OK { bad.append("body size") }
            request.body.withUnsafeBytes { raw in
                // COPYPOSTFIELDS copies, so the bytes need not outlive this call.
                let p = UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)
                if sv_easy_setopt_ptr(easy, CURLOPT_COPYPOSTFIELDS, p) != CURLE_OK { bad.append("body") }
            }
        }
        for (name, value) in request.headers {
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        // No "Expect: 100-continue" round trip for larger bodies.
        headerList = curl_slist_append(headerList, "Expect:")
        if sv_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList) != CURLE_OK { bad.append("headers") }
        sv_easy_setopt_ptr(easy, CURLOPT_ERRORBUFFER, errorBuffer)

        let me = Unmanaged.passUnretained(self).toOpaque()
        sv_easy_setopt_ptr(easy, CURLOPT_WRITEDATA, me)
        sv_easy_setopt_ptr(easy, CURLOPT_HEADERDATA, me)
        sv_easy_setopt_write_cb(easy, CURLOPT_WRITEFUNCTION) { data, size, count, userp in
            let transfer = Unmanaged<HTTPTransfer>.fromOpaque(userp!).takeUnretainedValue()
            return transfer.received(body: UnsafeRawBufferPointer(start: data, count: size * count))
        }
        sv_easy_setopt_write_cb(easy, CURLOPT_HEADERFUNCTION) { data, size, count, userp in
            let transfer = Unmanaged<HTTPTransfer>.fromOpaque(userp!).takeUnretainedValue()
            return transfer.received(headerLine: UnsafeRawBufferPointer(start: data, count: size * count))
        }
        return bad.isEmpty ? nil : HTTPError(kind: .other, message: "curl refused option(s) \(bad.joined(separator: ", ")) for \(request.method) request")
    }

    func started(loop: EventLoop) {
        armStallTimer(loop: loop)
    }

    private func armStallTimer(loop: EventLoop? = nil) {
        guard let stall = request.stallTimeout, !isFinished else { return }
        if stallTimer == nil, let loop { stallTimer = LoopTimer(loop: loop) }
        // Reason: no byte for `stall` seconds ends the transfer (a hung stream).
        stallTimer?.start(seconds: stall) { [weak self] in
            guard let self, let client = self.client else { return }
            let what = self.head == nil ? "no response" : "no data"
            client.abort(self, HTTPError(kind: .stallTimeout, message: "\(what) for \(Self.fmt(stall)) s from \(self.request.url) (stall timeout)", receivedHead: self.head != nil))
        }
    }

    static func fmt(_ d: Double) -> String {
        let r = (d * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    private func received(headerLine raw: UnsafeRawBufferPointer) -> Int {
        if aborting || isFinished { return 0 }
        armStallTimer()
        var bytes = raw[...]
        while let last = bytes.last, last == 10 || last == 13 { bytes.removeLast() }  // bytes: "\r\n" is one Character
        let line = String(decoding: bytes, as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            // A new header block (after 1xx or a redirect) replaces the last one.
            let parts = line.split(separator: " ", maxSplits: 2)
            let version = parts.first.map { String($0.dropFirst(5)) } ?? ""
            statusLine = (parts.count > 1 ? Int(parts[1]) ?? 0 : 0, version)
            headLines = []
        } else if line.isEmpty {
            if let s = statusLine, !(100...199).contains(s.status) {
                let h = HTTPResponseHead(status: s.status, version: s.version, headers: headLines)
                head = h
                onHead?(h)
            }
        } else if let colon = line.firstIndex(of: ":") {
            let name = String(line[..<colon])
            var value = line[line.index(after: colon)...]
            while value.first == " " || value.first == "\t" { value.removeFirst() }
            headLines.append((name, String(value)))
        }
        return raw.count
    }

    private func received(body: UnsafeRawBufferPointer) -> Int {
        if aborting || isFinished { return 0 }  // CURLE_WRITE_ERROR; the abort path reports
        armStallTimer()
        bodyBytes += body.count
        onBody?(body)
        return body.count
    }

    func markAborting() { aborting = true; stallTimer?.stop() }

    /// Classifies curl's result code.
    func outcome(_ code: CURLcode) -> Result<HTTPTransferInfo, HTTPError> {
        var connect = 0.0, first = 0.0, total = 0.0
        sv_easy_getinfo_double(easy, CURLINFO_CONNECT_TIME, &connect)
        sv_easy_getinfo_double(easy, CURLINFO_STARTTRANSFER_TIME, &first)
        sv_easy_getinfo_double(easy, CURLINFO_TOTAL_TIME, &total)
        if code == CURLE_OK {
            let h = head ?? HTTPResponseHead(status: 0, version: "", headers: [])
            return .success(HTTPTransferInfo(head: h, bodyBytes: bodyBytes, connectTime: connect, firstByteTime: first, totalTime: total))
        }
        let detail = String(cString: errorBuffer)
        let text = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        let message = "\(request.method) \(request.url): \(text)"
        let kind: HTTPError.Kind
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_SSL_CONNECT_ERROR:
            kind = connect == 0 && head == nil ? .connectFailed : .connectionLost
        case CURLE_OPERATION_TIMEDOUT:
            kind = connect == 0 && head == nil && bodyBytes == 0 ? .connectTimeout : .totalTimeout
        case CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            kind = .connectionLost
        default:
            kind = .other
        }
        return .failure(HTTPError(kind: kind, message: message, curlCode: Int(code.rawValue), receivedHead: head != nil))
    }

    /// Delivers the outcome once and drops the callbacks (and the cycles they may hold).
    func finish(_ result: Result<HTTPTransferInfo, HTTPError>) {
        guard !isFinished else { return }
        isFinished = true
        stallTimer?.close()
        stallTimer = nil
        let completion = onComplete
        onComplete = nil
        onHead = nil
        onBody = nil
        completion?(result)
    }

    /// For a transfer that never reached curl: completes on the next loop turn, like any other.
    func completeLater(loop: EventLoop, _ result: Result<HTTPTransferInfo, HTTPError>) {
        let t = LoopTimer(loop: loop)
        // Reason: completions never run inside `start`.
        t.start(milliseconds: 0) { [self] in
            t.close()
            cleanup()
            finish(result)
        }
    }

    func cleanup() {
        guard !cleanedUp else { return }
        cleanedUp = true
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        headerList = nil
    }
}
