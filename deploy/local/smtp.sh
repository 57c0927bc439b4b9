#!/usr/bin/env bash
# The local SMTP server (aiosmtpd) for the demo: messages kept in a Maildir,
# failures on demand by a control file. See deploy/local/smtp_server.py.
# Usage: smtp.sh start|stop|status
source "$(dirname "$0")/common.sh"

SMTP_PORT="${SMTP_PORT:-2525}"
SMTP_HOME="$STATE/smtp"
MAILDIR="$SMTP_HOME/maildir"
PIDFILE="$SMTP_HOME/smtp.pid"
LOG="$SMTP_HOME/smtp.log"
PY="$ROOT/.venv/bin/python"

start() {
  [ -x "$PY" ] || die "the virtualenv is missing; run 'make venv' first."
  if pid_alive "$PIDFILE"; then say "already running (pid $(cat "$PIDFILE"))"; return; fi
  if port_open "$SMTP_PORT"; then
    die "port $SMTP_PORT is taken by another program; stop it or set SMTP_PORT."
  fi
  mkdir -p "$MAILDIR"
  say "starting the SMTP server on 127.0.0.1:$SMTP_PORT (mail in $MAILDIR)"
  nohup "$PY" "$ROOT/deploy/local/smtp_server.py" --port "$SMTP_PORT" --dir "$MAILDIR" \
    >>"$LOG" 2>&1 &
  echo $! > "$PIDFILE"
  # Not by probing the port: a probe would count as a session in the server's figures.
  rm -f "$MAILDIR/stats.json"
  wait_for 20 "the SMTP server" grep -q '"listening": true' "$MAILDIR/stats.json" \
    || { tail -n 20 "$LOG" >&2; die "the SMTP server did not start; its log is $LOG."; }
}

stop() { stop_pid "$PIDFILE" "the SMTP server"; }

status() {
  if pid_alive "$PIDFILE"; then
    say "running (pid $(cat "$PIDFILE")) on 127.0.0.1:$SMTP_PORT; $(ls "$MAILDIR/new" | wc -l) messages in $MAILDIR/new"
  else
    say "not running"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
