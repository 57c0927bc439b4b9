#!/usr/bin/env bash
# The five services as background processes, logs in .local/logs.
# Usage: [REPLICAS=N] services.sh start|stop|status
#
# REPLICAS=2 (or more) starts that many copies of each service, sharing its schema:
# replica 0 on the usual ports (8001-8005), replica r on those plus 100*r (8101-8105 ...).
# The registry's replica r asks the consent service's replica r, breach's asks audit's.
source "$(dirname "$0")/common.sh"

SERVICES=(registry consent audit breach notifier)
declare -A PORTS=([registry]=8001 [consent]=8002 [audit]=8003 [breach]=8004 [notifier]=8005)
REPLICAS="${REPLICAS:-1}"
[[ "$REPLICAS" =~ ^[1-9][0-9]*$ ]] || die "REPLICAS must be a whole number of at least 1, not '$REPLICAS'."
RUN="$STATE/run"
LOGS="$STATE/logs"
PY="$ROOT/.venv/bin/python"
mkdir -p "$RUN" "$LOGS"

ready() { curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null; }
port_of() { echo $(( ${PORTS[$1]} + 100 * $2 )); }
# Replica 0 keeps the names a single copy always had.
label() { if [ "$2" -eq 0 ]; then echo "$1"; else echo "$1-$2"; fi; }

start() {
  cd "$ROOT"
  [ -x "$PY" ] || die "the virtualenv is missing; run 'make venv' first."
  bash "$ROOT/deploy/local/smtp.sh" start  # the notifier's local mail server
  local name port r id
  for r in $(seq 0 $((REPLICAS - 1))); do
    for name in "${SERVICES[@]}"; do
      port=$(port_of "$name" "$r"); id=$(label "$name" "$r")
      if pid_alive "$RUN/$id.pid"; then continue; fi
      if port_open "$port"; then die "port $port (for $id) is taken by another program."; fi
      local -a env=()
      if [ "$r" -gt 0 ]; then
        env=("${name^^}_HTTP_PORT=$port")
        case $name in
          registry) env+=("REGISTRY_CONSENT_URL=http://127.0.0.1:$(port_of consent "$r")") ;;
          breach) env+=("BREACH_AUDIT_URL=http://127.0.0.1:$(port_of audit "$r")") ;;
        esac
      fi
      nohup env "${env[@]}" "$PY" -m "services.$name.main" >"$LOGS/$id.log" 2>&1 </dev/null &
      echo $! > "$RUN/$id.pid"
    done
  done
  for r in $(seq 0 $((REPLICAS - 1))); do
    for name in "${SERVICES[@]}"; do
      port=$(port_of "$name" "$r"); id=$(label "$name" "$r")
      if ! wait_for 60 "$id" ready "$port"; then
        tail -n 20 "$LOGS/$id.log" >&2
        die "$id did not become ready on port $port; its log is $LOGS/$id.log."
      fi
    done
  done
}

# Every replica that has a pid file, whatever REPLICAS says now.
replicas_of() {
  local name=$1 file
  echo "$name"
  for file in "$RUN/$name"-*.pid; do
    [ -e "$file" ] && basename "$file" .pid
  done
  return 0
}

stop() {
  local name id
  for name in "${SERVICES[@]}"; do
    for id in $(replicas_of "$name"); do stop_pid "$RUN/$id.pid" "$id"; done
  done
}

status() {
  local name id port r state
  for name in "${SERVICES[@]}"; do
    for id in $(replicas_of "$name"); do
      r=${id#"$name"}; r=${r#-}; r=${r:-0}
      port=$(port_of "$name" "$r")
      if pid_alive "$RUN/$id.pid"; then
        if ready "$port"; then state="ready"; else state="running, not ready"; fi
        printf '%-11s %s (pid %s) http://127.0.0.1:%s  docs: /docs  events: /asyncapi\n' \
          "$id:" "$state" "$(cat "$RUN/$id.pid")" "$port"
      elif [ "$r" -eq 0 ]; then
        printf '%-11s stopped\n' "$id:"
      fi
    done
  done
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: [REPLICAS=N] $0 start|stop|status" >&2; exit 2 ;;
esac
