# Shared by the local infrastructure scripts. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${PRIVACY_LOCAL_DIR:-$ROOT/.local}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
PG_PORT="${PG_PORT:-15432}"
mkdir -p "$STATE"

die() { echo "error: $*" >&2; exit 1; }
say() { echo "[$(basename "$0" .sh)] $*"; }

# pid_state PID: "alive"; "dying" (killed or exiting, it will not serve again); or "gone"
# (no such process, or a zombie: dead, and only waiting for a parent to reap it, which
# an orphan's may do late or never). kill -0 succeeds on a zombie and on a dying process,
# so a service killed -9 a second ago used to count as running.
pid_state() {
  local pid=$1 stat state flags mask
  kill -0 "$pid" 2>/dev/null || { echo gone; return 0; }
  if stat=$(cat "/proc/$pid/stat" 2>/dev/null); then
    # After the command name, which may hold spaces and parentheses: state, ppid, pgrp,
    # session, tty, tpgid, flags.
    read -r state _ _ _ _ _ flags _ <<<"${stat##*) }"
    case $state in Z | X | x) echo gone; return 0 ;; esac
    if (( flags & 0x4 )); then echo dying; return 0; fi  # PF_EXITING: on its way out
    # SIGKILL (signal 9: bit 8) sent and not yet acted on.
    for mask in $(awk '/^(SigPnd|ShdPnd):/ {print $2}' "/proc/$pid/status" 2>/dev/null); do
      if (( (16#$mask >> 8) & 1 )); then echo dying; return 0; fi
    done
    echo alive; return 0
  fi
  # No /proc (macOS): ps tells a zombie.
  case "$(ps -o stat= -p "$pid" 2>/dev/null)" in
    "" | Z*) echo gone ;;
    *) echo alive ;;
  esac
}

# pid_alive FILE: the pid recorded in FILE is a running process, neither dying nor a zombie.
pid_alive() { [ -f "$1" ] && [ "$(pid_state "$(cat "$1")")" = alive ]; }

# pid_gone FILE: the process recorded in FILE (if any) is gone, not merely dying.
pid_gone() { [ ! -f "$1" ] || [ "$(pid_state "$(cat "$1")")" = gone ]; }

# port_open PORT: something listens on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND until it succeeds.
wait_for() {
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}

# stop_pid FILE NAME: stop the process recorded in FILE, politely then firmly.
stop_pid() {
  local file=$1 name=$2
  if pid_alive "$file"; then
    local pid; pid=$(cat "$file")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do [ "$(pid_state "$pid")" = gone ] && break; sleep 0.5; done
    if [ "$(pid_state "$pid")" = alive ]; then kill -9 "$pid" 2>/dev/null || true; fi
    say "$name stopped (pid $pid)"
  fi
  rm -f "$file"
}
