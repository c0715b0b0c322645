#!/bin/bash
# `make run`: starts a small demo Python service and runs the daemon in the foreground with
# config/agent.yaml (10 s windows instead of 60 s, so the first profile appears quickly),
# writing windows under ./profiles/. Ctrl-C stops both and leaves the last window written.
set -euo pipefail
cd "$(dirname "$0")/../.."
AGENT=${1:-build/pyprof-agent}
PY=${DEMO_PYTHON:-/usr/bin/python3}
WINDOW=${WINDOW:-10}
config=build/demo-agent.yaml
sed "s/^  seconds: 60$/  seconds: $WINDOW/" config/agent.yaml > "$config"
grep -q "^  seconds: $WINDOW$" "$config" || { echo "run-demo: cannot set the window in $config" >&2; exit 1; }

"$PY" tests/demo/demo_app.py &
app=$!
trap 'kill $app 2>/dev/null || true' EXIT
echo "demo workload: pid $app ($PY tests/demo/demo_app.py)"
echo "profiles: ./profiles/ (one file per ${WINDOW}s window; Ctrl-C writes the last one and stops)"
echo "in another terminal: sudo build/agentctl status"
"$AGENT" --config "$config"
