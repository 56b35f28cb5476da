/// The default agent image: its tag and its Dockerfile (a copy of docker/Dockerfile, kept equal
/// by a test, so an installed `supervisor` can build it without the source tree).
public enum DockerImage {
    public static let defaultTag = "supervisor-agent:ubuntu-22.04"

    /// `docker build` arguments for the default image (the Dockerfile is written into `context`).
    public static func buildArguments(tag: String, base: String?, network: String?, context: String) -> [String] {
        var args = ["build", "--tag", tag, "--label", "supervisor.image=agent"]
        if let base { args += ["--build-arg", "BASE=\(base)"] }
        if let network { args += ["--network", network] }
        return args + [context]
    }

    public static let dockerfile = #"""
# The default agent image of supervisor's Docker backend: `supervisor image build` builds it
# (tag supervisor-agent:ubuntu-22.04). Agents' tools run here; the agents themselves, and their
# API keys, stay on the host.
#
# No sudo: containers run with no-new-privileges, so setuid programs cannot raise privileges.
# A profile whose agent must install packages sets `user = "root"` in [backend]: root in the
# container, with only the capabilities apt-get needs (see profiles/README.md, "Docker backend").
ARG BASE=ubuntu:22.04
FROM ${BASE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      bash ca-certificates curl git less procps psmisc iproute2 netcat-openbsd wget \
      python3 python3-pip python3-venv unzip xz-utils \
 && rm -rf /var/lib/apt/lists/*
# The non-root user agents run as by default (uid 1000, the default when supervisor runs as root;
# otherwise containers run as the invoking user's uid:gid so workspace files stay theirs).
RUN if getent passwd 1000 >/dev/null; then userdel --remove "$(getent passwd 1000 | cut -d: -f1)"; fi \
 && if getent group 1000 >/dev/null; then groupdel "$(getent group 1000 | cut -d: -f1)"; fi \
 && groupadd --gid 1000 agent \
 && useradd --uid 1000 --gid agent --create-home --shell /bin/bash agent \
 && mkdir -p /workspace && chown agent:agent /workspace
WORKDIR /workspace
USER agent
CMD ["sleep", "infinity"]
"""#
}
