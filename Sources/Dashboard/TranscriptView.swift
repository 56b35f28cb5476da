import AgentTranscript
import Hosting
import VTScreen

/// Which of an agent's two views a tile or the focus view shows.
public enum AgentView: Equatable, Sendable {
    /// Its terminal, as its pane shows it.
    case terminal
    /// Its conversation, rendered from its typed events (built-in agents only).
    case transcript

    public var other: AgentView { self == .terminal ? .transcript : .terminal }

    /// The view a built-in agent shows by default: its conversation once it is not drawing a
    /// full-screen interface, and always after it has ended. Other agents have only a terminal.
    public static func preferred(builtIn: Bool, fullScreen: Bool, ended: Bool) -> AgentView {
        guard builtIn else { return .terminal }
        return ended || !fullScreen ? .transcript : .terminal
    }

    /// What is shown: the preferred view, or the other one when the person switched (`v`).
    public static func shown(builtIn: Bool, fullScreen: Bool, ended: Bool, switched: Bool) -> AgentView {
        guard builtIn else { return .terminal }
        let preferred = AgentView.preferred(builtIn: builtIn, fullScreen: fullScreen, ended: ended)
        return switched ? preferred.other : preferred
    }
}

/// A built-in agent's conversation as a screen with scrollback: the protocol's transcript
/// renderer (with colour) writes into a VirtualScreen as wide as the view, so the tiles' and the
/// focus view's drawing, scrolling and search work on it as on a terminal. The rendered text is
/// kept (its newest `keptBytes`), so a change of width lays it out again.
final class TranscriptView {
    private var renderer = TranscriptRenderer(.init(colour: true, outputLines: 40))
    private var text: [UInt8] = []
    private(set) var screen: VirtualScreen
    /// Events rendered so far (for tests and for "no events yet").
    private(set) var eventCount = 0
    static let keptBytes = 512 * 1024
    static let scrollback = 5000

    init(cols: Int, rows: Int) {
        screen = VirtualScreen(rows: max(1, rows), cols: max(1, cols), scrollback: TranscriptView.scrollback)
    }

    /// Renders one event; true when it added text.
    @discardableResult
    func add(_ record: EventRecord) -> Bool {
        eventCount += 1
        let rendered = renderer.render(record)
        guard !rendered.isEmpty else { return false }
        let bytes = TranscriptView.terminalBytes(rendered)
        text += bytes
        if text.count > TranscriptView.keptBytes {
            var cut = text.count - TranscriptView.keptBytes
            if let newline = text[cut...].firstIndex(of: 0x0a) { cut = newline + 1 }
            text.removeFirst(cut)
        }
        screen.feed(bytes)
        _ = screen.takeOutput()
        return true
    }

    /// Lays the text out again for a view of `cols` x `rows`.
    func resize(cols: Int, rows: Int) {
        guard cols > 0, rows > 0, cols != screen.cols || rows != screen.rows else { return }
        screen = VirtualScreen(rows: rows, cols: cols, scrollback: TranscriptView.scrollback)
        screen.feed(text)
        _ = screen.takeOutput()
    }

    /// Newlines as a terminal needs them (CR LF), so each line starts at the left edge.
    static func terminalBytes(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 16)
        for b in text.utf8 {
            if b == 0x0a { out.append(0x0d) }
            out.append(b)
        }
        return out
    }
}
