#!/usr/bin/env bash
# A second Docker engine on this machine, for the several-engines test and bench/docker.sh:
# its own dockerd (data root, exec root, pid file, unix socket under DIR; --bridge=none
# --iptables=false) inside a network namespace this script makes, reached from here over TCP
# with TLS on a veth pair (10.200.N.1 here, 10.200.N.2 in the namespace: traffic only between
# the two), with certificates made here by openssl. It never touches the default engine.
#
#   scripts/second-engine.sh up DIR [IMAGE...]   start it (and load each IMAGE from the default
#                                                engine: docker save | docker load); prints
#                                                NAME=VALUE lines (HOST, CA, CERT, KEY, SOCK)
#   scripts/second-engine.sh stop DIR            stop its dockerd only (SIGTERM by pid file, as
#                                                an engine that goes away; `down` still cleans up)
#   scripts/second-engine.sh start DIR           start its dockerd again after `stop`
#   scripts/second-engine.sh down DIR            stop it and remove all it made (idempotent)
#   scripts/second-engine.sh check               exit 0 when it can run here; else print why
#
# `up` that fails cleans up after itself. DIR must be short (a unix socket path lives in it).
set -euo pipefail

cmd=${1:-}
dir=${2:-}

why_not() {
    [[ $(id -u) == 0 ]] || { echo "needs root (ip netns, dockerd)"; return; }
    for p in ip nsenter openssl dockerd docker; do
        command -v "$p" >/dev/null 2>&1 || { echo "$p is not installed (scripts/setup.sh --test installs it)"; return; }
    done
    ip netns list >/dev/null 2>&1 || { echo "ip netns does not work here"; return; }
    docker info >/dev/null 2>&1 || { echo "the default Docker engine does not answer"; return; }
}

# A small number per DIR (for the namespace, the veth names and the 10.200.N.0/30 subnet),
# claimed by making the namespace: `ip netns add` fails when the name is taken (by another
# engine of this script, maybe another checkout's test running at the same time), so the
# first free number from DIR's hash on is ours, and only a claimed one (DIR/slot) is removed.
claim_slot() {
    local d=$1 first i n
    first=$(( $(printf '%s' "$d" | cksum | cut -d' ' -f1) % 250 ))
    for i in $(seq 0 249); do
        n=$(( (first + i) % 250 + 1 ))
        ip netns add "svtest$n" 2>/dev/null || continue
        # A veth left by a run that died holds the number too.
        if ip link show "svh$n" >/dev/null 2>&1; then ip netns del "svtest$n"; continue; fi
        echo "$n" > "$d/slot"
        return 0
    done
    echo "second engine: no free network namespace slot (svtest1-250 all taken)" >&2
    return 1
}

# Ends a daemon we started, by its pid file, after checking its command line names DIR.
stop_pidfile() {
    local d=$1 pidfile=$2 pid
    [[ -s $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$d"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
}

down() {
    local d=$1 n
    stop_pidfile "$d" "$d/pid"
    stop_pidfile "$d" "$d/x/containerd/containerd.pid"
    # Mounts left under DIR (overlay layers, netns bind mounts), deepest first.
    if [[ -d $d ]]; then
        awk -v d="$d/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
            umount -l "$m" 2>/dev/null || true
        done
    fi
    # Only a slot this DIR claimed: another engine's namespace is not ours to remove.
    if n=$(cat "$d/slot" 2>/dev/null) && [[ -n $n ]]; then
        ip netns del "svtest$n" 2>/dev/null || true
        ip link del "svh$n" 2>/dev/null || true
    fi
    [[ -n $d && -d $d ]] && rm -rf "$d"
    return 0
}

# Starts the engine's dockerd in the namespace and waits until it answers over TLS.
start_daemon() {
    local d=$1 n ns there c
    n=$(cat "$d/slot"); ns="svtest$n"; there="10.200.$n.2"; c="$d/certs"
    # nsenter, not `ip netns exec`: that one also mounts a fresh /sys, which hides the cgroup
    # hierarchy dockerd needs ("Devices cgroup isn't mounted").
    nsenter --net="/var/run/netns/$ns" dockerd --data-root "$d/root" --exec-root "$d/x" --pidfile "$d/pid" \
        -H "unix://$d/sock" -H "tcp://$there:2376" \
        --tlsverify --tlscacert "$c/ca.pem" --tlscert "$c/server.pem" --tlskey "$c/server-key.pem" \
        --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
        --userland-proxy=false --storage-driver overlay2 >> "$d/dockerd.log" 2>&1 &
    local daemon=$!
    local tcp=(docker --host "tcp://$there:2376" --tlsverify --tlscacert "$c/ca.pem" --tlscert "$c/cert.pem" --tlskey "$c/key.pem")
    local ok=0
    for _ in $(seq 1 300); do
        if "${tcp[@]}" version --format '{{.Server.Version}}' >/dev/null 2>&1; then ok=1; break; fi
        kill -0 "$daemon" 2>/dev/null || { echo "second engine: dockerd exited" >&2; false; }
        sleep 0.2
    done
    [[ $ok == 1 ]] || { echo "second engine: dockerd did not answer within 60 s" >&2; false; }
}

up() {
    local d=$1; shift
    local n ns host peer here there
    mkdir -p "$d"
    trap 'echo "second engine: failed at line $LINENO; cleaning up" >&2; tail -n 20 "$d/dockerd.log" >&2 2>/dev/null || true; down "$d"' ERR
    claim_slot "$d"
    n=$(cat "$d/slot")
    ns="svtest$n"; host="svh$n"; peer="svn$n"
    here="10.200.$n.1"; there="10.200.$n.2"

    ip link add "$host" type veth peer name "$peer"
    ip link set "$peer" netns "$ns"
    ip addr add "$here/30" dev "$host"
    ip link set "$host" up
    ip -n "$ns" addr add "$there/30" dev "$peer"
    ip -n "$ns" link set "$peer" up
    ip -n "$ns" link set lo up

    # Certificates: a CA, the engine's (for its address), this client's.
    local c="$d/certs"; mkdir -p "$c"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=supervisor test CA" \
        -keyout "$c/ca-key.pem" -out "$c/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$there" -keyout "$c/server-key.pem" -out "$c/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$there" > "$c/server.ext"
    openssl x509 -req -in "$c/server.csr" -CA "$c/ca.pem" -CAkey "$c/ca-key.pem" -CAcreateserial -days 2 \
        -extfile "$c/server.ext" -out "$c/server.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=supervisor" -keyout "$c/key.pem" -out "$c/client.csr" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > "$c/client.ext"
    openssl x509 -req -in "$c/client.csr" -CA "$c/ca.pem" -CAkey "$c/ca-key.pem" -CAcreateserial -days 2 \
        -extfile "$c/client.ext" -out "$c/cert.pem" 2>/dev/null
    chmod 600 "$c"/*key.pem

    start_daemon "$d"
    for image in "$@"; do
        docker save "$image" | docker --host "unix://$d/sock" load >/dev/null
    done
    trap - ERR
    echo "HOST=tcp://$there:2376"
    echo "CA=$c/ca.pem"
    echo "CERT=$c/cert.pem"
    echo "KEY=$c/key.pem"
    echo "SOCK=unix://$d/sock"
}

case $cmd in
    check) reason=$(why_not); [[ -z $reason ]] || { echo "$reason"; exit 1; } ;;
    up) [[ -n $dir ]] || { echo "usage: $0 up DIR [IMAGE...]" >&2; exit 2; }
        reason=$(why_not); [[ -z $reason ]] || { echo "$reason" >&2; exit 3; }
        shift 2; up "$(realpath -m "$dir")" "$@" ;;
    stop) [[ -n $dir ]] || { echo "usage: $0 stop DIR" >&2; exit 2; }
        stop_pidfile "$(realpath -m "$dir")" "$(realpath -m "$dir")/pid" ;;
    start) [[ -n $dir ]] || { echo "usage: $0 start DIR" >&2; exit 2; }
        start_daemon "$(realpath -m "$dir")" ;;
    down) [[ -n $dir ]] || { echo "usage: $0 down DIR" >&2; exit 2; }
        down "$(realpath -m "$dir")" ;;
    *) echo "usage: $0 up DIR [IMAGE...] | stop DIR | down DIR | check" >&2; exit 2 ;;
esac
