import Foundation
import Hosting
import Profile

/// The end of a built-in agent's turn with `autocommit = true` in its worktree: commit what the
/// turn changed (Hosting's `commitTurn`) and say so in a `commit` event, or in a `message` event
/// when git refused. Never fails the turn: the changes stay in the worktree either way.
public func autocommitTurn(spec: AgentSpec, intent: String, events: AgentEvents,
                           environment: [String: String] = ProcessInfo.processInfo.environment) {
    guard spec.autocommit, spec.isolation == .worktree else { return }
    // git and its hooks never see the model's key, whatever the variable is called.
    var environment = environment
    if let key = spec.llm.apiKeyEnv { environment[key] = nil }
    do {
        guard let sha = try commitTurn(worktree: spec.cwd, agent: spec.name, message: intent, environment: environment) else { return }
        let subject = String(GitParsing.turnCommitMessage(intent: intent, agent: spec.name).split(separator: "\n").first ?? "")
        events.commit(sha, branch: spec.branch, subject: subject)
    } catch {
        events.message("autocommit failed: \(error)")
    }
}
