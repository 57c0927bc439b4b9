#!/usr/bin/env bash
# Apache Kafka 4.x, one KRaft node on loopback. Jars from Maven Central via mvn.
# Usage: kafka.sh start|stop|status
source "$(dirname "$0")/common.sh"

HOME_DIR="$STATE/kafka"
LIB="$HOME_DIR/lib"
DATA="$HOME_DIR/data"
PIDFILE="$HOME_DIR/kafka.pid"
LOG="$HOME_DIR/kafka.log"
POM="$ROOT/deploy/local/kafka/pom.xml"

fetch_jars() {
  if [ -f "$LIB/.complete" ] && [ "$LIB/.complete" -nt "$POM" ]; then return; fi
  command -v mvn >/dev/null || die "Maven (mvn) is missing; install it with 'apt-get install maven'."
  say "fetching the Kafka broker's jars from Maven Central (first run only)..."
  rm -rf "$LIB"
  mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$LIB" || die "mvn could not fetch Kafka's jars (see the output above)."
  touch "$LIB/.complete"
}

write_config() {
  mkdir -p "$DATA"
  cat > "$HOME_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
PROPS
  cat > "$HOME_DIR/log4j2.properties" <<'PROPS'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka.server.KafkaRaftServer
logger.kafka.level = info
PROPS
}

# A modest heap: the machines running this have two cores and share them with Postgres.
JAVA_OPTS=(-Xms256m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20
           "-Dlog4j2.configurationFile=$HOME_DIR/log4j2.properties" -cp "$LIB/*")
java_cmd() { java "${JAVA_OPTS[@]}" "$@"; }

start() {
  if pid_alive "$PIDFILE"; then say "already running (pid $(cat "$PIDFILE"))"; return; fi
  command -v java >/dev/null || die "Java 17 is missing; install it with 'apt-get install openjdk-17-jre-headless'."
  if port_open "$KAFKA_PORT"; then
    die "port $KAFKA_PORT is taken by another program; stop it or set KAFKA_PORT."
  fi
  fetch_jars
  write_config
  if [ ! -f "$DATA/meta.properties" ]; then
    local cluster_id; cluster_id=$(java_cmd kafka.tools.StorageTool random-uuid | tail -n 1)
    java_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$HOME_DIR/server.properties" \
      >/dev/null || die "Kafka's storage tool could not format $DATA."
  fi
  say "starting Kafka on 127.0.0.1:$KAFKA_PORT"
  # Every partition holds a few files open; a broker that many test runs' topics passed
  # through ran out at the soft limit ("Too many open files") and stopped.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  nohup java "${JAVA_OPTS[@]}" kafka.Kafka "$HOME_DIR/server.properties" >"$LOG" 2>&1 &
  echo $! > "$PIDFILE"
  wait_for 90 "Kafka" port_open "$KAFKA_PORT" || { tail -n 30 "$LOG" >&2; die "Kafka did not start; its log is $LOG."; }
}

stop() { stop_pid "$PIDFILE" "Kafka"; }

status() {
  if pid_alive "$PIDFILE"; then echo "kafka: running (pid $(cat "$PIDFILE")) on 127.0.0.1:$KAFKA_PORT"
  else echo "kafka: stopped"; fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
