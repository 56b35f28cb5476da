#!/usr/bin/env bash
# cleanup.sh: remove everything supervisor made on this machine, for every profile, even when
# the supervisor binary is not built.
#
#   ./cleanup.sh [--logs] [--force] [--dry-run]
#
# What it removes, in this order:
#   1. the private tmux server of each profile (<root>/profiles/*/tmux.sock; never any other
#      tmux server);
#   2. shims and agents still alive: pids recorded in <root>/profiles/*/agents/*/state.json, plus
#      any `supervisor[-shim] shim <root>/profiles/.../spec.json` process found in /proc. A shim is
#      signalled only if its argv[1] is `shim`; an agent only if it still leads its own session.
#      Both must have started before their state file was last written (a reused pid did not).
#      SIGTERM (an agent's whole process group), then SIGKILL after a bounded wait;
#   3. containers labelled supervisor.profile whose supervisor.home label is this root, on the
#      default engine and on each engine a profile named (<root>/profiles/*/engines.tsv; only when
#      docker is installed and answers; containers of other roots or without the labels stay);
#   4. isolated agents' git worktrees (<root>/profiles/*/worktrees/<agent>, listed with their size
#      and state): only those whose work is merged and that have no uncommitted changes, unless
#      --force; a merged worktree's branch goes with it, an unmerged one's stays. Then
#      `git worktree prune` in each repository. Kept worktrees keep their profile's worktrees/
#      folder; everything else of
#   5. each profile's state directory (sockets, specs, states, record, lock, settings) goes, and
#      the state of built-in agents run by hand (<root>/standalone/<agent>: history, sessions,
#      conversations; <root>/coder from before they moved there);
#   6. with --logs: each profile's log directory (<logsDir>/<profile>, from profile.json or
#      from the agents' state.json) and <root>/standalone/logs. Without --logs, logs are kept.
#
# The root is $SUPERVISOR_HOME, else $XDG_STATE_HOME/supervisor (if absolute), else
# $HOME/.local/state/supervisor, else /tmp/supervisor-<uid>: the same rule as Paths.swift.
#
# --force also removes worktrees with unmerged commits or uncommitted changes (their uncommitted
# work is lost; the branch, and so its commits, is kept).
# --dry-run prints every action as "would ..." and changes nothing.
# CLEANUP_KILL_AFTER (seconds, default 3) is the wait between SIGTERM and SIGKILL.
# Exit status: 0 done (or nothing to do), 1 something could not be removed, 2 usage error.

set -euo pipefail

usage() {
    echo "usage: $0 [--logs] [--force] [--dry-run]" >&2
    echo "  --logs      also remove the profiles' log directories (kept by default)" >&2
    echo "  --force     also remove agents' git worktrees with unmerged or uncommitted work" >&2
    echo "  --dry-run   list what would be done without doing it" >&2
}

remove_logs=0
dry_run=0
force=0
for arg in "$@"; do
    case "$arg" in
        --logs) remove_logs=1 ;;
        --force) force=1 ;;
        --dry-run|-n) dry_run=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "cleanup.sh: unknown argument: $arg" >&2; usage; exit 2 ;;
    esac
done

# --- the root, as Paths.swift computes it -------------------------------------------------------
trim_slashes() {
    local p=$1
    while [[ ${#p} -gt 1 && $p == */ ]]; do p=${p%/}; done
    printf '%s' "$p"
}
if [[ -n ${SUPERVISOR_HOME:-} ]]; then
    root=$(trim_slashes "$SUPERVISOR_HOME")
elif [[ ${XDG_STATE_HOME:-} == /* ]]; then
    root=$(trim_slashes "$XDG_STATE_HOME")/supervisor
elif [[ -n ${HOME:-} ]]; then
    root=$(trim_slashes "$HOME")/.local/state/supervisor
else
    root=/tmp/supervisor-$(id -u)
fi
profiles_dir=$root/profiles

actions=0
failures=0
say() { printf '%s\n' "$*"; }
act() { actions=$((actions + 1)); say "$*"; }
fail() { failures=$((failures + 1)); say "error: $*" >&2; }
if [[ $dry_run == 1 ]]; then would="would "; else would=""; fi

have_python=0
# CLEANUP_NO_PYTHON=1 forces the grep/sed reader (to test it on machines that have python3).
[[ -z ${CLEANUP_NO_PYTHON:-} ]] && command -v python3 >/dev/null 2>&1 && have_python=1

# json_get FILE KEY: the top-level string or number KEY of a JSON object, empty if missing/null.
json_get() {
    local file=$1 key=$2
    [[ -r $file ]] || return 0
    if [[ $have_python == 1 ]]; then
        python3 - "$file" "$key" <<'PY' 2>/dev/null || true
import json, sys
try:
    with open(sys.argv[1], "rb") as f:
        value = json.load(f).get(sys.argv[2])
except Exception:
    sys.exit(0)
if value is not None and not isinstance(value, (dict, list, bool)):
    sys.stdout.write(str(value))
PY
    else
        # Fallback for the files supervisor writes (pretty-printed, one key per line, sorted).
        # Only keys that occur once in the file are asked for, so nesting does not matter.
        local line
        line=$(grep -m1 -E "^[[:space:]]*\"$key\"[[:space:]]*:" "$file" 2>/dev/null || true)
        [[ -n $line ]] || return 0
        line=$(printf '%s' "$line" | sed -E 's/^[^:]*:[[:space:]]*//; s/[[:space:]]*,?[[:space:]]*$//')
        [[ $line == null ]] && return 0
        if [[ $line == \"*\" ]]; then
            line=${line#\"}; line=${line%\"}
            line=$(printf '%s' "$line" | sed -e 's#\\/#/#g' -e 's#\\"#"#g' -e 's#\\\\#\\#g')
        fi
        printf '%s' "$line"
    fi
}

# --- processes ------------------------------------------------------------------------------------
clock_ticks=$(getconf CLK_TCK 2>/dev/null || echo 100)
boot_time=$(awk '/^btime/ { print $2 }' /proc/stat 2>/dev/null || echo 0)

# Alive and not a zombie.
alive() {
    local pid=$1 stat
    [[ -r /proc/$pid/stat ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# Start time of a process in unix seconds (field 22 of /proc/PID/stat, after the command name).
start_time() {
    local stat fields
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    read -r -a fields <<<"$stat"
    echo $(( boot_time + fields[19] / clock_ticks ))
}

# A pid that started after FILE was last written cannot be the one FILE recorded (pid reuse).
started_before() {
    local pid=$1 file=$2 started written
    started=$(start_time "$pid") || return 1
    written=$(stat -c %Y "$file" 2>/dev/null) || return 1
    (( started <= written + 2 ))
}

# argv of a process, one element per array entry.
read_argv() {
    local pid=$1
    argv=()
    [[ -r /proc/$pid/cmdline ]] || return 1
    mapfile -d '' -t argv <"/proc/$pid/cmdline" 2>/dev/null || return 1
}

is_shim() {
    read_argv "$1" || return 1
    [[ ${#argv[@]} -ge 2 && ${argv[1]} == shim ]]
}

leads_own_session() {
    local sid
    sid=$(ps -o sid= -p "$1" 2>/dev/null | tr -d ' ') || return 1
    [[ -n $sid && $sid == "$1" ]]
}

# Targets: parallel arrays of kind (shim|agent), pid, description.
t_kind=(); t_pid=(); t_what=()
add_target() {
    local kind=$1 pid=$2 what=$3 i
    for i in "${!t_pid[@]}"; do [[ ${t_pid[$i]} == "$pid" ]] && return 0; done
    t_kind+=("$kind"); t_pid+=("$pid"); t_what+=("$what")
}

# --- what is there ----------------------------------------------------------------------------------
shopt -s nullglob
profile_dirs=()
if [[ -d $profiles_dir ]]; then
    for d in "$profiles_dir"/*/; do profile_dirs+=("${d%/}"); done
fi

# Processes recorded in state files.
for dir in "${profile_dirs[@]}"; do
    profile=${dir##*/}
    for state in "$dir"/agents/*/state.json; do
        agent_dir=${state%/state.json}; agent=${agent_dir##*/}
        shim_pid=$(json_get "$state" shimPid)
        agent_pid=$(json_get "$state" agentPid)
        if [[ $shim_pid =~ ^[0-9]+$ && $shim_pid -gt 1 ]] && alive "$shim_pid" && is_shim "$shim_pid" \
            && started_before "$shim_pid" "$state"; then
            add_target shim "$shim_pid" "shim $shim_pid ($profile/$agent)"
        fi
        if [[ $agent_pid =~ ^[0-9]+$ && $agent_pid -gt 1 ]] && alive "$agent_pid" && leads_own_session "$agent_pid" \
            && started_before "$agent_pid" "$state"; then
            add_target agent "$agent_pid" "agent $agent_pid ($profile/$agent) and its process group"
        fi
    done
done

# Shims whose state file is gone: `<binary> shim <root>/profiles/<p>/agents/<a>/spec.json`.
for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    [[ $pid == "$$" ]] && continue
    is_shim "$pid" 2>/dev/null || continue
    [[ ${#argv[@]} -ge 3 && ${argv[2]} == "$profiles_dir"/*/agents/*/spec.json ]] || continue
    alive "$pid" || continue
    spec=${argv[2]#"$profiles_dir"/}
    add_target shim "$pid" "shim $pid (${spec%%/*}/$(basename "$(dirname "$spec")"), no state file)"
done

# Containers, on every engine of every profile: the default one, and each engine a profile's
# <dir>/engines.tsv names (written by `up`: name, then the docker CLI options that reach it,
# tab-separated). An engine that does not answer is named and skipped; the others go on.
containers=()     # "ENGINE_INDEX ID"
engine_names=(default)
engine_opts=("")  # each: the options, tab-separated
docker_ok=0
if command -v docker >/dev/null 2>&1; then
    for dir in "${profile_dirs[@]}"; do
        [[ -r $dir/engines.tsv ]] || continue
        while IFS= read -r line || [[ -n $line ]]; do
            [[ -n $line ]] || continue
            name=${line%%$'\t'*}
            opts=${line#*$'\t'}
            known=0
            for o in "${engine_opts[@]}"; do [[ $o == "$opts" ]] && known=1; done
            [[ $known == 1 ]] && continue
            engine_names+=("$name")
            engine_opts+=("$opts")
        done <"$dir/engines.tsv"
    done
    for i in "${!engine_opts[@]}"; do
        IFS=$'\t' read -r -a opts <<<"${engine_opts[$i]}"
        if ! timeout 10 docker "${opts[@]}" info >/dev/null 2>&1; then
            [[ $i == 0 ]] || say "note: engine ${engine_names[$i]} does not answer; its containers (if any) were not checked"
            continue
        fi
        [[ $i == 0 ]] && docker_ok=1
        # Only this root's: supervisor labels each container with its state root (supervisor.home), so
        # another user's or another SUPERVISOR_HOME's containers on the same engine are never touched.
        # Containers of agents with preserve_container = true (label supervisor.preserve=true) are
        # kept, as `down` keeps them.
        while IFS= read -r id; do
            [[ -n $id ]] && containers+=("$i $id")
        done < <(timeout 20 docker "${opts[@]}" ps -a --filter label=supervisor.profile \
            --filter "label=supervisor.home=$root" --format '{{.ID}} {{.Label "supervisor.preserve"}}' 2>/dev/null \
            | awk '$2 != "true" { print $1 }' || true)
    done
fi

# Log directories: <logsDir>/<profile> from profile.json, and the directory of each agent's log
# from its state.json (profile.json is gone after `supervisor down`). A run without --logs lists
# the ones it keeps in <root>/kept-logs, so a later `--logs` run still finds them.
kept_logs_file=$root/kept-logs
log_dirs=()
add_log_dir() {
    local d=$1 x
    [[ -n $d && $d == /* && -d $d ]] || return 0
    for x in "${log_dirs[@]}"; do [[ $x == "$d" ]] && return 0; done
    log_dirs+=("$d")
}
for dir in "${profile_dirs[@]}"; do
    profile=${dir##*/}
    logs_dir=$(json_get "$dir/profile.json" logsDir)
    [[ -n $logs_dir ]] && add_log_dir "$(trim_slashes "$logs_dir")/$profile"
    for state in "$dir"/agents/*/state.json; do
        log_path=$(json_get "$state" logPath)
        # Only <...>/<profile>/<agent>.log: never a directory not named after the profile.
        [[ $log_path == */"$profile"/*.log ]] && add_log_dir "${log_path%/*}"
    done
done
if [[ -f $kept_logs_file ]]; then
    while IFS= read -r line || [[ -n $line ]]; do add_log_dir "$line"; done <"$kept_logs_file"
fi

# --- 1. tmux servers ------------------------------------------------------------------------------------
if [[ ${#profile_dirs[@]} -gt 0 ]]; then
    tmux_bin=$(command -v tmux || true)
    for dir in "${profile_dirs[@]}"; do
        sock=$dir/tmux.sock
        [[ -S $sock ]] || continue
        if [[ -z $tmux_bin ]]; then
            say "tmux is not installed; cannot ask the server on $sock to exit (its processes are signalled below)"
            continue
        fi
        if env -u TMUX -u TMUX_PANE "$tmux_bin" -S "$sock" list-sessions >/dev/null 2>&1; then
            if [[ $dry_run == 1 ]]; then
                act "would kill tmux server $sock"
            elif env -u TMUX -u TMUX_PANE "$tmux_bin" -S "$sock" kill-server >/dev/null 2>&1; then
                act "killed tmux server $sock"
            else
                fail "could not kill tmux server $sock"
            fi
        fi
    done
fi

# --- 2. shims and agents ------------------------------------------------------------------------------
# Bounded wait until none of the given pids is alive. Returns 1 if some still are.
wait_gone() {
    local deadline=$((SECONDS + $1)) pid any
    shift
    while :; do
        any=0
        for pid in "$@"; do alive "$pid" && { any=1; break; }; done
        [[ $any == 0 ]] && return 0
        (( SECONDS >= deadline )) && return 1
        sleep 0.05 # a script waiting on other processes' exit: bounded by the deadline above
    done
}

send() {
    local signal=$1 kind=$2 pid=$3
    if [[ $kind == agent ]]; then
        kill "-$signal" -- "-$pid" 2>/dev/null || kill "-$signal" "$pid" 2>/dev/null || true
    else
        kill "-$signal" "$pid" 2>/dev/null || true
    fi
}

if [[ ${#t_pid[@]} -gt 0 ]]; then
    if [[ $dry_run == 1 ]]; then
        for i in "${!t_pid[@]}"; do act "would send SIGTERM (then SIGKILL) to ${t_what[$i]}"; done
    else
        # The tmux server's exit hangs up the shims, which stop their agents: give them a moment.
        wait_gone 2 "${t_pid[@]}" || true
        for i in "${!t_pid[@]}"; do
            pid=${t_pid[$i]}
            if alive "$pid"; then
                send TERM "${t_kind[$i]}" "$pid"
                act "sent SIGTERM to ${t_what[$i]}"
            else
                act "${t_what[$i]} ended with its tmux server"
            fi
        done
        if ! wait_gone "${CLEANUP_KILL_AFTER:-3}" "${t_pid[@]}"; then
            for i in "${!t_pid[@]}"; do
                pid=${t_pid[$i]}
                alive "$pid" || continue
                send KILL "${t_kind[$i]}" "$pid"
                act "sent SIGKILL to ${t_what[$i]}"
            done
            wait_gone 5 "${t_pid[@]}" || fail "some processes are still alive: ${t_pid[*]}"
        fi
    fi
fi

# --- 3. containers ----------------------------------------------------------------------------------------
for entry in "${containers[@]}"; do
    [[ -n $entry ]] || continue
    i=${entry%% *}; id=${entry#* }
    IFS=$'\t' read -r -a opts <<<"${engine_opts[$i]}"
    where=""; [[ $i == 0 ]] || where=" on engine ${engine_names[$i]}"
    label=$(timeout 20 docker "${opts[@]}" inspect -f '{{.Name}} (profile {{index .Config.Labels "supervisor.profile"}})' "$id" 2>/dev/null || echo "$id")
    if [[ $dry_run == 1 ]]; then
        act "would remove container $id ${label#/}$where"
    elif timeout 60 docker "${opts[@]}" rm -f "$id" >/dev/null 2>&1; then
        act "removed container $id ${label#/}$where"
    else
        fail "could not remove container $id$where"
    fi
done

# --- 4. worktrees ---------------------------------------------------------------------------------------
# Each isolated agent's worktree has a record next to it (worktrees/<agent>.json, WorktreeRecord in
# Sources/Hosting/Worktrees.swift). Merged means: the branch is gone, or its tip is the one
# `supervisor merge` recorded (mergedTip), or its tip is in the base's tip (baseBranch, else
# baseCommit). git runs from argv, with the repository path from the record as -C's argument.
git_bin=$(command -v git || true)
git_q() { env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE LC_ALL=C "$git_bin" "$@"; }
declare -A keep_worktrees=() prune_repos=()
worktree_bytes=0
for dir in "${profile_dirs[@]}"; do
    for rec in "$dir"/worktrees/*.json; do
        agent=${rec##*/}; agent=${agent%.json}
        repo=$(json_get "$rec" repository); wt=$(json_get "$rec" path); branch=$(json_get "$rec" branch)
        base_branch=$(json_get "$rec" baseBranch); base_commit=$(json_get "$rec" baseCommit); merged_tip=$(json_get "$rec" mergedTip)
        # Only a worktree inside this profile's worktrees/ folder is ever removed.
        if [[ $wt != "$dir/worktrees/$agent" ]]; then
            fail "worktree record $rec names $wt, outside $dir/worktrees; left alone"
            keep_worktrees[$dir]=1
            continue
        fi
        size=$(du -sh -- "$wt" 2>/dev/null | cut -f1 || true)
        kib=$(du -sk -- "$wt" 2>/dev/null | cut -f1 || echo 0)
        worktree_bytes=$((worktree_bytes + ${kib:-0} * 1024))
        state=""
        if [[ -z $git_bin || ! -d $repo ]]; then
            state="cannot be checked (${git_bin:+repository $repo is gone}${git_bin:-git is not installed})"
        else
            head=$(git_q -C "$repo" rev-parse --verify --quiet "refs/heads/$branch" 2>/dev/null || true)
            base_tip=""
            [[ -n $base_branch ]] && base_tip=$(git_q -C "$repo" rev-parse --verify --quiet "refs/heads/$base_branch" 2>/dev/null || true)
            [[ -n $base_tip ]] || base_tip=$base_commit
            merged=0
            if [[ -z $head || $head == "$merged_tip" ]] || git_q -C "$repo" merge-base --is-ancestor "$head" "$base_tip" 2>/dev/null; then
                merged=1
            fi
            dirty=0
            [[ -d $wt ]] && dirty=$(git_q -C "$wt" status --porcelain --untracked-files=all 2>/dev/null | wc -l || echo 0)
            [[ $merged == 1 ]] || state="unmerged commits on $branch"
            if [[ $dirty -gt 0 ]]; then state="${state:+$state, }$dirty uncommitted file(s)"; fi
        fi
        say "worktree $wt (agent $agent, branch $branch, ${size:-0} on disk): ${state:-merged and clean}"
        if [[ -n $state && $force == 0 ]]; then
            say "  kept: ${state}; merge it (supervisor merge ${dir##*/} $agent) or run $0 --force"
            keep_worktrees[$dir]=1
            continue
        fi
        if [[ $dry_run == 1 ]]; then
            act "would remove worktree $wt"
            continue
        fi
        if [[ -n $git_bin && -d $repo ]]; then
            git_q -C "$repo" worktree remove --force "$wt" >/dev/null 2>&1 || true
            prune_repos[$repo]=1
            if [[ -z $state && -n $head ]]; then
                git_q -C "$repo" branch -D "$branch" >/dev/null 2>&1 && say "  deleted merged branch $branch" || true
            elif [[ -n $head ]]; then
                say "  kept branch $branch (its commits stay reachable; git branch -D $branch deletes it)"
            fi
        fi
        rm -rf -- "$wt"
        rm -f -- "$rec"
        act "removed worktree $wt"
    done
done
for repo in "${!prune_repos[@]}"; do
    git_q -C "$repo" worktree prune >/dev/null 2>&1 && say "git worktree prune in $repo" || true
done
if [[ $worktree_bytes -gt 0 ]]; then
    say "worktrees took $((worktree_bytes / 1024)) KiB on disk in all"
fi

# --- 5. state directories -----------------------------------------------------------------------------
describe_state_dir() {
    local dir=$1 parts=() agents=("$dir"/agents/*/)
    [[ -S $dir/tmux.sock ]] && parts+=("tmux socket")
    [[ -e $dir/profile.json ]] && parts+=("record")
    [[ -e $dir/up.lock ]] && parts+=("lock")
    [[ -e $dir/settings.json ]] && parts+=("settings")
    [[ -S $dir/notify.sock ]] && parts+=("notify socket")
    [[ ${#agents[@]} -gt 0 ]] && parts+=("${#agents[@]} agent(s): specs, states, sockets")
    [[ ${#parts[@]} -gt 0 ]] || parts=(empty)
    local out=${parts[0]} part
    for part in "${parts[@]:1}"; do out+=", $part"; done
    printf '%s' "$out"
}

for dir in "${profile_dirs[@]}"; do
    what=$(describe_state_dir "$dir")
    if [[ -n ${keep_worktrees[$dir]:-} ]]; then
        # The rest of the state goes; the kept worktrees and their records stay where they are.
        if [[ $dry_run == 1 ]]; then
            act "would remove state directory $dir ($what) except its worktrees/"
            continue
        fi
        for entry in "$dir"/* "$dir"/.[!.]*; do
            [[ $entry == "$dir/worktrees" ]] && continue
            rm -rf -- "$entry" || fail "could not remove $entry"
        done
        act "removed state directory $dir ($what) except its worktrees/"
        continue
    fi
    if [[ $dry_run == 1 ]]; then
        act "would remove state directory $dir ($what)"
    elif rm -rf -- "$dir"; then
        act "removed state directory $dir ($what)"
    else
        fail "could not remove $dir"
    fi
done
# Agents run by hand: everything under <root>/standalone but its logs.
standalone_dir=$root/standalone
standalone_state=()
[[ -d $root/coder ]] && standalone_state+=("$root/coder")
for d in "$standalone_dir"/* "$standalone_dir"/.[!.]*; do
    [[ $d == "$standalone_dir/logs" ]] || standalone_state+=("$d")
done
for d in "${standalone_state[@]}"; do
    if [[ $dry_run == 1 ]]; then
        act "would remove $d (an agent run by hand)"
    elif rm -rf -- "$d"; then
        act "removed $d (an agent run by hand)"
    else
        fail "could not remove $d"
    fi
done
# Their logs (terminal logs, debug files, stderr: all ours) go whole, with --logs.
if [[ -d $standalone_dir/logs ]]; then
    if [[ $remove_logs == 0 ]]; then
        say "kept log directory $standalone_dir/logs (./cleanup.sh --logs removes it)"
    elif [[ $dry_run == 1 ]]; then
        act "would remove log directory $standalone_dir/logs"
    elif rm -rf -- "$standalone_dir/logs"; then
        act "removed log directory $standalone_dir/logs"
    else
        fail "could not remove $standalone_dir/logs"
    fi
fi
# --- 6. logs -------------------------------------------------------------------------------------------------
if [[ $remove_logs == 0 ]]; then
    # Remember the kept log directories (only those not listed yet: a second run changes nothing).
    for d in "${log_dirs[@]}"; do
        grep -qxF -- "$d" "$kept_logs_file" 2>/dev/null && continue
        if [[ $dry_run == 1 ]]; then
            say "would keep log directory $d (listed in $kept_logs_file)"
        else
            mkdir -p -- "$root" && printf '%s\n' "$d" >>"$kept_logs_file"
            say "kept log directory $d (listed in $kept_logs_file; ./cleanup.sh --logs removes it)"
        fi
    done
else
    for d in "${log_dirs[@]}"; do
        files=("$d"/*.log "$d"/*.log.* "$d"/*.events.jsonl "$d"/*.events.jsonl.*)
        others=()
        for f in "$d"/* "$d"/.[!.]*; do
            case "${f##*/}" in *.log|*.log.*|*.events.jsonl|*.events.jsonl.*) ;; *) others+=("$f") ;; esac
        done
        if [[ $dry_run == 1 ]]; then
            act "would remove log directory $d (${#files[@]} files)"
            continue
        fi
        rm -f -- "${files[@]}"
        if [[ ${#others[@]} -eq 0 ]] && rmdir -- "$d" 2>/dev/null; then
            act "removed log directory $d (${#files[@]} files)"
            parent=${d%/*}
            [[ -n $parent ]] && rmdir -- "$parent" 2>/dev/null && act "removed empty log root $parent" || true
        else
            act "removed ${#files[@]} log files from $d (kept the directory: it holds files supervisor did not make)"
        fi
    done
    if [[ -f $kept_logs_file ]]; then
        if [[ $dry_run == 1 ]]; then
            act "would remove $kept_logs_file"
        else
            rm -f -- "$kept_logs_file" && act "removed $kept_logs_file"
        fi
    fi
fi
if [[ $dry_run == 0 ]]; then
    # The root and its profiles/ and standalone/ folders go too when nothing else lives there.
    rmdir -- "$profiles_dir" 2>/dev/null && act "removed $profiles_dir" || true
    rmdir -- "$standalone_dir" 2>/dev/null && act "removed $standalone_dir" || true
    rmdir -- "$root" 2>/dev/null && act "removed $root" || true
fi

# --- summary -----------------------------------------------------------------------------------------------
if [[ $actions -eq 0 && $failures -eq 0 ]]; then
    say "nothing to clean up (state root $root)"
fi
if [[ $dry_run == 0 && $docker_ok == 0 ]] && command -v docker >/dev/null 2>&1; then
    say "note: docker does not answer; containers (if any) were not checked"
fi
[[ $failures -eq 0 ]] || exit 1
exit 0
