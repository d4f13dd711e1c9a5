# Helpers of the multi-node integration tests: each test starts a real
# cluster of leafguard processes on loopback, in its own directory and port
# range, and stops every process it started when it exits.
#
#   LEAFGUARD   the leafguard binary (set by ctest)
#   PORT_BASE   first port of the test's range (set by ctest)
#   WORK_NAME   names the work directory, /tmp/WORK_NAME-XXXXXX (default
#               leafguard-it)
set -euo pipefail

: "${LEAFGUARD:?set LEAFGUARD to the leafguard binary}"
: "${PORT_BASE:?set PORT_BASE}"
WORK=$(mktemp -d "/tmp/${WORK_NAME:-leafguard-it}-XXXXXX")
MA_PORT=$PORT_BASE
declare -A PIDS=()
TLS_ARGS=() # the console's TLS options
TLS_DIR=""  # with TLS: where each node's certificate is, named by address

# node_tls ADDR: a node's TLS options (none without TLS_DIR).
node_tls() {
  [ -n "$TLS_DIR" ] || return 0
  echo --tls-cert "$TLS_DIR/$1.pem" --tls-key "$TLS_DIR/$1.key" \
    --tls-ca "$TLS_DIR/ca.pem"
}

cleanup() {
  local rc=$?
  for name in "${!PIDS[@]}"; do
    kill -CONT "${PIDS[$name]}" 2> /dev/null || true
    kill -9 "${PIDS[$name]}" 2> /dev/null || true
  done
  wait 2> /dev/null || true
  if [ $rc -ne 0 ]; then
    echo "--- logs of the failed test ($WORK) ---"
    for f in "$WORK"/*.log; do
      echo "== $f"
      tail -n 40 "$f"
    done
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

pass() {
  echo "ok: $*"
}

leaf_port() { echo $((PORT_BASE + $1)); }

# start_ma: the master aggregator, on MA_PORT.
start_ma() {
  local known
  known=$(grep -c MasterAggregatorKnown "$WORK/ma.log" 2> /dev/null || true)
  # shellcheck disable=SC2046 # node_tls prints separate words
  "$LEAFGUARD" master-aggregator --port "$MA_PORT" --data-dir "$WORK/ma" \
    --log-level info $(node_tls "127.0.0.1:$MA_PORT") "$@" \
    >> "$WORK/ma.log" 2>&1 &
  PIDS[ma]=$!
  wait_port "$MA_PORT"
  # The port opens a few ms before the process knows its master aggregator
  # (it elects itself, or learns the leader): cluster statements sent in
  # between get ERROR 2013. Up to 5 s; a process that never says (a single
  # master aggregator from before voting aggregators) goes on after that.
  local deadline=$((SECONDS + 5))
  while [ "$(grep -c MasterAggregatorKnown "$WORK/ma.log" 2> /dev/null \
             || true)" -le "${known:-0}" ] && [ $SECONDS -lt $deadline ]; do
    sleep 0.02
  done
}

# start_leaf N: leaf N (1-based) on PORT_BASE+N.
start_leaf() {
  local n=$1
  shift
  # shellcheck disable=SC2046 # node_tls prints separate words
  "$LEAFGUARD" leaf --port "$(leaf_port "$n")" --data-dir "$WORK/leaf$n" \
    --log-level info $(node_tls "127.0.0.1:$(leaf_port "$n")") "$@" \
    >> "$WORK/leaf$n.log" 2>&1 &
  PIDS[leaf$n]=$!
  wait_port "$(leaf_port "$n")"
}

# agg_port K: the port of aggregator K (1, 2, ...) besides the master
# aggregator's first one: PORT_BASE+10+K.
agg_port() { echo $((PORT_BASE + 10 + $1)); }

# start_agg K: a `leafguard aggregator` process on agg_port K, which waits
# for ADD AGGREGATOR.
start_agg() {
  # shellcheck disable=SC2046 # node_tls prints separate words
  "$LEAFGUARD" aggregator --port "$(agg_port "$1")" --data-dir "$WORK/agg$1" \
    --log-level info $(node_tls "127.0.0.1:$(agg_port "$1")") \
    >> "$WORK/agg$1.log" 2>&1 &
  PIDS[agg$1]=$!
  wait_port "$(agg_port "$1")"
}

# wait_port P: until something listens on port P (10 s at most).
wait_port() {
  local deadline=$((SECONDS + 10))
  until (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; do
    [ $SECONDS -lt $deadline ] || fail "nothing listens on port $1 after 10 s"
    sleep 0.05
  done
}

# sql STMTS: runs statements on the master aggregator (console options may
# follow: sql_at PORT STMTS for another node).
sql() {
  "$LEAFGUARD" sql --port "$MA_PORT" "${TLS_ARGS[@]}" -e "$1"
}

sql_at() {
  "$LEAFGUARD" sql --port "$1" "${TLS_ARGS[@]}" -e "$2"
}

# leaf_state N: the State column of leaf N in SHOW LEAVES.
leaf_state() {
  sql "SHOW LEAVES" | awk -F'|' -v p="$(leaf_port "$1")" \
    '$3 ~ " "p" " { gsub(/ /, "", $7); print $7 }'
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND until it succeeds,
# failing the test when SECONDS pass first. Prints how long it took.
wait_for() {
  local what=$1 limit=$2
  shift 2
  local start
  start=$(date +%s%N)
  local deadline=$((start + limit * 1000000000))
  until "$@"; do
    [ "$(date +%s%N)" -lt $deadline ] || fail "$what: not within ${limit} s"
    sleep 0.02
  done
  echo "ok: $what after $((($(date +%s%N) - start) / 1000000)) ms"
}

state_is() { [ "$(leaf_state "$1")" = "$2" ]; }

# all_in_sync DB: every row of CHECK PARTITIONS ON DB is in_sync.
all_in_sync() {
  local out
  out=$(sql "CHECK PARTITIONS ON $1") || return 1
  echo "$out" | grep -q "in_sync" || return 1
  ! echo "$out" | grep -E "^\| [0-9]" | grep -vq "in_sync"
}

# four_leaves_r2 DB: adds 4 leaves in redundancy 2 and creates DB (a name,
# optionally followed by CREATE DATABASE options).
four_leaves_r2() {
  start_ma
  for n in 1 2 3 4; do start_leaf $n; done
  sql "SET GLOBAL redundancy_level = 2" > /dev/null
  for n in 1 2 3 4; do
    sql "ADD LEAF '127.0.0.1':$(leaf_port $n)" > /dev/null
  done
  sql "CREATE DATABASE $1" > /dev/null
}

# insert_rows DB FROM TO: inserts keys kFROM..kTO; every one must succeed.
insert_rows() {
  local values="" i
  for ((i = $2; i <= $3; i++)); do
    values+="${values:+,}('k$i','v$i')"
  done
  sql "INSERT INTO $1 VALUES $values" > /dev/null || fail "insert $2..$3"
}

# expect_count DB N: SELECT COUNT(*) answers N.
expect_count() {
  local got
  got=$(sql "SELECT COUNT(*) FROM $1" | awk -F'|' 'NR==4 { gsub(/ /, "", $2); print $2 }')
  [ "$got" = "$2" ] || fail "COUNT(*) of $1 is '$got', expected $2"
}
