#!/usr/bin/env bash
# The five services, detection and the web console as background processes, logs in
# .local/logs.
# Usage: [REPLICAS=N] [SERVICES="a b"] [PORT_OFFSET=N] services.sh start|stop|status
#
# REPLICAS=2 (or more) starts that many copies of each service, sharing its schema:
# replica 0 on the usual ports (8001-8005), replica r on those plus 100*r (8101-8105 ...).
# The registry's replica r asks the consent service's replica r, breach's asks audit's.
# Detection (8007) runs as one process whatever REPLICAS says: it counts each
# organisation's reads in memory, and the stream is partitioned by person, not by
# organisation (docs/detection.md).
# SERVICES names some of them (the SMTP server starts with the notifier); the console
# (8006) keeps no data and asks the others with the signed-in person's token;
# PORT_OFFSET moves every port by that much (a second stack beside the usual one).
#
# start starts what is not running. A service killed a moment ago is not running, even
# while its pid is a zombie nobody reaped yet or it is still on its way out: start waits
# (up to 30 s) for the old process to be gone, then starts a new one.
source "$(dirname "$0")/common.sh"

declare -A PORTS=([registry]=8001 [consent]=8002 [audit]=8003 [breach]=8004 [notifier]=8005 [console]=8006 [detection]=8007)
read -r -a SERVICES <<<"${SERVICES:-registry consent audit breach notifier detection console}"
for name in "${SERVICES[@]}"; do
  [ -n "${PORTS[$name]:-}" ] || die "SERVICES: '$name' is none of ${!PORTS[*]}."
done
REPLICAS="${REPLICAS:-1}"
[[ "$REPLICAS" =~ ^[1-9][0-9]*$ ]] || die "REPLICAS must be a whole number of at least 1, not '$REPLICAS'."
PORT_OFFSET="${PORT_OFFSET:-0}"
[[ "$PORT_OFFSET" =~ ^[0-9]+$ ]] || die "PORT_OFFSET must be a whole number, not '$PORT_OFFSET'."
RUN="$STATE/run"
LOGS="$STATE/logs"
PY="$ROOT/.venv/bin/python"
mkdir -p "$RUN" "$LOGS"

ready() { curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null; }
port_of() { echo $(( ${PORTS[$1]} + 100 * $2 + PORT_OFFSET )); }
# Replica 0 keeps the names a single copy always had.
label() { if [ "$2" -eq 0 ]; then echo "$1"; else echo "$1-$2"; fi; }

start() {
  cd "$ROOT"
  [ -x "$PY" ] || die "the virtualenv is missing; run 'make venv' first."
  if [[ " ${SERVICES[*]} " == *" notifier "* ]]; then
    bash "$ROOT/deploy/local/smtp.sh" start  # the notifier's local mail server
  fi
  local name port r id
  for r in $(seq 0 $((REPLICAS - 1))); do
    for name in "${SERVICES[@]}"; do
      if [ "$name" = detection ] && [ "$r" -gt 0 ]; then continue; fi
      port=$(port_of "$name" "$r"); id=$(label "$name" "$r")
      if pid_alive "$RUN/$id.pid"; then continue; fi
      if ! wait_for 30 "$id to exit" pid_gone "$RUN/$id.pid"; then
        die "$id (pid $(cat "$RUN/$id.pid")) is still exiting after 30 s; try again, or kill -9 it."
      fi
      if port_open "$port"; then die "port $port (for $id) is taken by another program."; fi
      local -a env=()
      if [ "$port" -ne "${PORTS[$name]}" ]; then
        env=("${name^^}_HTTP_PORT=$port")
        case $name in
          registry) env+=("REGISTRY_CONSENT_URL=http://127.0.0.1:$(port_of consent "$r")") ;;
          breach) env+=("BREACH_AUDIT_URL=http://127.0.0.1:$(port_of audit "$r")") ;;
          console)
            for other in registry consent audit breach notifier; do
              env+=("CONSOLE_${other^^}_URL=http://127.0.0.1:$(port_of "$other" "$r")")
            done ;;
        esac
      fi
      nohup env "${env[@]}" "$PY" -m "services.$name.main" >"$LOGS/$id.log" 2>&1 </dev/null &
      echo $! > "$RUN/$id.pid"
    done
  done
  for r in $(seq 0 $((REPLICAS - 1))); do
    for name in "${SERVICES[@]}"; do
      if [ "$name" = detection ] && [ "$r" -gt 0 ]; then continue; fi
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
        if [ "$name" = console ]; then
          printf '%-11s %s (pid %s) http://127.0.0.1:%s  sign in: see below\n' \
            "$id:" "$state" "$(cat "$RUN/$id.pid")" "$port"
        else
          printf '%-11s %s (pid %s) http://127.0.0.1:%s  docs: /docs  events: /asyncapi\n' \
            "$id:" "$state" "$(cat "$RUN/$id.pid")" "$port"
        fi
      elif [ "$r" -eq 0 ]; then
        printf '%-11s stopped\n' "$id:"
      fi
    done
  done
}

# How to sign in to the console as each role (development tokens of the stack's secret).
signin_help() {
  [[ " ${SERVICES[*]} " == *" console "* ]] || return 0
  cat <<EOT

The console: http://127.0.0.1:$(port_of console 0)/ (docs/console.md). Sign in by pasting a token:
  security team:  make token ROLE=security
  auditor:        make token ROLE=auditor
  administrator:  make token ROLE=admin
  data subject:   make token ROLE=subject USER_ID=<a user id>
  member org.:    make token ROLE=member_org ORG_ID=<slug>   (no console pages: a 403 says so)
EOT
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status; signin_help ;;
  *) echo "usage: [REPLICAS=N] $0 start|stop|status" >&2; exit 2 ;;
esac
