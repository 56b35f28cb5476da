// Names of git branches and refs as a profile may write them, checked without git (the rules of
// `git check-ref-format --branch`), so a bad `branch` or `base` is a profile error with a
// position, not a git failure at `up`.

public enum GitNames {
    /// The branch an isolated agent works on when the profile names none.
    public static func defaultBranch(profile: String, agent: String) -> String { "sv/\(profile)/\(agent)" }

    /// Why `name` cannot be a branch name, or nil when it can.
    public static func branchProblem(_ name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name.hasPrefix("-") { return "must not start with '-'" }
        if name == "@" || name == "HEAD" { return "\(Text.quote(name)) is reserved by git" }
        if name.hasPrefix("/") || name.hasSuffix("/") { return "must not start or end with '/'" }
        if name.hasSuffix(".") { return "must not end with '.'" }
        if name.contains("..") { return "must not contain \"..\"" }
        if name.contains("//") { return "must not contain \"//\"" }
        if name.contains("@{") { return "must not contain \"@{\"" }
        for c in name.unicodeScalars {
            if c.value < 0x21 || c.value == 0x7f { return "must not contain spaces or control characters" }
            if "~^:?*[\\".unicodeScalars.contains(c) { return "must not contain '\(c)'" }
        }
        for component in name.split(separator: "/") {
            if component.hasPrefix(".") { return "no part between slashes may start with '.'" }
            if component.hasSuffix(".lock") { return "no part between slashes may end with \".lock\"" }
        }
        return nil
    }

    /// Why `ref` cannot name a commit to start from (a branch, tag, commit id or expression like
    /// `main~2`), or nil. Looser than a branch name; what matters is that it is one argument
    /// that git cannot mistake for an option.
    public static func revisionProblem(_ ref: String) -> String? {
        if ref.isEmpty { return "must not be empty" }
        if ref.hasPrefix("-") { return "must not start with '-'" }
        if ref.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f }) {
            return "must not contain spaces or control characters"
        }
        return nil
    }
}
