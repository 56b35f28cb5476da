import AgentHost
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Loop

/// Fills a new workspace volume on a remote engine from the agent's `cwd` on this machine:
/// a tar of the files (in a git work tree only what git tracks or would track: `git ls-files
/// --cached --others --exclude-standard`, so .gitignore'd build output and secrets in ignored
/// files stay here), owned by the container's user's uid:gid, unpacked into the volume by a
/// one-off container of the agent's image running `tar -x` as root with only CHOWN, FOWNER and
/// DAC_OVERRIDE (`docker cp` cannot do it: it runs as the container's user, whose exec gets no
/// capability, and `cp -a` trips over a numeric user on engine 20.10). Everything is argv; the
/// file list travels NUL-separated in a file.
enum WorkspaceSeed {
    static func seed(_ spec: ShimSpec, docker: DockerEngine, scratch: String) throws {
        guard let container = spec.container else { return }
        let engine = docker.on(container.engine ?? .default)
        let cwd = spec.directory
        let tarPath = scratch + "/seed-\(spec.agent).tar", listPath = scratch + "/seed-\(spec.agent).list"
        defer { unlink(tarPath); unlink(listPath) }
        let git = resolveExecutable("git", path: docker.environment["PATH"])
        // Whose files they become: the container's user, as numbers (its image may name it).
        func id(_ flag: String) throws -> String {
            let result = engine.run(["exec", container.name, "id", flag], timeout: 60)
            let value = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            guard result.succeeded, Int(value) != nil else {
                throw HostingError("cannot learn the user of \(container.name) to seed its workspace: \(firstLine(result.errorOutput, or: "id \(flag) said \(value)"))")
            }
            return value
        }
        let uid = try id("-u"), gid = try id("-g")
        var tar = ["tar", "-C", cwd, "-cf", tarPath, "--owner=\(uid)", "--group=\(gid)", "--numeric-owner"]
        if let git, (try? runSubprocess([git, "-C", cwd, "rev-parse", "--is-inside-work-tree"]))?.succeeded == true {
            let listed = try runSubprocess([git, "-C", cwd, "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
            guard listed.succeeded else { throw HostingError("cannot list the files of \(cwd): \(firstLine(listed.errorOutput, or: "git ls-files failed"))") }
            // Every directory is listed too (with --no-recursion), so each gets its owner.
            let files = listed.output.split(separator: "\u{0}").map(String.init)
            var directories: Set<String> = ["."]
            for file in files {
                var parts = file.split(separator: "/").dropLast()
                while !parts.isEmpty { directories.insert(parts.joined(separator: "/")); parts = parts.dropLast() }
            }
            let entries = directories.sorted() + files
            try writeFileAtomically(path: listPath, data: Array(entries.joined(separator: "\u{0}").utf8))
            // Files deleted but still in the index are skipped, not an error.
            tar += ["--null", "--no-recursion", "--ignore-failed-read", "-T", listPath]
        } else {
            tar.append(".")
        }
        guard let tarExecutable = resolveExecutable("tar", path: docker.environment["PATH"]) else {
            throw HostingError("seeding the workspace of \(spec.agent) needs tar, which is not installed")
        }
        tar[0] = tarExecutable
        let packed = try runSubprocess(tar)
        guard packed.succeeded else { throw HostingError("cannot pack \(cwd) for the workspace of \(spec.agent): \(firstLine(packed.errorOutput, or: "tar failed"))") }
        let fd = open(tarPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HostingError("cannot read \(tarPath): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let where_ = "engine \(container.engineName) (\(container.engine?.address ?? "the default engine"))"
        guard let volume = container.workspaceVolume else { return }
        let unpacked = engine.run(["run", "--rm", "--interactive", "--pull", "never", "--network", "none", "--user", "0",
                                   "--cap-drop", "ALL", "--cap-add", "CHOWN", "--cap-add", "FOWNER", "--cap-add", "DAC_OVERRIDE",
                                   "--security-opt", "no-new-privileges", "--label", "\(ContainerSpec.labelHome)=\(container.home)",
                                   "--mount", "type=volume,source=\(volume),target=/seed",
                                   "--entrypoint", "tar", container.image, "-x", "-f", "-", "-C", "/seed", "--numeric-owner"], input: fd)
        guard unpacked.succeeded else {
            throw HostingError("cannot seed the workspace of \(spec.agent) (volume \(volume)) on \(where_): \(firstLine(unpacked.errorOutput, or: "tar -x failed"))")
        }
    }
}
