#!/usr/bin/env bash
# Apache Kafka 4.x in KRaft mode on loopback: one node by default, or a cluster of
# KAFKA_NODES combined broker+controller nodes. Jars from Maven Central via mvn.
# Usage: [KAFKA_NODES=N] kafka.sh start|stop|status
#        KAFKA_NODES=N kafka.sh start-node|stop-node|kill-node|wipe-node I   (one node, 1..N)
#        KAFKA_NODES=N kafka.sh controller   (the node id of the active controller)
#
# One node (the default, what `make demo` and `make test` use): broker on KAFKA_PORT
# (19092), controller on KAFKA_CONTROLLER_PORT (19093), data in $STATE/kafka/data.
# A cluster (KAFKA_NODES=3, what the fault suite runs on): node i (1..N) listens on
# KAFKA_PORT + 2(i-1) and KAFKA_CONTROLLER_PORT + 2(i-1), keeps its data in
# $STATE/kafka-cluster/node-i, has a small heap (KAFKA_HEAP, 384m), and the cluster's
# defaults are replication factor min(N, 3) with min.insync.replicas one less (at least 1),
# internal topics included. kill-node sends SIGKILL (a crashed machine); wipe-node deletes a
# stopped node's data directory (a lost disk): its next start formats it again, empty, with
# the cluster's id, and it copies back its replicas from the others.
source "$(dirname "$0")/common.sh"

KAFKA_NODES="${KAFKA_NODES:-1}"
[[ "$KAFKA_NODES" =~ ^[1-9]$ ]] || die "KAFKA_NODES must be a whole number from 1 to 9, not '$KAFKA_NODES'."
POM="$ROOT/deploy/local/kafka/pom.xml"
LIB="$STATE/kafka/lib"
if [ "$KAFKA_NODES" -eq 1 ]; then
  CLUSTER="$STATE/kafka"
  HEAP="${KAFKA_HEAP:-1g}"
else
  CLUSTER="$STATE/kafka-cluster"
  HEAP="${KAFKA_HEAP:-384m}"
fi
REPLICAS=$(( KAFKA_NODES < 3 ? KAFKA_NODES : 3 ))
MIN_ISR=$(( REPLICAS > 1 ? REPLICAS - 1 : 1 ))

# Per node: its directory (the single node keeps the layout it always had), ports, files.
node_home() { if [ "$KAFKA_NODES" -eq 1 ]; then echo "$CLUSTER"; else echo "$CLUSTER/node-$1"; fi; }
broker_port() { echo $(( KAFKA_PORT + 2 * ($1 - 1) )); }
controller_port() { echo $(( KAFKA_CONTROLLER_PORT + 2 * ($1 - 1) )); }
pidfile() { echo "$(node_home "$1")/kafka.pid"; }

check_node() {
  [[ "${1:-}" =~ ^[1-9]$ ]] && [ "$1" -le "$KAFKA_NODES" ] \
    || die "a node number from 1 to $KAFKA_NODES is needed, not '${1:-}'."
}

voters() {
  local i out=()
  for i in $(seq 1 "$KAFKA_NODES"); do out+=("$i@127.0.0.1:$(controller_port "$i")"); done
  local IFS=,; echo "${out[*]}"
}

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
  local node=$1 home; home=$(node_home "$node")
  mkdir -p "$home/data"
  cat > "$home/server.properties" <<PROPS
process.roles=broker,controller
node.id=$node
controller.quorum.voters=$(voters)
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$node"),CONTROLLER://127.0.0.1:$(controller_port "$node")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$node")
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$home/data
num.partitions=3
default.replication.factor=$REPLICAS
min.insync.replicas=$MIN_ISR
unclean.leader.election.enable=false
offsets.topic.replication.factor=$REPLICAS
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$REPLICAS
transaction.state.log.min.isr=$MIN_ISR
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$REPLICAS
share.coordinator.state.topic.min.isr=$MIN_ISR
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
PROPS
  cat > "$home/log4j2.properties" <<'PROPS'
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
java_opts() {
  local initial=256m; [ "$KAFKA_NODES" -eq 1 ] || initial=128m
  echo "-Xms$initial -Xmx$HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20"
}
# The storage and quorum tools: short-lived, so a small heap and no optimising compiler.
java_tool() {
  java -Xmx256m -XX:TieredStopAtLevel=1 "-Dlog4j2.configurationFile=$(node_home 1)/log4j2.properties" \
    -cp "$LIB/*" "$@"
}

cluster_id() {
  local file="$CLUSTER/cluster.id"
  if [ ! -s "$file" ]; then
    mkdir -p "$CLUSTER"
    java_tool kafka.tools.StorageTool random-uuid | tail -n 1 > "$file"
  fi
  cat "$file"
}

start_node() {
  local node=$1 home port; home=$(node_home "$node"); port=$(broker_port "$node")
  local pid_file; pid_file=$(pidfile "$node")
  if pid_alive "$pid_file"; then say "node $node already running (pid $(cat "$pid_file"))"; return; fi
  wait_for 30 "node $node to exit" pid_gone "$pid_file" || die "node $node is still exiting."
  if port_open "$port"; then
    die "port $port is taken by another program; stop it or set KAFKA_PORT."
  fi
  write_config "$node"
  if [ ! -f "$home/data/meta.properties" ]; then
    java_tool kafka.tools.StorageTool format -t "$(cluster_id)" -c "$home/server.properties" \
      >/dev/null || die "Kafka's storage tool could not format $home/data."
  fi
  if [ "$KAFKA_NODES" -eq 1 ]; then say "starting Kafka on 127.0.0.1:$port"
  else say "starting Kafka node $node on 127.0.0.1:$port"; fi
  # Every partition holds a few files open; a broker that many test runs' topics passed
  # through ran out at the soft limit ("Too many open files") and stopped.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  # shellcheck disable=SC2046
  nohup java $(java_opts) "-Dlog4j2.configurationFile=$home/log4j2.properties" -cp "$LIB/*" \
    kafka.Kafka "$home/server.properties" >"$home/kafka.log" 2>&1 &
  echo $! > "$pid_file"
}

# A node killed -9 recovers its logs before it listens: minutes on a loaded machine.
START_SECONDS="${KAFKA_START_SECONDS:-300}"

wait_node() {
  local node=$1
  wait_for "$START_SECONDS" "Kafka node $node" port_open "$(broker_port "$node")" || {
    tail -n 30 "$(node_home "$node")/kafka.log" >&2
    die "Kafka node $node did not start; its log is $(node_home "$node")/kafka.log."
  }
}

preflight() {
  command -v java >/dev/null || die "Java 17 is missing; install it with 'apt-get install openjdk-17-jre-headless'."
  fetch_jars
}

start() {
  preflight
  local i
  # All nodes first: a controller quorum of three needs two of them before any is ready.
  for i in $(seq 1 "$KAFKA_NODES"); do start_node "$i"; done
  for i in $(seq 1 "$KAFKA_NODES"); do wait_node "$i"; done
}

stop() {
  local i
  for i in $(seq 1 "$KAFKA_NODES"); do
    if [ "$KAFKA_NODES" -eq 1 ]; then stop_pid "$(pidfile 1)" "Kafka"
    else stop_pid "$(pidfile "$i")" "Kafka node $i"; fi
  done
}

status() {
  local i
  if [ "$KAFKA_NODES" -eq 1 ]; then
    if pid_alive "$(pidfile 1)"; then echo "kafka: running (pid $(cat "$(pidfile 1)")) on 127.0.0.1:$KAFKA_PORT"
    else echo "kafka: stopped"; fi
    return
  fi
  for i in $(seq 1 "$KAFKA_NODES"); do
    if pid_alive "$(pidfile "$i")"; then
      echo "kafka node $i: running (pid $(cat "$(pidfile "$i")")) on 127.0.0.1:$(broker_port "$i")"
    else echo "kafka node $i: stopped"; fi
  done
}

kill_node() {
  local file; file=$(pidfile "$1")
  if pid_alive "$file"; then
    kill -9 "$(cat "$file")" 2>/dev/null || true
    wait_for 30 "node $1 to die" pid_gone "$file" || die "node $1 did not die."
    say "node $1 killed (SIGKILL)"
  fi
  rm -f "$file"
}

wipe_node() {
  local home; home=$(node_home "$1")
  pid_gone "$(pidfile "$1")" || die "node $1 is running; stop or kill it before wiping its data."
  rm -rf "$home/data"
  say "node $1: data directory deleted"
}

controller() {
  local i out=()
  for i in $(seq 1 "$KAFKA_NODES"); do out+=("127.0.0.1:$(controller_port "$i")"); done
  local IFS=,
  java_tool org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-controller "${out[*]}" \
    describe --status | awk -F: '/^LeaderId/ {gsub(/ /, "", $2); print $2}'
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  start-node) check_node "${2:-}"; preflight; start_node "$2"; wait_node "$2" ;;
  stop-node) check_node "${2:-}"; stop_pid "$(pidfile "$2")" "Kafka node $2" ;;
  kill-node) check_node "${2:-}"; kill_node "$2" ;;
  wipe-node) check_node "${2:-}"; wipe_node "$2" ;;
  controller) preflight; controller ;;
  *) echo "usage: [KAFKA_NODES=N] $0 start|stop|status|start-node I|stop-node I|kill-node I|wipe-node I|controller" >&2; exit 2 ;;
esac
