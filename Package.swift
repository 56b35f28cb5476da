// swift-tools-version:6.0
import PackageDescription

/// Absolute, because unsafe flags are passed on as they are.
let packageDirectory = String(#filePath.dropLast("/Package.swift".count))

// Layering (one-way): AgentProtocol (events, JSON; standard library only) <- Profile, AgentHost, LLM, AgentTranscript.
// C* wrappers <- Loop/VTScreen <- AgentHost (the shim, no Foundation) <- Hosting <- TerminalUI/Dashboard/Agents
// <- SupervisorCLI <- supervisor. Profile (pure) <- Hosting.
// Serve (HTTP/WebSocket API) <- SupervisorCLI.
// TerminalUI is the only module that imports CNcurses (the dashboard and the agents draw through it).
// Each C module is imported by exactly one Swift wrapper module.
let package = Package(
    name: "supervisor",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "supervisor", targets: ["supervisor"]),
        .executable(name: "supervisor-shim", targets: ["supervisor-shim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CNcurses", pkgConfig: "ncursesw", providers: [.apt(["libncurses-dev"])]),
        .systemLibrary(name: "CVTerm", pkgConfig: "vterm", providers: [.apt(["libvterm-dev"])]),
        // The libuv event library is a plugin libwebsockets loads at run time: libwebsockets-evlib-uv.
        .systemLibrary(name: "CWebSockets", pkgConfig: "libwebsockets", providers: [.apt(["libwebsockets-dev", "libwebsockets-evlib-uv"])]),

        // The typed event protocol and its JSON: standard library only, so the static shim, the
        // agents, the dashboard, the CLI and any network client can all link it.
        .target(name: "AgentProtocol"),
        // Events to readable text (the CLI, the dashboard, a future web view); not in the shim.
        .target(name: "AgentTranscript", dependencies: ["AgentProtocol"]),
        .testTarget(name: "AgentProtocolTests", dependencies: ["AgentProtocol", "AgentTranscript"]),
        .target(name: "Loop", dependencies: ["CUV"]),
        .target(name: "VTScreen", dependencies: ["CVTerm"]),
        .target(name: "Profile", dependencies: ["AgentProtocol", .product(name: "TOMLKit", package: "TOMLKit")]),
        // The shim's whole world: it runs once per agent for hours, so it links neither Foundation
        // nor libcurl (each costs megabytes of resident memory per process).
        .target(name: "AgentHost", dependencies: ["AgentProtocol", "Loop", "VTScreen"]),
        // Linked fully static: no dynamic loader, no shared-library symbol tables, no PIE
        // relocations to apply at start. One idle shim is then ~6.5 MB resident instead of ~9
        // (28 when it was `supervisor shim`); see bench/memory.py.
        .executableTarget(name: "supervisor-shim", dependencies: ["AgentHost"],
                          linkerSettings: [.unsafeFlags(["-static-executable", "-L\(packageDirectory)/link"])]),
        .target(name: "Hosting", dependencies: ["AgentProtocol", "AgentHost", "Loop", "Profile", "VTScreen"]),
        .target(name: "Agents", dependencies: ["AgentProtocol", "Hosting", "Profile", "LLM", "LLMClient", "Loop", "HTTP", "TerminalUI"]),
        .testTarget(name: "AgentsTests", dependencies: ["Agents", "_TestSupport"], exclude: ["OldFormats"]),
        .target(name: "TerminalUI", dependencies: ["VTScreen", "CNcurses"]),
        .target(name: "Dashboard", dependencies: ["Hosting", "AgentTranscript", "VTScreen", "Loop", "TerminalUI"]),
        // `supervisor serve`: HTTP + WebSocket on the same loop; the only importer of CWebSockets.
        .target(name: "Serve", dependencies: ["CWebSockets", "AgentProtocol", "AgentTranscript", "Agents", "Hosting", "Loop", "Profile", "VTScreen", "TerminalUI"]),
        .testTarget(name: "ServeTests", dependencies: ["Serve", "Hosting", "AgentProtocol", "_TestSupport"]),
        .target(name: "SupervisorCLI", dependencies: [
            "Agents", "Dashboard", "AgentTranscript", "Serve", "HTTP",
            "Hosting", "Profile", "Loop", "LLMClient",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "supervisor", dependencies: ["SupervisorCLI", "Hosting"]),
        .target(name: "LLM", dependencies: ["AgentProtocol"]),
        .testTarget(name: "LLMTests", dependencies: ["LLM", "AgentProtocol"]),
        .target(name: "HTTP", dependencies: ["Loop", "CCurl"]),
        .target(name: "LLMClient", dependencies: ["HTTP", "LLM", "Profile", "Loop"]),
        .executableTarget(name: "serve-bench", dependencies: ["AgentProtocol", "Loop", "Serve"]),
        .executableTarget(name: "llm-bench", dependencies: ["LLMClient", "HTTP", "LLM", "Loop", "_TestSupport"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "Loop", "_TestSupport"]),
        .testTarget(name: "LLMClientTests", dependencies: ["LLMClient", "HTTP", "LLM", "Profile", "Loop", "_TestSupport"]),

        .target(name: "_TestSupport", dependencies: ["Loop", "Hosting", "LLM"], path: "Sources/_TestSupport"),
        .testTarget(name: "LoopTests", dependencies: ["Loop", "_TestSupport"]),
        .testTarget(name: "ProfileTests", dependencies: ["Profile"]),
        .testTarget(name: "VTScreenTests", dependencies: ["VTScreen"]),
        .testTarget(name: "HostingTests", dependencies: ["Hosting", "AgentHost", "_TestSupport"]),
        .testTarget(name: "DashboardTests", dependencies: ["Dashboard", "TerminalUI", "Hosting", "VTScreen", "Loop", "Profile"]),
        .testTarget(name: "EndToEndTests", dependencies: ["_TestSupport", "Hosting", "Profile", "VTScreen"]),
    ],
    swiftLanguageModes: [.v5]
)
