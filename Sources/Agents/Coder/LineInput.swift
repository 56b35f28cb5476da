import Glibc
import Loop

/// Lines from a file descriptor (normally stdin) on the loop: a terminal in its normal
/// (cooked) mode, a pipe or socket, or a regular file / device read at once.
public final class LineInput {
    private var buffer: [UInt8] = []
    private var lines: [String] = []
    private var ended = false
    private var stream: ByteStream?
    private var waiter: ((String?) -> Void)?
    private let loop: EventLoop
    private var timer: LoopTimer?

    public init(loop: EventLoop, fd: Int32 = 0) {
        self.loop = loop
        var st = stat()
        let isTTY = isatty(fd) == 1
        if fstat(fd, &st) != 0 {
            ended = true
            return
        }
        let type = st.st_mode & S_IFMT
        if !isTTY && (type == S_IFREG || type == S_IFCHR || type == S_IFBLK || type == S_IFDIR) {
            // Not pollable: read it now (a file, /dev/null).
            var chunk = [UInt8](repeating: 0, count: 65536)
            while case .success(let n) = chunk.withUnsafeMutableBytes({ Posix.read(fd, into: $0) }), n > 0 {
                feed(chunk[0..<n])
            }
            finishInput()
            return
        }
        do {
            let s: ByteStream = isTTY ? try TTYStream(loop: loop, fd: fd) : try PipeStream(loop: loop, fd: fd)
            stream = s
            try s.startReading { [weak self] result in
                guard let self else { return }
                switch result {
                case .data(let bytes): self.feed(bytes[...])
                case .eof, .error:
                    self.finishInput()
                    self.stream?.close()
                    self.stream = nil
                }
            }
        } catch {
            ended = true
        }
    }

    private func feed<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        for b in bytes {
            if b == 10 {
                if buffer.last == 13 { buffer.removeLast() }
                lines.append(String(decoding: buffer, as: UTF8.self))
                buffer = []
            } else {
                buffer.append(b)
            }
        }
        deliver()
    }

    private func finishInput() {
        if !buffer.isEmpty { lines.append(String(decoding: buffer, as: UTF8.self)); buffer = [] }
        ended = true
        deliver()
    }

    private func deliver() {
        guard let w = waiter else { return }
        if !lines.isEmpty {
            waiter = nil
            w(lines.removeFirst())
        } else if ended {
            waiter = nil
            w(nil)
        }
    }

    /// The next line (without its line break); nil at the end of input. Runs on a later loop
    /// turn when a line is already buffered, never inside this call.
    public func nextLine(_ completion: @escaping (String?) -> Void) {
        waiter = completion
        if !lines.isEmpty || ended {
            let t = timer ?? LoopTimer(loop: loop)
            timer = t
            // Reason: deliver buffered input outside the caller's stack.
            t.start(milliseconds: 0) { [weak self] in self?.deliver() }
        }
    }

    public func close() {
        stream?.close()
        stream = nil
        timer?.close()
        timer = nil
    }
}
