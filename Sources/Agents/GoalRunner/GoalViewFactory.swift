import Loop

/// Picks the goal runner's view: the split view (TerminalUI) on a terminal, the line mode
/// otherwise (stdout not a terminal, TERM=dumb, --plain).
public enum GoalViewFactory {
    public static func make(split: Bool, loop: EventLoop, stderrPath: String? = nil) -> GoalView {
        split ? GoalSplitView(loop: loop, stderrPath: stderrPath) : GoalLineView()
    }
}
