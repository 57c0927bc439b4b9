#!/usr/bin/env bash
# PostgreSQL 15 from Debian's packages, in a git-ignored data directory, on loopback.
# Runs as the 'postgres' user when started by root (PostgreSQL refuses root).
# Every start (also of a cluster already running) applies deploy/sql/roles.sql: the owner
# role that migrates, one role per service (docs/database-roles.md).
# Usage: postgres.sh start|stop|status|roles
source "$(dirname "$0")/common.sh"

PG_HOME="$STATE/postgres"
DATA="$PG_HOME/data"
PIDFILE="$PG_HOME/postgres.pid"
LOG="$PG_HOME/postgres.log"
SUPERUSER_FILE="$PG_HOME/superuser"
ROLES_SQL="$ROOT/deploy/sql/roles.sql"
DB_NAME="${PG_DATABASE:-privacy}"

# The bootstrap superuser, used by these scripts only: 'postgres' on a cluster made by
# this script (recorded at initdb), the old script's 'privacy' (or its PG_USER) on a
# cluster made before the roles existed. Its password locally is its name.
superuser() {
  if [ -n "${PG_SUPERUSER:-}" ]; then echo "$PG_SUPERUSER"
  elif [ -f "$SUPERUSER_FILE" ]; then cat "$SUPERUSER_FILE"
  elif [ -f "$DATA/PG_VERSION" ]; then echo "${PG_USER:-privacy}"
  else echo postgres; fi
}
SUPERUSER=$(superuser)
SUPERUSER_PASSWORD="${PG_SUPERUSER_PASSWORD:-${PG_PASSWORD:-$SUPERUSER}}"

# as_super ARGS...: psql as the bootstrap superuser.
as_super() {
  PGPASSWORD="$SUPERUSER_PASSWORD" "$BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$SUPERUSER" "$@"
}

find_bin() {
  local dir
  for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/postgres" ]; then echo "$dir"; return; fi
  done
  return 1
}

ensure_installed() {
  if BIN=$(find_bin); then return; fi
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    say "installing PostgreSQL 15 from Debian's packages..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15) \
      >/dev/null || die "apt-get could not install postgresql-15."
    BIN=$(find_bin) || die "postgresql-15 installed but its binaries are not in /usr/lib/postgresql."
  else
    die "PostgreSQL 15 is missing; install it with 'sudo apt-get install postgresql-15'."
  fi
}

# as_pg CMD...: run CMD as the user that owns the cluster.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ready() { as_pg "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

start() {
  ensure_installed
  if pid_alive "$PIDFILE" && ready; then
    say "already running (pid $(cat "$PIDFILE"))"
    roles
    return
  fi
  if port_open "$PG_PORT"; then
    die "port $PG_PORT is taken by another program; stop it or set PG_PORT."
  fi
  mkdir -p "$PG_HOME"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "the 'postgres' user is missing; reinstall postgresql-15."
    chown postgres "$PG_HOME"
    # The postgres user must be able to reach the data directory through its parents.
    local dir="$PG_HOME"
    while [ "$dir" != "/" ]; do
      runuser -u postgres -- test -x "$dir" || chmod o+x "$dir"
      dir=$(dirname "$dir")
    done
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    say "creating the database cluster in $DATA"
    local pwfile="$PG_HOME/.pw"
    echo "$SUPERUSER_PASSWORD" > "$pwfile"
    [ "$(id -u)" -ne 0 ] || chown postgres "$pwfile"
    as_pg "$BIN/initdb" -D "$DATA" -U "$SUPERUSER" --pwfile="$pwfile" -E UTF8 --locale=C \
      --auth-local=scram-sha-256 --auth-host=scram-sha-256 >/dev/null \
      || die "initdb failed."
    rm -f "$pwfile"
    echo "$SUPERUSER" > "$SUPERUSER_FILE"
    cat >> "$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_HOME'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
CONF
  fi
  say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null \
    || { tail -n 20 "$LOG" >&2; die "PostgreSQL did not start; its log is $LOG."; }
  head -n 1 "$DATA/postmaster.pid" > "$PIDFILE"
  wait_for 30 "PostgreSQL" ready || die "PostgreSQL does not answer on port $PG_PORT."
  roles
}

# roles: the database and the roles of deploy/sql/roles.sql, on the running cluster.
roles() {
  BIN=${BIN:-$(find_bin)} || die "PostgreSQL 15 is missing."
  as_super -d postgres -tAc "SELECT 1" >/dev/null 2>&1 \
    || die "cannot log in as the superuser '$SUPERUSER' on port $PG_PORT; set PG_SUPERUSER and PG_SUPERUSER_PASSWORD."
  if ! as_super -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'" | grep -q 1; then
    as_super -d postgres -c "CREATE DATABASE \"$DB_NAME\"" || die "could not create database $DB_NAME."
  fi
  as_super -d "$DB_NAME" -f "$ROLES_SQL" || die "could not set up the roles ($ROLES_SQL)."
  say "roles ready: privacy_owner (migrations), registry, consent, audit, breach, notifier, detection"
}

stop() {
  if pid_alive "$PIDFILE"; then
    BIN=$(find_bin) || true
    if [ -n "${BIN:-}" ]; then as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true; fi
  fi
  stop_pid "$PIDFILE" "PostgreSQL"
}

status() {
  if pid_alive "$PIDFILE"; then echo "postgres: running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PG_PORT"
  else echo "postgres: stopped"; fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  roles) ensure_installed; pid_alive "$PIDFILE" || die "PostgreSQL is not running; start it first."; roles ;;
  *) echo "usage: $0 start|stop|status|roles" >&2; exit 2 ;;
esac
