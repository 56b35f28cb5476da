import Loop

/// Picks the goal runner's view: the split view on a terminal, the line mode otherwise.
public enum GoalViewFactory {
    public static func make(split: Bool, loop: EventLoop) -> GoalView {
        GoalLineView()
    }
}
