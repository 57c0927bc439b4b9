#!/usr/bin/env bash
# The five services as background processes, logs in .local/logs.
# Usage: services.sh start|stop|status
source "$(dirname "$0")/common.sh"

SERVICES=(registry consent audit breach notifier)
declare -A PORTS=([registry]=8001 [consent]=8002 [audit]=8003 [breach]=8004 [notifier]=8005)
RUN="$STATE/run"
LOGS="$STATE/logs"
PY="$ROOT/.venv/bin/python"
mkdir -p "$RUN" "$LOGS"

ready() { curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null; }

start() {
  cd "$ROOT"
  [ -x "$PY" ] || die "the virtualenv is missing; run 'make venv' first."
  bash "$ROOT/deploy/local/smtp.sh" start  # the notifier's local mail server
  local name port
  for name in "${SERVICES[@]}"; do
    port=${PORTS[$name]}
    if pid_alive "$RUN/$name.pid"; then continue; fi
    if port_open "$port"; then die "port $port (for $name) is taken by another program."; fi
    nohup "$PY" -m "services.$name.main" >"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! > "$RUN/$name.pid"
  done
  for name in "${SERVICES[@]}"; do
    port=${PORTS[$name]}
    if ! wait_for 60 "$name" ready "$port"; then
      tail -n 20 "$LOGS/$name.log" >&2
      die "$name did not become ready on port $port; its log is $LOGS/$name.log."
    fi
  done
}

stop() {
  local name
  for name in "${SERVICES[@]}"; do stop_pid "$RUN/$name.pid" "$name"; done
}

status() {
  local name port
  for name in "${SERVICES[@]}"; do
    port=${PORTS[$name]}
    if pid_alive "$RUN/$name.pid"; then
      if ready "$port"; then state="ready"; else state="running, not ready"; fi
      printf '%-9s %s (pid %s) http://127.0.0.1:%s  docs: /docs  events: /asyncapi\n' \
        "$name:" "$state" "$(cat "$RUN/$name.pid")" "$port"
    else
      printf '%-9s stopped\n' "$name:"
    fi
  done
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
