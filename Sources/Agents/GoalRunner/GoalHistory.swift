import Foundation
import Hosting

/// One command and what came of it.
public struct GoalStep: Codable, Equatable {
    public var n: Int
    /// The model's raw answer (for the log) and the command that ran after sanitizing.
    public var answer: String
    public var command: String
    public var rules: [String]
    public var status: ShellStatus
    /// Cleaned output, whole (capped by the session).
    public var output: String
    public var duration: Double
    public var cwd: String?
    /// The model's summary of `output` (full context mode, when it did not fit).
    public var summary: String?
    /// Things the model should know that happened after this step (a restart, a rejected DONE).
    public var notes: [String] = []
}

/// Everything the goal runner needs to continue after a restart; written atomically to
/// `stateDir/goal-history.json` after every step.
public struct GoalHistory: Codable, Equatable {
    public var version = 1
    public var goal: String
    public var steps: [GoalStep] = []
    /// Notes before the first step.
    public var notes: [String] = []
    public var inputTokens = 0
    public var outputTokens = 0
    public var cacheReadTokens = 0
    public var cacheWriteTokens = 0
    public var costUSD: Double?
    public var requests = 0
    /// Seconds spent in earlier runs of the agent process (the time budget counts them).
    public var elapsedBefore: Double = 0
    public var restarts = 0
    /// Set when the run ended: "reached", "limit", "gave up", ...
    public var finished: String?
    public var reached = false
    public var cwd: String?

    public init(goal: String) { self.goal = goal }

    public var totalTokens: Int { inputTokens + outputTokens + cacheReadTokens + cacheWriteTokens }

    public static func load(path: String) -> GoalHistory? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(GoalHistory.self, from: data)
    }

    public func save(path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeFileAtomically(path: path, data: Array(try encoder.encode(self)))
    }
}
