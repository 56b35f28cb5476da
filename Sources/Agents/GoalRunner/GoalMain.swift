import Foundation
import Glibc
import Hosting
import LLMClient
import Loop
import Profile

/// Runs the goal agent as a program (`supervisor agent goal`), as `CoderRunner` and
/// `ExecSession` run theirs: its loop, box, view and signals, until the run ends (or, staying,
/// until a signal). Returns the exit status: 0 the goal was reached, 1 not, 2 bad settings,
/// 128+signal when stopped by one.
public enum GoalMain {
    public static func run(launch: AgentLaunchConfig, options: GoalRunnerOptions, plain: Bool, environment: [String: String]) -> Int32 {
        let loop = EventLoop()
        let events = AgentEvents(environment: environment)
        // The agent's container on the Docker backend (shell, done_when checks run there), else its cwd.
        let box = makeBox(config: launch, environment: environment, withheld: withheldVariables(launch.agent.llm))
        let runner: GoalRunner
        do {
            runner = try GoalRunner(config: launch, loop: loop, box: box, options: options, events: events)
        } catch {
            FileHandle.standardError.write(Data("supervisor: goal: \(error)\n".utf8))
            return 2
        }
        print(runner.startHint)
        fflush(stdout)
        let useSplit = !plain && isatty(1) == 1 && environment["TERM"] != "dumb"
        let view = GoalViewFactory.make(split: useSplit, loop: loop, stderrPath: launch.logPrefix + ".stderr")
        runner.view = view

        var exitStatus: Int32 = 1
        var done = false
        var signals: [SignalWatcher] = []
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            let w = SignalWatcher(loop: loop)
            try? w.start(sig) { [weak runner] s in
                if done { loop.stop(); return }
                runner?.stop(reason: "signal \(s)")
                exitStatus = 128 + s
            }
            signals.append(w)
        }
        (view as? GoalSplitView)?.onQuit = { [weak runner] in
            if done { loop.stop(); return }
            runner?.stop(reason: "interrupted from the pane")
            exitStatus = 130
        }
        // Staying, the shell ended by itself (its box died): exit non-zero, so the restart policy
        // (whose start makes a dead container again) runs the goal again.
        runner.onStayEnded = { _ in
            exitStatus = 1
            loop.stop()
        }
        runner.start { [unowned runner] result in
            if exitStatus == 1 { exitStatus = result.exitStatus }
            done = true
            // Staying (the goal reached, `stay`): keep the shell until a signal ends the agent.
            if !runner.staying { loop.stop() }
        }
        if !done { loop.run() }
        runner.close()
        signals.forEach { $0.close() }
        // Let close callbacks run, with a deadline.
        let deadline = LoopTimer(loop: loop)
        deadline.start(seconds: 2) { loop.stop() } // do not wait forever for handles closing
        deadline.unref()
        loop.run()
        deadline.close()
        fflush(stdout)
        return exitStatus
    }

    /// API keys stay with the agent process: commands in the box never see them.
    static func withheldVariables(_ llm: LLMSettings) -> Swift.Set<String> {
        var names: Swift.Set<String> = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"]
        if let k = llm.apiKeyEnv { names.insert(k) }
        return names
    }
}
