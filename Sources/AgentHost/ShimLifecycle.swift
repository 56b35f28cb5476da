/// The lifecycle of the agent a shim hosts: start, stop, restart by policy or by a person,
/// container preparation, processes the agent left behind, and the shim's own exit. One value
/// (`state`); every input returns what to do next, so which combinations can happen is written
/// here and tested transition by transition (time and randomness come in as inputs).
public struct ShimLifecycle {
    /// What follows once the current step is over.
    public enum Next: Equatable, Sendable {
        /// Settle: no run until someone asks.
        case rest
        /// Start the agent: a person asked (the restart budget starts over).
        case start
        /// Start the agent: the restart policy's restart, whose delay is over.
        case resume
        /// The shim exits.
        case exit
    }

    public enum State: Equatable, Sendable {
        /// No run and nothing under way: before the first start, or stopped, exited, failed.
        case idle
        /// Making sure the agent's container runs (asynchronous), then `then`.
        case preparing(then: Next)
        /// Its engine does not answer and it may move (`engine = "auto"`): the supervisor places
        /// it on an engine that answers (asynchronous), then it is prepared there, then `then`.
        case placing(then: Next)
        /// The agent is being spawned (synchronous in the shim: `spawned` follows at once).
        case spawning
        case running
        /// SIGTERM was sent (SIGKILL follows after `stop_timeout`); `then` after the exit.
        case stopping(then: Next)
        /// The agent ended; what it left behind is being ended. `then` once it is gone.
        case endingStrays(then: Next)
        /// Waiting out the restart delay; `straysLeft` while the last run's processes remain.
        case backingOff(straysLeft: Bool)
        /// The shim is exiting: nothing more happens.
        case finished
    }

    public enum Input: Equatable, Sendable {
        /// A start: the shim's first, or a person's (`byPerson` gives back the restart budget).
        case start(byPerson: Bool)
        case stop
        /// A person's restart: stop if running, then start with the whole restart budget.
        case restart
        /// Stop the agent and exit the shim.
        case shutdown
        /// The container is ready, or could not be made (`error`).
        case prepared(error: String?)
        /// The container could not be made because its engine does not answer (`docker info`
        /// fails there too): a movable agent is placed again, any other fails like `prepared`.
        case engineDown(error: String)
        /// The placement on another engine is done (recorded, the workspace seeded), or failed.
        case placed(error: String?)
        /// The agent process started at `at`, or could not (`error`).
        case spawned(at: Double, error: String?)
        /// The agent ended. `strays`: it left processes behind. `final`: it said its end is
        /// conclusive. `random` in [0, 1) draws the restart jitter.
        case exited(ExitStatus, at: Double, random: Double, strays: Bool, final: String?)
        /// The last of the processes the agent left behind is gone.
        case straysGone
        /// The restart delay is over.
        case backoffOver
    }

    public enum Effect: Equatable, Sendable {
        case prepareContainer
        /// Place the agent again on an engine that answers (the supervisor's `place-again`).
        case placeAgain
        case spawn
        /// SIGTERM to the agent and what it detached; SIGKILL after `stop_timeout`.
        case sendStop
        /// SIGTERM to what the ended agent left; SIGKILL after `stop_timeout` (unless a stop
        /// already set that deadline).
        case endStrays
        /// Record a new phase (state file, event, subscribers); `error` becomes `lastError`.
        case phase(AgentPhase, error: String?)
        /// One more restart in `AgentState.restarts`; `resetRestartCount` sets it to 0.
        case countRestart
        case resetRestartCount
        case scheduleRestart(after: Double)
        case cancelRestart
        /// Tell a waiting `up` the agent started (nil) or could not (the error). Once.
        case notifyUp(error: String?)
        /// A line for the pane.
        case announce(String)
        case exit
    }

    public private(set) var state: State = .idle
    public private(set) var tracker: RestartTracker
    /// The phase last recorded (the machine emits `.phase` only on a change).
    public private(set) var phase: AgentPhase = .starting
    private var notified = false
    let agent: String
    let usesContainer: Bool
    /// The agent may move to another engine when its own does not answer (`engine = "auto"`);
    /// the spec says so and can change when it is re-read.
    public var movable: Bool

    public init(agent: String, policy: RestartPolicy, usesContainer: Bool, movable: Bool = false) {
        self.agent = agent
        self.tracker = RestartTracker(policy: policy)
        self.usesContainer = usesContainer
        self.movable = movable
    }

    /// A changed restart policy (the spec was re-read): its bookkeeping starts over.
    public mutating func replacePolicy(_ policy: RestartPolicy) {
        if policy != tracker.policy { tracker = RestartTracker(policy: policy) }
    }

    public mutating func handle(_ input: Input) -> [Effect] {
        switch (state, input) {
        case (.finished, _):
            return []

        // MARK: starting
        case (.idle, .start(let byPerson)):
            return begin(resetBudget: byPerson)
        case (.idle, .restart):
            return begin(resetBudget: true)
        // MARK: steps before the spawn: preparing the container, placing on another engine
        case (.preparing(let then), .start), (.preparing(let then), .restart), (.preparing(let then), .stop),
             (.preparing(let then), .shutdown):
            return retarget(input, then: then) { .preparing(then: $0) }
        case (.placing(let then), .start), (.placing(let then), .restart), (.placing(let then), .stop),
             (.placing(let then), .shutdown):
            return retarget(input, then: then) { .placing(then: $0) }
        case (.preparing(let then), .prepared(let error)):
            return stepOver(then: then, error: error, next: .spawning, [.spawn])
        case (.preparing(let then), .engineDown(let error)):
            // Only a start moves an agent; a stop or exit that came meanwhile just ends preparing.
            guard movable, then == .start || then == .resume else { return handle(.prepared(error: error)) }
            state = .placing(then: then)
            return [.announce("\(error); placing \(agent) on an engine that answers (engine = \"auto\")"), .placeAgain]
        case (.placing(let then), .placed(let error)):
            // The container on the new engine is made (or reused) like at any start.
            return stepOver(then: then, error: error, next: .preparing(then: then), [.prepareContainer])

        case (.spawning, .spawned(let at, let error)):
            if let error {
                return notify(error) + [.announce("cannot start: \(error)")] + failedStart(error: error, status: .exited(127), at: at)
            }
            tracker.runStarted(at: at)
            state = .running
            return record(.running) + notify(nil)

        // MARK: while the agent runs
        case (.running, .start):
            return []
        case (.running, .stop):
            state = .stopping(then: .rest)
            return record(.stopping) + [.sendStop]
        case (.running, .restart):
            state = .stopping(then: .start)
            return record(.stopping) + [.sendStop]
        case (.running, .shutdown):
            state = .stopping(then: .exit)
            return record(.stopping) + [.sendStop]
        case (.running, .exited(let status, let at, let random, let strays, let final)):
            return ended(status, at: at, random: random, strays: strays, final: final)

        // MARK: stopping (a second stop keeps the first one's SIGKILL deadline)
        case (.stopping, .stop):
            return []
        case (.stopping(.exit), .start), (.stopping(.exit), .restart):
            return []
        case (.stopping, .start), (.stopping, .restart):
            state = .stopping(then: .start)
            return []
        case (.stopping, .shutdown):
            state = .stopping(then: .exit)
            return []
        case (.stopping(let then), .exited(let status, _, _, let strays, _)):
            var effects = record(.stopped) + [.announce("\(agent) stopped (\(status))")]
            if strays {
                state = .endingStrays(then: then)
                return effects + [.endStrays]
            }
            effects += proceed(then)
            return effects

        // MARK: what the agent left behind
        case (.endingStrays(let then), .straysGone):
            return proceed(then)
        case (.endingStrays(.exit), .start), (.endingStrays(.exit), .restart), (.endingStrays(.exit), .stop):
            return []
        case (.endingStrays, .start), (.endingStrays, .restart):
            state = .endingStrays(then: .start)
            return []
        case (.endingStrays, .stop):
            state = .endingStrays(then: .rest)
            return phase.isActive ? record(.stopped) : []
        case (.endingStrays, .shutdown):
            state = .endingStrays(then: .exit)
            return []

        // MARK: waiting to restart
        case (.backingOff(let straysLeft), .backoffOver):
            if straysLeft { state = .endingStrays(then: .resume); return [] }
            return begin(resetBudget: false)
        case (.backingOff(let straysLeft), .start), (.backingOff(let straysLeft), .restart):
            if straysLeft { state = .endingStrays(then: .start); return [.cancelRestart] + resetBudget() }
            return [.cancelRestart] + begin(resetBudget: true)
        case (.backingOff(let straysLeft), .stop):
            state = straysLeft ? .endingStrays(then: .rest) : .idle
            return [.cancelRestart] + record(.stopped)
        case (.backingOff(let straysLeft), .shutdown):
            if straysLeft { state = .endingStrays(then: .exit); return [.cancelRestart] }
            return [.cancelRestart] + finish()
        case (.backingOff, .straysGone):
            state = .backingOff(straysLeft: false)
            return []

        // MARK: no run
        case (.idle, .stop):
            return phase.isActive ? record(.stopped) : []
        case (.idle, .shutdown):
            return finish()

        default:
            // Inputs that cannot matter in this state (a late timer, a stray reaped after the
            // fact, a second start while one is under way).
            return []
        }
    }

    // MARK: steps

    /// A start: through the container when there is one.
    private mutating func begin(resetBudget reset: Bool) -> [Effect] {
        let budget = reset ? resetBudget() : []
        if usesContainer {
            state = .preparing(then: .start)
            // `restart` waits for running, not for the old exit.
            return budget + record(.starting) + [.prepareContainer]
        }
        state = .spawning
        return budget + [.spawn]
    }

    /// A start, stop or shutdown during a step before the spawn changes only what follows the
    /// step (`step` makes the state with the new `then`); once the shim is to exit, it exits.
    private mutating func retarget(_ input: Input, then: Next, step: (Next) -> State) -> [Effect] {
        switch input {
        case .start, .restart: if then != .exit { state = step(.start) }
        case .stop: if then != .exit { state = step(.rest) }
        case .shutdown: state = step(.exit)
        default: break
        }
        return []
    }

    /// A step before the spawn is over: exit, settle, fail the start (`error`: the restart
    /// policy decides), or go on to `next` with `effects`.
    private mutating func stepOver(then: Next, error: String?, next: State, _ effects: [Effect]) -> [Effect] {
        switch then {
        case .exit: return finish()
        case .rest: return settle(.stopped)
        case .start, .resume:
            if let error {
                return notify(error) + [.announce(error)] + failedStart(error: error, status: .exited(125), at: nil)
            }
            state = next
            return effects
        }
    }

    private mutating func resetBudget() -> [Effect] {
        tracker.reset()
        return [.resetRestartCount]
    }

    private mutating func proceed(_ then: Next) -> [Effect] {
        switch then {
        case .rest: state = .idle; return []
        case .start: return begin(resetBudget: true)
        case .resume: return begin(resetBudget: false)
        case .exit: return finish()
        }
    }

    private mutating func settle(_ phase: AgentPhase) -> [Effect] {
        state = .idle
        return record(phase)
    }

    private mutating func finish() -> [Effect] {
        state = .finished
        return [.exit]
    }

    private mutating func notify(_ error: String?) -> [Effect] {
        guard !notified else { return [] }
        notified = true
        return [.notifyUp(error: error)]
    }

    private mutating func record(_ new: AgentPhase, error: String? = nil) -> [Effect] {
        guard new != phase || error != nil else { return [] }
        phase = new
        return [.phase(new, error: error)]
    }

    /// A start that failed counts as a run that ended at once: the restart policy decides.
    private mutating func failedStart(error: String, status: ExitStatus, at: Double?) -> [Effect] {
        ended(status, at: at ?? 0, random: 0, strays: false, final: nil, startError: error)
    }

    /// The agent ended by itself (or never started): the restart policy decides what follows.
    private mutating func ended(_ status: ExitStatus, at: Double, random: Double, strays: Bool, final: String?,
                                startError: String? = nil) -> [Effect] {
        let leftovers: [Effect] = strays ? [.endStrays] : []
        if let reason = final {
            // The agent said this end is conclusive: running the task again would only repeat it.
            state = strays ? .endingStrays(then: .rest) : .idle
            let error = status.isFailure ? "\(reason); not restarted (the agent ended for good)" : nil
            return leftovers + record(status.isFailure ? .failed : .exited, error: error)
                + [.announce("\(agent) ended (\(status)): \(reason); not restarted")]
        }
        switch tracker.decide(exit: status, now: at, random: { random }) {
        case .restart(let delay):
            state = .backingOff(straysLeft: strays)
            return leftovers + [.countRestart] + record(.restarting, error: startError)
                + [.announce("\(agent) ended (\(status)); restart in \(Self.seconds(delay))s"), .scheduleRestart(after: delay)]
        case .done:
            state = strays ? .endingStrays(then: .rest) : .idle
            return leftovers + record(.exited, error: startError) + [.announce("\(agent) ended (\(status))")]
        case .giveUp(var reason):
            // A start that could not happen says why (an engine that does not answer, say).
            if let startError { reason += ": " + startError }
            state = strays ? .endingStrays(then: .rest) : .idle
            return leftovers + record(.failed, error: reason) + [.announce("\(agent) failed: \(reason)")]
        }
    }

    static func seconds(_ value: Double) -> String {
        let tenths = (value * 10).rounded() / 10
        return tenths == tenths.rounded() && abs(tenths) < 1e15 ? String(Int64(tenths)) : String(tenths)
    }
}
