#!/usr/bin/env bash
# The local OpenID provider: Keycloak's distribution from Maven Central, built once for
# development (its file-backed H2 store, a local cache, HTTP on loopback), with the realm
# of deploy/local/oidc/realm.json imported at start.
# Needs Java 21 or newer (found on JAVA_HOME, the PATH or under /usr/lib/jvm; KEYCLOAK_JAVA
# names one). See docs/oidc.md.
# Usage: oidc.sh install|start|stop|status|issuer|java
# OIDC_PORT (18080) and OIDC_HOME ($STATE/oidc) move it.
source "$(dirname "$0")/common.sh"

KEYCLOAK_VERSION=26.7.3
# From Maven Central's keycloak-quarkus-dist-26.7.3.zip.sha1; checked after every download.
KEYCLOAK_SHA1=1e21a7f572581692aacb379dbba8413f99b67208
OIDC_PORT="${OIDC_PORT:-18080}"
OIDC_MANAGEMENT_PORT="${OIDC_MANAGEMENT_PORT:-$((OIDC_PORT + 1))}"
OIDC_HEAP="${OIDC_HEAP:-512m}"
REALM=privacy
HOME_DIR="${OIDC_HOME:-$STATE/oidc}"
DIST="$HOME_DIR/keycloak-$KEYCLOAK_VERSION"
ZIP="$HOME_DIR/download/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
PIDFILE="$HOME_DIR/oidc.pid"
LOG="$HOME_DIR/oidc.log"
POM="$ROOT/deploy/local/oidc/pom.xml"
REALM_FILE="$ROOT/deploy/local/oidc/realm.json"
ISSUER="http://127.0.0.1:$OIDC_PORT/realms/$REALM"

# java_major DIR: the feature version of the JDK or JRE in DIR (0 when it cannot be told).
java_major() {
  local version
  if [ -f "$1/release" ]; then
    version=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release")
  else
    version=$("$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
  fi
  echo "${version:-0}"
}

# find_java: a Java home of version 21 or newer, the newest of those found.
find_java() {
  local candidates=() best="" best_major=0 dir major
  [ -n "${KEYCLOAK_JAVA:-}" ] && candidates+=("$KEYCLOAK_JAVA")
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for dir in /usr/lib/jvm/*; do [ -d "$dir" ] && candidates+=("$dir"); done
  for dir in "${candidates[@]}"; do
    [ -x "$dir/bin/java" ] || continue
    major=$(java_major "$dir")
    if [ -n "${KEYCLOAK_JAVA:-}" ] && [ "$dir" = "$KEYCLOAK_JAVA" ]; then best=$dir; best_major=$major; break; fi
    if [ "$major" -gt "$best_major" ]; then best=$dir; best_major=$major; fi
  done
  [ "$best_major" -ge 21 ] || return 1
  echo "$best"
}

install() {
  if [ -f "$DIST/.complete" ]; then return; fi
  command -v mvn >/dev/null || die "Maven (mvn) is missing; install it with 'apt-get install maven'."
  if [ ! -f "$ZIP" ] || [ "$(sha1sum "$ZIP" | cut -d' ' -f1)" != "$KEYCLOAK_SHA1" ]; then
    say "fetching Keycloak $KEYCLOAK_VERSION from Maven Central (first run only, 170 MB)..."
    rm -rf "$HOME_DIR/download"
    mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeTypes=zip \
        -DoutputDirectory="$HOME_DIR/download" \
      || die "mvn could not fetch Keycloak's distribution (see the output above)."
  fi
  local sum; sum=$(sha1sum "$ZIP" | cut -d' ' -f1)
  if [ "$sum" != "$KEYCLOAK_SHA1" ]; then
    rm -f "$ZIP"
    die "Keycloak's zip had SHA-1 $sum, not $KEYCLOAK_SHA1; it was removed, try again."
  fi
  say "unpacking Keycloak into $DIST"
  rm -rf "$DIST" "$HOME_DIR/unpack"
  mkdir -p "$HOME_DIR/unpack"
  if command -v unzip >/dev/null; then unzip -q "$ZIP" -d "$HOME_DIR/unpack"
  else python3 -m zipfile -e "$ZIP" "$HOME_DIR/unpack"; fi
  mv "$HOME_DIR/unpack/keycloak-$KEYCLOAK_VERSION" "$DIST"
  rm -rf "$HOME_DIR/unpack"
  chmod +x "$DIST"/bin/*.sh
  touch "$DIST/.complete"
}

# Keycloak's build step (Quarkus's augmentation) once, with the build-time options, so that
# every start is a plain 'start --optimized' rather than a minutes-long rebuild.
BUILD_OPTIONS=(--db=dev-file --cache=local --health-enabled=true)
build() {
  local stamp="${BUILD_OPTIONS[*]}"
  if [ "$(cat "$DIST/.built" 2>/dev/null)" = "$stamp" ]; then return; fi
  local java_home; java_home=$(find_java) || die "Keycloak needs Java 21 or newer and none was found."
  say "building Keycloak's server for this use (once)..."
  JAVA_HOME="$java_home" bash "$DIST/bin/kc.sh" build "${BUILD_OPTIONS[@]}" >"$HOME_DIR/build.log" 2>&1 \
    || { tail -n 20 "$HOME_DIR/build.log" >&2; die "Keycloak's build failed; its log is $HOME_DIR/build.log."; }
  echo "$stamp" > "$DIST/.built"
}

ready() { curl -sf -o /dev/null "$ISSUER/.well-known/openid-configuration"; }

start() {
  # One start at a time: a second caller (another test worker, another terminal) waits for
  # the first to finish, then finds it running. Keycloak itself must not inherit the lock
  # (9>&- below), or every later start would wait for as long as it runs.
  exec 9>"$STATE/oidc.start.lock"
  flock 9
  if pid_alive "$PIDFILE"; then say "already running (pid $(cat "$PIDFILE")) at $ISSUER"; return; fi
  local java_home
  java_home=$(find_java) || die "Keycloak needs Java 21 or newer and none was found (KEYCLOAK_JAVA, JAVA_HOME, java on the PATH, /usr/lib/jvm); install one, e.g. 'apt-get install openjdk-21-jre-headless' where Debian has it."
  command -v curl >/dev/null || die "curl is missing; install it with 'apt-get install curl'."
  local port
  for port in "$OIDC_PORT" "$OIDC_MANAGEMENT_PORT"; do
    port_open "$port" && die "port $port is taken by another program; stop it or set OIDC_PORT."
  done
  install
  build
  # The realm is imported into an empty store: a changed realm.json starts from a new one.
  local stamp; stamp=$(sha1sum "$REALM_FILE" | cut -d' ' -f1)
  if [ "$(cat "$HOME_DIR/realm.sha1" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$DIST/data/h2"
    mkdir -p "$DIST/data/import"
    cp "$REALM_FILE" "$DIST/data/import/realm.json"
    echo "$stamp" > "$HOME_DIR/realm.sha1"
  fi
  say "starting Keycloak $KEYCLOAK_VERSION (Java $(java_major "$java_home")) at $ISSUER"
  # A modest heap: two cores and a few gigabytes are shared with Kafka, PostgreSQL and the
  # services. Built for HTTP on loopback, a local cache (no cluster discovery) and the H2
  # file store of development: a provider for development and tests, not production.
  # C1 only (TieredStopAtLevel=1): a quicker start on two busy cores; a development
  # provider's few requests do not need C2's peak speed.
  JAVA_HOME="$java_home" JAVA_OPTS_KC_HEAP="-Xms64m -Xmx$OIDC_HEAP" \
    JAVA_OPTS_APPEND="-XX:TieredStopAtLevel=1" \
    nohup bash "$DIST/bin/kc.sh" start --optimized \
      --http-enabled=true --http-host=127.0.0.1 --http-port="$OIDC_PORT" \
      --http-management-port="$OIDC_MANAGEMENT_PORT" \
      --hostname="http://127.0.0.1:$OIDC_PORT" \
      --import-realm --log-level=warn,org.keycloak.services:info \
      >"$LOG" 2>&1 </dev/null 9>&- &
  echo $! > "$PIDFILE"
  local began=$SECONDS deadline=$((SECONDS + ${OIDC_START_SECONDS:-240}))
  until ready; do
    if ! pid_alive "$PIDFILE" || [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$LOG" >&2; stop; die "Keycloak did not start; its log is $LOG."
    fi
    sleep 0.5
  done
  say "ready in $((SECONDS - began)) s"
}

stop() {
  # kc.sh runs Java as its child: stop the pair, Java first.
  if pid_alive "$PIDFILE"; then
    local child
    for child in $(pgrep -P "$(cat "$PIDFILE")" 2>/dev/null); do kill "$child" 2>/dev/null || true; done
  fi
  stop_pid "$PIDFILE" "Keycloak"
}

status() {
  if pid_alive "$PIDFILE"; then echo "oidc: running (pid $(cat "$PIDFILE")) at $ISSUER"
  else echo "oidc: stopped"; fi
}

case "${1:-}" in
  install) install; if find_java >/dev/null; then build; fi ;; start) start ;; stop) stop ;; status) status ;;
  issuer) echo "$ISSUER" ;;
  java) find_java || die "Keycloak needs Java 21 or newer and none was found" ;;
  *) echo "usage: $0 install|start|stop|status|issuer|java" >&2; exit 2 ;;
esac
