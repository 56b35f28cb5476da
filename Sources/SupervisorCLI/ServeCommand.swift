import ArgumentParser
import Foundation
import Hosting
import Loop
import Serve

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve every profile's agents over HTTP and WebSocket (token auth; see README, \"Remote access\").",
        discussion: """
        Listens on 127.0.0.1 unless --address says otherwise; any other address needs --tls-cert and
        --tls-key, or an explicit --insecure-no-tls. Prints the URL a browser logs in with once.
        The tokens live in $SUPERVISOR_HOME/serve/ (made on first start, mode 0600).
        """)

    @Option(help: "Address to listen on.") var address = "127.0.0.1"
    @Option(help: "Port (0: any free port, printed).") var port = 8765
    @Option(help: "TLS certificate (PEM).") var tlsCert: String?
    @Option(help: "TLS private key (PEM).") var tlsKey: String?
    @Flag(help: "Listen on a non-loopback address without TLS (tokens then cross the network in clear).") var insecureNoTls = false
    @Flag(help: "Print the read-only token (watch, never act) and exit.") var readOnlyToken = false
    @Option(help: "Drop a WebSocket client whose data has not drained for this many seconds.") var stuckAfter = 60.0
    @Option(help: "On a profile stream (/api/profiles/P/stream), send a busy client at most one message per this many milliseconds, with what came meanwhile (0: every piece as it comes).") var batchMs = 1.5
    @Option(help: "Another origin whose pages may use the API (e.g. https://dash.example); repeatable.") var allowOrigin: [String] = []

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if !(0...65535).contains(port) { throw ValidationError("--port must be 0-65535") }
        if stuckAfter <= 0 { throw ValidationError("--stuck-after must be above 0") }
        if !(0...1000).contains(batchMs) { throw ValidationError("--batch-ms must be 0-1000 (milliseconds; 0.5 is half of one)") }
        if !ServeCommand.isLoopback(address) && tlsCert == nil && !insecureNoTls {
            throw ValidationError("listening on \(address) needs TLS (--tls-cert FILE --tls-key FILE), or --insecure-no-tls to send tokens in clear")
        }
        for file in [tlsCert, tlsKey].compactMap({ $0 }) where access(file, R_OK) != 0 {
            throw ValidationError("cannot read \(file)")
        }
    }

    static func isLoopback(_ address: String) -> Bool {
        address == "localhost" || address == "::1" || address.hasPrefix("127.")
    }

    func run() throws {
        let paths = SupervisorPaths(environment: ProcessInfo.processInfo.environment)
        var access = try TokenFiles.load(home: paths.root)
        if readOnlyToken {
            print(access.readToken)
            return
        }
        access.allowedOrigins = Swift.Set(allowOrigin)
        var options = WebServerOptions(address: address, port: port)
        options.tlsCertificate = tlsCert
        options.tlsKey = tlsKey
        let loop = EventLoop()
        var configuration = Server.Configuration(options: options, access: access)
        configuration.stuckAfter = stuckAfter
        configuration.profileStreamInterval = UInt64((batchMs * 1000).rounded())
        let server = Server(loop: loop, paths: paths, configuration: configuration)
        try server.start()
        let scheme = tlsCert == nil ? "http" : "https"
        let host = address.contains(":") ? "[\(address)]" : address
        print("supervisor serve: listening on \(scheme)://\(host):\(server.port)/ for the profiles in \(paths.root)")
        print("log in (browser): \(scheme)://\(host):\(server.port)/?token=\(access.controlToken)")
        fflush(stdout)
        var stopping = false
        let signals = [SIGINT, SIGTERM].map { signum -> SignalWatcher in
            let watcher = SignalWatcher(loop: loop)
            try? watcher.start(signum) { _ in stopping = true }
            return watcher
        }
        signal(SIGPIPE, SIG_IGN)
        while !stopping { loop.runOnce() }
        server.stop()
        signals.forEach { $0.close() }
        loop.close()
    }
}
