#!/usr/bin/env bash
# Runs cluster_page.py against `leafguard local --http-port --mysql-port`:
# the cluster page in headless Chromium while a leaf is killed and
# restarted. Screenshots go to SHOTS (default: build/browser).
#   cluster_page.sh LEAFGUARD PORT_BASE [SHOTS]
set -euo pipefail
LEAFGUARD=$1
HTTP_PORT=$2
MYSQL_PORT=$(($2 + 1))
SHOTS=${3:-$(dirname "$LEAFGUARD")/browser}
for tool in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$tool" ] || { echo "FAIL: $tool is missing (scripts/install-deps.sh)"; exit 1; }
done
WORK=$(mktemp -d)
"$LEAFGUARD" local --http-port "$HTTP_PORT" --mysql-port "$MYSQL_PORT" \
  < /dev/null > "$WORK/local.log" 2>&1 &
PID=$!
trap 'kill "$PID" 2> /dev/null || true; wait "$PID" 2> /dev/null || true; rm -rf "$WORK"' EXIT
deadline=$((SECONDS + 20))
until grep -q "serving until" "$WORK/local.log"; do
  if ! kill -0 "$PID" 2> /dev/null || [ $SECONDS -ge $deadline ]; then
    echo "FAIL: leafguard local did not start:"; cat "$WORK/local.log"; exit 1
  fi
  sleep 0.05
done
status=0
/usr/bin/python3 "$(dirname "$0")/cluster_page.py" --http-port "$HTTP_PORT" \
  --mysql-port "$MYSQL_PORT" --screenshot-dir "$SHOTS" || status=$?
if [ $status -ne 0 ]; then
  echo "--- leafguard local's log:"; tail -40 "$WORK/local.log"
fi
exit $status
