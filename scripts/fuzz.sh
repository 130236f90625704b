#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: scripts/fuzz.sh 15s
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-15s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    echo "fuzz $pkg $target ($fuzztime)"
    # A short minimize time: the default minute looks like a hang at "0 execs/sec".
    go test "$pkg" -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -fuzzminimizetime=5s
  done
done
