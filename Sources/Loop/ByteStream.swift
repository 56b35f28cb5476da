import CUV
import Glibc

/// What a stream read delivers. `data` is valid only during the callback (no copy on the hot path).
public enum ReadResult {
    case data(UnsafeRawBufferPointer)
    case eof
    case error(PosixError)
}

/// Base for pipes, unix sockets, TCPStream and TTYs: reads into one reused buffer, writes with
/// `uv_try_write` first and queues only the remainder.
public class ByteStream: Handle {
    private var onRead: ((ReadResult) -> Void)?
    private let readBuffer: UnsafeMutableRawPointer
    private let readBufferSize: Int
    var stream: UnsafeMutablePointer<uv_stream_t> { UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self) }

    init(loop: EventLoop, handle: UnsafeMutablePointer<uv_handle_t>, readBufferSize: Int = 65536) {
        self.readBufferSize = readBufferSize
        readBuffer = .allocate(byteCount: readBufferSize, alignment: 16)
        super.init(loop: loop, handle: handle)
    }

    deinit { readBuffer.deallocate() }

    public func startReading(_ onRead: @escaping (ReadResult) -> Void) throws {
        self.onRead = onRead
        try check(uv_read_start(stream, { raw, _, buf in
            let owner = Handle.owner(raw, as: ByteStream.self)
            buf!.pointee = uv_buf_init(owner.readBuffer.assumingMemoryBound(to: CChar.self), UInt32(owner.readBufferSize))
        }, { raw, nread, buf in
            let owner = Handle.owner(raw, as: ByteStream.self)
            if nread > 0 {
                owner.onRead?(.data(UnsafeRawBufferPointer(start: owner.readBuffer, count: nread)))
            } else if nread == Int(UV_EOF.rawValue) || nread == Int(UV_EIO.rawValue) {
                // A pty master reports EIO once the slave side has no more openers: that is its EOF.
                owner.onRead?(.eof)
            } else if nread < 0 {
                owner.onRead?(.error(PosixError(libuv: Int32(nread), "read")))
            }
        }), "uv_read_start")
    }

    public func stopReading() {
        guard !isClosed else { return }
        uv_read_stop(stream)
    }

    /// Bytes accepted by `write` but not yet handed to the kernel.
    public var writeQueueSize: Int { isClosed ? 0 : uv_stream_get_write_queue_size(stream) }

    /// Writes all of `bytes` (copied if they cannot go out at once). The completion gets nil on
    /// success. Order is preserved across calls.
    public func write(_ bytes: UnsafeRawBufferPointer, completion: ((PosixError?) -> Void)? = nil) {
        guard !isClosed else { completion?(PosixError("write on closed stream", code: EPIPE)); return }
        var offset = 0
        if writeQueueSize == 0, bytes.count > 0 {
            var buf = uv_buf_init(UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: CChar.self)), UInt32(bytes.count))
            let written = uv_try_write(stream, &buf, 1)
            if written > 0 { offset = Int(written) }
            else if written < 0 && written != Int32(UV_EAGAIN.rawValue) && written != Int32(UV_ENOSYS.rawValue) {
                completion?(PosixError(libuv: written, "write")); return
            }
        }
        if offset == bytes.count { completion?(nil); return }
        let remaining = bytes.count - offset
        let request = WriteRequest(count: remaining, completion: completion)
        request.buffer.copyMemory(from: bytes.baseAddress! + offset, byteCount: remaining)
        var buf = uv_buf_init(request.buffer.assumingMemoryBound(to: CChar.self), UInt32(remaining))
        let status = uv_write(request.request, stream, &buf, 1) { req, status in
            let request = Unmanaged<WriteRequest>.fromOpaque(req!.pointee.data).takeRetainedValue()
            request.completion?(status < 0 ? PosixError(libuv: status, "write") : nil)
        }
        if status < 0 {
            Unmanaged<WriteRequest>.fromOpaque(request.request.pointee.data).release()
            completion?(PosixError(libuv: status, "uv_write"))
        }
    }

    public func write(_ bytes: [UInt8], completion: ((PosixError?) -> Void)? = nil) {
        bytes.withUnsafeBytes { write($0, completion: completion) }
    }

    public func write(_ text: String, completion: ((PosixError?) -> Void)? = nil) {
        write(Array(text.utf8), completion: completion)
    }

    /// Half-closes the write side once queued writes are flushed.
    public func shutdown(_ completion: ((PosixError?) -> Void)? = nil) {
        let box = ShutdownRequest(completion)
        let status = uv_shutdown(box.request, stream) { req, status in
            let box = Unmanaged<ShutdownRequest>.fromOpaque(req!.pointee.data).takeRetainedValue()
            box.completion?(status < 0 ? PosixError(libuv: status, "shutdown") : nil)
        }
        if status < 0 {
            Unmanaged<ShutdownRequest>.fromOpaque(box.request.pointee.data).release()
            completion?(PosixError(libuv: status, "uv_shutdown"))
        }
    }

    override public func willClose() { onRead = nil }
}

private final class WriteRequest {
    let request = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    let buffer: UnsafeMutableRawPointer
    let completion: ((PosixError?) -> Void)?
    init(count: Int, completion: ((PosixError?) -> Void)?) {
        buffer = .allocate(byteCount: max(count, 1), alignment: 1)
        self.completion = completion
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }
    deinit { buffer.deallocate(); request.deallocate() }
}

private final class ShutdownRequest {
    let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
    let completion: ((PosixError?) -> Void)?
    init(_ completion: ((PosixError?) -> Void)?) {
        self.completion = completion
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }
    deinit { request.deallocate() }
}

private final class ConnectRequest {
    let request = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
    let completion: (PosixError?) -> Void
    init(_ completion: @escaping (PosixError?) -> Void) {
        self.completion = completion
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }
    deinit { request.deallocate() }
    static let callback: uv_connect_cb = { req, status in
        let box = Unmanaged<ConnectRequest>.fromOpaque(req!.pointee.data).takeRetainedValue()
        box.completion(status < 0 ? PosixError(libuv: status, "connect") : nil)
    }
}

/// A pipe: an inherited or created fd, or a unix-domain socket (server or client).
public final class PipeStream: ByteStream {
    private var onConnection: ((PipeStream) -> Void)?
    var pipe: UnsafeMutablePointer<uv_pipe_t> { UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_pipe_t.self) }

    public init(loop: EventLoop) {
        let raw = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
        uv_pipe_init(loop.raw, raw, 0)
        super.init(loop: loop, handle: UnsafeMutableRawPointer(raw).assumingMemoryBound(to: uv_handle_t.self))
        retainForLibuv()
    }

    /// Wraps an existing fd (made non-blocking by libuv); the pipe owns it from now on.
    public convenience init(loop: EventLoop, fd: Int32) throws {
        self.init(loop: loop)
        do { try check(uv_pipe_open(pipe, fd), "uv_pipe_open(fd \(fd))") } catch { close(); throw error }
    }

    public func bind(path: String) throws {
        try check(uv_pipe_bind(pipe, path), "bind \(path)")
    }

    public func listen(backlog: Int32 = 64, _ onConnection: @escaping (PipeStream) -> Void) throws {
        self.onConnection = onConnection
        try check(uv_listen(stream, backlog) { raw, status in
            let server = Handle.owner(raw, as: PipeStream.self)
            guard status >= 0 else { return }
            let client = PipeStream(loop: server.loop)
            if uv_accept(server.stream, client.stream) == 0 { server.onConnection?(client) } else { client.close() }
        }, "listen")
    }

    public func connect(path: String, _ completion: @escaping (PosixError?) -> Void) {
        let box = ConnectRequest(completion)
        uv_pipe_connect(box.request, pipe, path, ConnectRequest.callback)
    }

    override public func willClose() { onConnection = nil; super.willClose() }
}

/// TCPStream, for loopback servers and clients (the fake LLM server in tests, benchmarks).
public final class TCPStream: ByteStream {
    private var onConnection: ((TCPStream) -> Void)?
    var tcp: UnsafeMutablePointer<uv_tcp_t> { UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_tcp_t.self) }

    public init(loop: EventLoop) {
        let raw = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(loop.raw, raw)
        super.init(loop: loop, handle: UnsafeMutableRawPointer(raw).assumingMemoryBound(to: uv_handle_t.self))
        retainForLibuv()
    }

    public func bind(host: String, port: Int) throws {
        var addr = sockaddr_in()
        try check(uv_ip4_addr(host, Int32(port), &addr), "address \(host):\(port)")
        _ = try withUnsafePointer(to: &addr) { ptr in
            try ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try check(uv_tcp_bind(tcp, $0, 0), "bind \(host):\(port)")
            }
        }
    }

    /// The bound port (after `bind` with port 0).
    public var localPort: Int {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &storage) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = uv_tcp_getsockname(tcp, $0, &length) }
        }
        return withUnsafePointer(to: &storage) { ptr in
            ptr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }

    public func listen(backlog: Int32 = 128, _ onConnection: @escaping (TCPStream) -> Void) throws {
        self.onConnection = onConnection
        try check(uv_listen(stream, backlog) { raw, status in
            let server = Handle.owner(raw, as: TCPStream.self)
            guard status >= 0 else { return }
            let client = TCPStream(loop: server.loop)
            if uv_accept(server.stream, client.stream) == 0 { server.onConnection?(client) } else { client.close() }
        }, "listen")
    }

    public func connect(host: String, port: Int, _ completion: @escaping (PosixError?) -> Void) {
        var addr = sockaddr_in()
        if uv_ip4_addr(host, Int32(port), &addr) < 0 { completion(PosixError("address \(host)", code: EINVAL)); return }
        let box = ConnectRequest(completion)
        withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = uv_tcp_connect(box.request, tcp, $0, ConnectRequest.callback)
            }
        }
    }

    public func setNoDelay(_ on: Bool) { uv_tcp_nodelay(tcp, on ? 1 : 0) }

    override public func willClose() { onConnection = nil; super.willClose() }
}

/// A terminal fd (the shim's pane, the dashboard's stdin).
public final class TTYStream: ByteStream {
    var tty: UnsafeMutablePointer<uv_tty_t> { UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_tty_t.self) }

    public init(loop: EventLoop, fd: Int32) throws {
        let raw = UnsafeMutablePointer<uv_tty_t>.allocate(capacity: 1)
        let status = uv_tty_init(loop.raw, raw, fd, 0)
        if status < 0 { raw.deallocate(); throw PosixError(libuv: status, "uv_tty_init(fd \(fd))") }
        super.init(loop: loop, handle: UnsafeMutableRawPointer(raw).assumingMemoryBound(to: uv_handle_t.self))
        retainForLibuv()
    }

    public enum Mode { case normal, raw }

    public func setMode(_ mode: Mode) throws {
        try check(uv_tty_set_mode(tty, mode == .raw ? UV_TTY_MODE_RAW : UV_TTY_MODE_NORMAL), "uv_tty_set_mode")
    }

    /// Restores the mode of every TTYStream libuv changed; safe to call from a signal handler.
    public static func resetMode() { uv_tty_reset_mode() }

    public func windowSize() -> (rows: Int, cols: Int)? {
        var width: Int32 = 0, height: Int32 = 0
        guard uv_tty_get_winsize(tty, &width, &height) == 0 else { return nil }
        return (Int(height), Int(width))
    }
}
