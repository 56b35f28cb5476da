import AgentProtocol
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
    /// The command running now (recorded before it starts): after a kill it becomes a step
    /// "interrupted", so the resumed run knows it ran.
    public var running: Running?
    /// A smaller request budget learned from a refused request (see `ModelEngine`).
    public var contextCap: ContextCap?
    /// When the run began (ISO 8601 UTC) and the model it last asked: nil in files from
    /// before the transcript format.
    public var started: String?
    public var model: String?

    public struct Running: Codable, Equatable {
        public var n: Int
        public var answer: String
        public var command: String
        public var rules: [String]
    }

    public init(goal: String) { self.goal = goal }

    /// What the run has spent, for the engine's budgets (steps are commands).
    public var spend: Spend {
        var s = Spend()
        s.requests = requests
        s.steps = steps.count
        s.inputTokens = inputTokens
        s.outputTokens = outputTokens
        s.cacheReadTokens = cacheReadTokens
        s.cacheWriteTokens = cacheWriteTokens
        s.costUSD = costUSD
        s.seconds = elapsedBefore
        return s
    }

    public var totalTokens: Int { inputTokens + outputTokens + cacheReadTokens + cacheWriteTokens }

    public static func load(path: String) -> GoalHistory? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? GoalHistory(bytes: Array(data))
    }

    public func save(path: String) throws {
        try writeFileAtomically(path: path, data: transcript(updated: SessionStore.timestamp()).bytes)
    }
}

// MARK: As a transcript

extension GoalHistory {
    /// What only the goal runner keeps: the goal, each step with its rules and summary, the
    /// command running when it was saved, restarts.
    struct Extras: Codable {
        var version: Int
        var goal: String
        var steps: [GoalStep]
        var notes: [String]
        var restarts: Int
        var reached: Bool
        var running: Running?
    }

    public func transcript(updated: String = "") -> Transcript {
        let extras = Extras(version: version, goal: goal, steps: steps, notes: notes, restarts: restarts, reached: reached, running: running)
        return Transcript(id: "goal", kind: .goal, model: model ?? "", workspace: cwd, started: started ?? "", updated: updated,
                          status: finished.map { .finished(reason: $0) } ?? .working, spend: spend, contextCap: contextCap,
                          entries: events.map { EventRecord(event: $0) }, extras: try? JSONCoding.encode(extras, sortedKeys: true))
    }

    public init(transcript t: Transcript) throws {
        guard t.kind == .goal else { throw TranscriptError("transcript \(t.id) is a \(t.kind.rawValue) agent's, not a goal history") }
        let extras = try t.extras(as: Extras.self)
        self.init(goal: extras.goal)
        version = extras.version; steps = extras.steps; notes = extras.notes
        restarts = extras.restarts; reached = extras.reached; running = extras.running
        cwd = t.workspace
        contextCap = t.contextCap
        started = t.started.isEmpty ? nil : t.started
        model = t.model.isEmpty ? nil : t.model
        if case .finished(let reason) = t.status { finished = reason ?? "finished" }
        requests = t.spend.requests
        inputTokens = t.spend.inputTokens; outputTokens = t.spend.outputTokens
        cacheReadTokens = t.spend.cacheReadTokens; cacheWriteTokens = t.spend.cacheWriteTokens
        costUSD = t.spend.costUSD
        elapsedBefore = t.spend.seconds
    }

    /// A history file of either format: a transcript, or the goal runner's own before it.
    public init(bytes: [UInt8]) throws {
        let json = try OrderedJSON.parse(bytes)
        if Transcript.isTranscript(json) {
            try self.init(transcript: try Transcript(json: json))
        } else {
            self = try JSONCoding.decode(GoalHistory.self, from: json)
        }
    }
}
