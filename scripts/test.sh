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

echo "== test servers"
cache=${DUMP_CACHE:-$HOME/.cache/dump}
if [ ! -x "$cache/minio/bin/minio" ] || [ ! -x "$cache/kube/bin/kube-apiserver" ]; then
  echo "first run: building the test servers (MinIO, etcd, kube-apiserver) from the Go module proxy into $cache;"
  echo "this takes several minutes (kube-apiserver about 15 on 2 cores), once; later runs reuse them"
fi
scripts/minio.sh build
scripts/kube.sh build

echo "== go test"
go test -count=1 -timeout 15m ./...

echo "== fuzz (bounded)"
scripts/fuzz.sh 15s
