#!/usr/bin/env bash
# make bench: runs every benchmark and writes BENCHMARKS.md with the command
# behind each figure. Speed and memory goals live here, never in unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
out=BENCHMARKS.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

section() { printf '\n## %s\n\n' "$1" >>"$tmp/md"; }
# run CMD...: records the command and its benchmark lines.
run() {
	echo "+ $*" >&2
	{
		echo '```'
		echo "\$ $*"
		"$@" 2>&1 | grep -E '^(Benchmark|awscli|dump|#|real|tar|seal)' || true
		echo '```'
	} >>"$tmp/md"
}

{
	echo "# Benchmarks"
	echo
	echo "Written by \`make bench\` ($(date -u +%Y-%m-%d), $(nproc) cores, $(go version | cut -d' ' -f3),"
	echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')). Each block shows the command that produced it."
} >"$tmp/md"

section "Gather: 40 collectors that each take 1 s"
echo "Concurrency 8 (the default) and 40: the run takes about as long as the slowest few, not the sum (40 s)." >>"$tmp/md"
run go test ./gather -run '^$' -bench BenchmarkRunner -benchtime 1x

section "Redaction throughput (must not be the bottleneck of a gather)"
run go test ./gather/redact -run '^$' -bench . -benchtime 3x

section "Pack (tar + zstd) and open (age + zstd), 256 MiB of log text"
run go test ./crypto -run '^$' -bench . -benchtime 1x

section "Seal a 512 MiB log tree: dump seal vs k3s diagnostics.sh's tar -cz | openssl aes-256-cbc"
mkdir -p "$tmp/tree"
go run ./scripts/genlogs "$tmp/tree" 512
recipient=$(bin/dump keygen --out "$tmp/support.key" | tail -n 1)
t0=$(date +%s.%N)
bin/dump seal --quiet "$tmp/tree" --recipient "$recipient" --out "$tmp" >/dev/null
t1=$(date +%s.%N)
tar -cz -C "$tmp" tree | openssl enc -aes-256-cbc -pbkdf2 -pass pass:bench -out "$tmp/k3s.tgz.enc"
t2=$(date +%s.%N)
{
	echo '```'
	echo "\$ dump seal TREE --recipient age1...           # tar | zstd | age, both cores"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "seal: %.1f s\n", b - a }'
	echo "\$ tar -cz TREE | openssl enc -aes-256-cbc ...   # what diagnostics.sh does"
	awk -v a="$t1" -v b="$t2" 'BEGIN { printf "tar -cz | openssl: %.1f s\n", b - a }'
	echo "sizes: sealed $(stat -c %s "$tmp"/dump-*.tar.zst.age) bytes, tar.gz.enc $(stat -c %s "$tmp/k3s.tgz.enc") bytes"
	echo '```'
} >>"$tmp/md"

section "Decrypt: ranged download and the whole support side"
run go test ./decrypt -run '^$' -bench . -benchtime 3x

section "S3 upload and download against awscli (same file, same local MinIO)"
run scripts/bench-s3.sh 256

section "A real gather of this host"
t0=$(date +%s.%N)
bin/dump gather --quiet --no-cloud-detect --out "$tmp" >"$tmp/path" || true
t1=$(date +%s.%N)
{
	echo '```'
	echo "\$ dump gather --no-cloud-detect"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "wall time: %.2f s\n", b - a }'
	echo "dump: $(stat -c %s "$(cat "$tmp/path")") bytes compressed"
	echo '```'
} >>"$tmp/md"

mv "$tmp/md" "$out"
echo "wrote $out" >&2
