import XCTest
@testable import Agents

/// The goal runner's command stages, transition by transition (no shell, no clock).
final class ShellJobStageTests: XCTestCase {
    func testPromptsBeforeTheCommandBeginsThenTheShellDidNotRunIt() {
        var stage = ShellJobStage.sent(prompts: 0)
        XCTAssertEqual(stage.prompt(linesSent: 3, exitCode: nil, elapsed: 0), .wait)
        XCTAssertEqual(stage.prompt(linesSent: 3, exitCode: nil, elapsed: 0), .wait)
        XCTAssertEqual(stage.prompt(linesSent: 3, exitCode: nil, elapsed: 0), .finish(.shellExited("the shell did not run the command")))
    }

    func testARunningCommandEndsWithItsExitCode() {
        var stage = ShellJobStage.running
        XCTAssertEqual(stage.prompt(linesSent: 1, exitCode: 3, elapsed: 1), .finish(.exited(3)))
        XCTAssertEqual(stage.prompt(linesSent: 1, exitCode: nil, elapsed: 1), .finish(.exited(-1)))
    }

    /// Past its timeout: Ctrl-Z, bash says Stopped, `bg`, bash names the job, its prompt ends it.
    func testSuspendedThenBackgrounded() {
        var stage = ShellJobStage.suspending(stoppedLine: nil)
        XCTAssertFalse(stage.takeJobControlLine("ordinary output"))
        XCTAssertTrue(stage.takeJobControlLine("[1]+  Stopped                 sleep 100"))
        XCTAssertEqual(stage.prompt(linesSent: 1, exitCode: nil, elapsed: 5), .sendBackground)
        XCTAssertTrue(stage.takeJobControlLine("[1]+ sleep 100 &"))
        XCTAssertFalse(stage.takeJobControlLine("[2]+ other &"), "only the first job line is bash's answer")
        XCTAssertEqual(stage.prompt(linesSent: 1, exitCode: nil, elapsed: 6),
                       .finish(.stillRunning(seconds: 6, job: "[1]+ sleep 100 &", interrupted: false)))
    }

    func testEndedBeforeCtrlZStoppedIt() {
        var stage = ShellJobStage.suspending(stoppedLine: nil)
        XCTAssertEqual(stage.prompt(linesSent: 1, exitCode: 0, elapsed: 5), .finish(.exited(0)))
    }

    func testInterruptedReportsWhyWhateverItPrinted() {
        var stage = ShellJobStage.interrupting(.waitingForInput)
        XCTAssertFalse(stage.takeJobControlLine("[1]+  Stopped  cat"), "no job control while interrupting")
        XCTAssertEqual(stage.prompt(linesSent: 1, exitCode: 130, elapsed: 2), .finish(.waitingForInput))
    }
}
