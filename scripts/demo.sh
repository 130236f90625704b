#!/usr/bin/env bash
# make demo: make a support identity, build a "vendor" binary with that
# recipient and a local bucket baked in, gather this host with it, seal and
# upload, then open the dump again as support would.
set -euo pipefail
cd "$(dirname "$0")/.."
# make demo starts the clock before it builds bin/dump.
start=${DEMO_START:-$(date +%s%N)}
[ -x bin/dump ] || make --no-print-directory build
rm -rf demo
mkdir -p demo

echo "== support: make an identity" >&2
recipient=$(bin/dump keygen --out demo/support.key | tail -n 1)

echo "== vendor: bake the recipient and destination into a build" >&2
go build -ldflags "-X main.version=demo -X main.defaultDestination=file://$PWD/demo/bucket -X main.defaultRecipients=$recipient" \
  -o demo/dump ./cmd/dump

echo "== customer: dump gather-upload (no flags: everything comes from the build)" >&2
rc=0
uuid=$(demo/dump gather-upload --out demo/outbox --timeout 3m --no-cloud-detect | tail -n 1) || rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then
  echo "gather-upload failed with exit code $rc" >&2
  exit "$rc"
fi
[ "$rc" = 3 ] && echo "(exit 3: the dump was uploaded but some collectors failed; its report says which)" >&2

echo "== support: list and decrypt by an 8-character prefix" >&2
bin/dump list --from "file://$PWD/demo/bucket" >&2
dir=$(bin/dump decrypt --from "file://$PWD/demo/bucket" --identity demo/support.key --out demo/out "${uuid:0:8}" | tail -n 1)

payload=$(find demo/bucket -name dump.tar.zst.age)
files=$(find "$dir" -type f | wc -l)
content=$(du -sb "$dir" | cut -f1)
info=$(find demo/bucket -name info.json)
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
{
  echo
  echo "dump $uuid: $files files, $content bytes gathered; sealed payload $(stat -c %s "$payload") bytes"
  echo "$(grep -o '"payload_sha256": *"[0-9a-f]*"' "$info")"
  printf 'make demo took %d.%d s (builds, gather, seal, upload, decrypt)\n' $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100))
} >&2
echo "$dir/index.html"
