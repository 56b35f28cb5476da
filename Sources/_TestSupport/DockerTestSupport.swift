import Foundation
import Glibc
import Hosting

/// For tests of the Docker backend (any module's): whether an engine and the test image are
/// there, the docker CLI, and throwaway containers that are always removed by label.
///
/// The test image (`supervisor-test:bookworm`, or `$SV_DOCKER_TEST_IMAGE`) is built by
/// `scripts/docker-test-image.sh` (debootstrap, no registry needed); `scripts/test.sh` builds
/// it and starts an engine when none answers. Containers in tests use network none or host.
public enum DockerTestSupport {
    public static var image: String { ProcessInfo.processInfo.environment["SV_DOCKER_TEST_IMAGE"] ?? "supervisor-test:bookworm" }
    /// Every container a test makes carries this label (value: the test's own tag).
    public static let testLabel = "supervisor.test"

    /// Nil when Docker tests can run; otherwise why not (for XCTSkip, printed as a SKIP line).
    public static let unavailableReason: String? = {
        let environment = ProcessInfo.processInfo.environment
        guard let engine = try? DockerEngine.locate(environment: environment) else {
            return report("the docker CLI is not installed (scripts/test.sh installs docker.io)")
        }
        do { try engine.ping(purpose: "this Docker test") } catch {
            return report("no Docker engine answers (scripts/test.sh starts dockerd): \(error)")
        }
        guard engine.imageExists(image) else {
            return report("test image \(image) is missing (build it with scripts/docker-test-image.sh)")
        }
        return nil
    }()

    private static func report(_ reason: String) -> String {
        FileHandle.standardError.write(Data("SKIP Docker tests: \(reason)\n".utf8))
        return reason
    }

    public static var engine: DockerEngine { try! DockerEngine.locate(environment: ProcessInfo.processInfo.environment) }

    @discardableResult
    public static func docker(_ arguments: [String]) -> SubprocessResult { engine.run(arguments) }

    /// `docker run -d --init --network none` of the test image kept alive by `sleep infinity`,
    /// as the calling user (the test image has no other), labelled `supervisor.test=TAG`.
    public static func startContainer(name: String, tag: String, extra: [String] = []) throws -> String {
        let result = docker(["run", "--detach", "--init", "--name", name, "--label", "\(testLabel)=\(tag)", "--network", "none",
                             "--user", "\(getuid()):\(getgid())", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
                            + extra + [image, "sleep", "infinity"])
        guard result.succeeded else { throw HostingError("docker run \(name): \(result.errorOutput)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Removes every container labelled `label` (`key=value` or `key`).
    public static func removeContainers(label: String) {
        let ids = docker(["ps", "--all", "--quiet", "--filter", "label=\(label)"]).output
            .split(whereSeparator: \.isNewline).map(String.init)
        if !ids.isEmpty { docker(["rm", "--force", "--volumes"] + ids) }
    }

    /// `prefix` and 8 random characters (a-z, 0-9): a name or label value no other test run on
    /// this engine uses, also one from another checkout running the suite at the same time
    /// (everything a test makes on the shared engine is named with one; only the read-only
    /// test image is shared). Short enough for a profile name (32 characters) with its prefix.
    public static func uniqueTag(_ prefix: String) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return prefix + String((0..<8).map { _ in alphabet.randomElement()! })
    }
}
