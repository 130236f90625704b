#!/usr/bin/env bash
# The whole test suite, as CI runs it (make test).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt / go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...

echo "== test servers: MinIO, etcd and kube-apiserver (built once into the cache, minutes; then reused)"
scripts/minio.sh build
scripts/kube.sh build

echo "== go test"
go test -count=1 -timeout 15m ./...

echo "== fuzz (bounded)"
scripts/fuzz.sh 15s
