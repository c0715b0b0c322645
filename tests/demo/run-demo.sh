#!/bin/bash
# `make run`: starts a demo Python workload and profiles it with `agentctl snapshot`, writing
# the folded profile under ./profiles/ and printing its hottest stacks.
set -euo pipefail
AGENTCTL=${1:-build/agentctl}
DURATION=${DURATION:-10}
PY=${DEMO_PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/../.."
mkdir -p profiles
"$PY" tests/demo/demo_app.py &
app=$!
trap 'kill $app 2>/dev/null || true' EXIT
sleep 0.5
out="profiles/demo-$(date -u +%Y%m%dT%H%M%SZ).folded"
echo "profiling the demo workload (pid $app) for ${DURATION}s..."
"$AGENTCTL" snapshot --pid "$app" --duration "$DURATION" --threads --output "$out"
echo
echo "wrote $out; hottest stacks:"
awk '{ n = $NF; sub(/ [0-9]+$/, ""); printf "%d\t%s\n", n, $0 }' "$out" | sort -t"$(printf '\t')" -k1,1nr | head -10
