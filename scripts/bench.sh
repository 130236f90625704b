#!/usr/bin/env bash
# make bench: runs every benchmark and writes BENCHMARKS.md with the command
# behind each figure. Speed and memory goals live here, never in unit tests.
#
# BENCH_QUICK=1 runs small trees once (a few minutes); the default runs the
# 100 MiB, 1 GiB and 4 GiB trees and 100,000 small files (about half an hour
# on 2 cores). Ours and the shell pipelines run interleaved, on the same trees,
# from a warm page cache; the median wall time of the rounds is reported.
set -euo pipefail
cd "$(dirname "$0")/.."
out=BENCHMARKS.md
export LC_ALL=C

for tool in zstd age age-keygen openssl /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing; apt-get install zstd age openssl time" >&2; exit 1; }
done
if [[ -n ${BENCH_QUICK:-} ]]; then
	sizes=(100) small=10000 big_mib=50 big_cap_mib=64 rounds=1 nodes=20 node_concurrency=10 onepass_mib=100 mode="BENCH_QUICK=1 make bench"
else
	sizes=(100 1024 4096) small=100000 big_mib=300 big_cap_mib=400 rounds=3 nodes=200 node_concurrency=10,50 onepass_mib=1024 mode="make bench"
fi
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/dump-bench.XXXXXX")
minio_started=
trap 'rm -rf "$work"; [[ -z $minio_started ]] || scripts/minio.sh stop' EXIT
dump=$PWD/bin/dump
age-keygen -o "$work/support.key" 2>/dev/null
recipient=$(age-keygen -y "$work/support.key")

section() { printf '\n## %s\n\n' "$1" >>"$work/md"; }
# run CMD...: records the command and its benchmark lines.
run() {
	echo "+ $*" >&2
	{
		echo '```'
		echo "\$ $*"
		"$@" 2>&1 | grep -E '^(Benchmark|awscli|dump|#|real|tar|seal)' || true
		echo '```'
	} >>"$work/md"
}
# timed NAME CMD...: runs CMD under /usr/bin/time; appends
# "wall maxrss_kib cpu_seconds" to $work/NAME.
timed() {
	local name=$1
	shift
	sync
	/usr/bin/time -f '%e %M %U %S' -o "$work/time.tmp" "$@" >/dev/null
	awk '{ print $1, $2, $3 + $4 }' "$work/time.tmp" >>"$work/$name"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
wall() { cut -d' ' -f1 "$work/$1" | median; }
rss() { cut -d' ' -f2 "$work/$1" | sort -n | tail -n 1 | awk '{ printf "%.0f", $1 / 1024 }'; }
cpu() { cut -d' ' -f3 "$work/$1" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

{
	echo "# Benchmarks"
	echo
	echo "Written by \`$mode\` ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GiB,"
	echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3), $(zstd --version | grep -o 'v[0-9.]*'),"
	echo "age $(age --version)). Each block shows the command that produced it; load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)."
} >"$work/md"

# --- seal and open against the shell pipelines ---------------------------------
section "Seal and open against the shell pipelines"
cat >>"$work/md" <<'TXT'
Trees from `go run ./scripts/genlogs DIR SIZE_MIB` (60% text logs, 25% journal
JSON lines, 15% kubectl YAML; seeded, so every run packs the same bytes), read
from a warm page cache. Ours runs with `--nice=false`, as the shell pipelines
run at normal priority. Open+extract of both is of our sealed dump, to a fresh
directory. Wall time and CPU time (user+system, all processes) are the
medians of the rounds, peak RSS (`/usr/bin/time`) the largest; the shell's RSS
is its largest process. On a busy machine CPU time is the steadier figure.

```
seal:  dump seal --nice=false TREE --recipient age1...
       tar -c TREE | zstd -T0 -3 | age -r age1... > FILE
open:  dump decrypt --file FILE --identity support.key --out DIR
       age -d -i support.key KEY > s.key; age -d -i s.key FILE | zstd -d | tar -x -C DIR
```

| tree | seal: dump | shell | speed-up | CPU-s: dump / shell | size: dump | shell | size ratio | open+extract: dump | shell | speed-up | CPU-s: dump / shell | peak RSS seal / open: dump | shell |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
TXT
for mib in "${sizes[@]}"; do
	tree=$work/tree-$mib
	echo "+ tree of $mib MiB" >&2
	go run ./scripts/genlogs "$tree" "$mib"
	tar -c -C "$work" "tree-$mib" >/dev/null # warm the page cache
	n=$rounds
	((mib < 1024)) || n=$(((rounds + 1) / 2))
	((mib < 4096)) || n=1
	for ((r = 0; r < n; r++)); do
		mkdir -p "$work/ours" "$work/x"
		seal_ours() { timed "seal-ours-$mib" "$dump" seal --quiet --nice=false "$tree" --recipient "$recipient" --out "$work/ours"; }
		seal_shell() { timed "seal-shell-$mib" sh -c "tar -c -C '$work' 'tree-$mib' | zstd -T0 -3 -q | age -r '$recipient' > '$work/shell.age'"; }
		if ((r % 2 == 0)); then seal_ours; seal_shell; else seal_shell; seal_ours; fi
		payload=$(echo "$work"/ours/dump-*.tar.zst.age)
		key=${payload%.tar.zst.age}.key.age
		size_ours=$(stat -c %s "$payload") size_shell=$(stat -c %s "$work/shell.age")
		open_ours() { timed "open-ours-$mib" "$dump" decrypt --quiet --file "$payload" --identity "$work/support.key" --out "$work/x/ours"; }
		open_shell() {
			mkdir -p "$work/x/shell"
			timed "open-shell-$mib" sh -c "age -d -i '$work/support.key' '$key' > '$work/s.key' && age -d -i '$work/s.key' '$payload' | zstd -d -q | tar -x -C '$work/x/shell'"
		}
		if ((r % 2 == 0)); then open_ours; open_shell; else open_shell; open_ours; fi
		rm -rf "$work/ours" "$work/x" "$work/shell.age" "$work/s.key"
	done
	so=$(wall "seal-ours-$mib") ss=$(wall "seal-shell-$mib") oo=$(wall "open-ours-$mib") os=$(wall "open-shell-$mib")
	echo "| $mib MiB ($n×) | ${so} s | ${ss} s | **$(ratio "$ss" "$so")×** | $(cpu "seal-ours-$mib") / $(cpu "seal-shell-$mib") | $size_ours | $size_shell | $(ratio "$size_ours" "$size_shell") | ${oo} s | ${os} s | **$(ratio "$os" "$oo")×** | $(cpu "open-ours-$mib") / $(cpu "open-shell-$mib") | $(rss "seal-ours-$mib") / $(rss "open-ours-$mib") MiB | $(rss "seal-shell-$mib") / $(rss "open-shell-$mib") MiB |" >>"$work/md"
	((mib == sizes[-1])) || rm -rf "$tree"
done
neighbour_tree=$tree

# --- many small files ------------------------------------------------------------
section "Many small files: gather with a copy collector, then seal"
smalldir=$work/small
go run ./scripts/genlogs -small "$small" "$smalldir"
cat >"$work/small.yaml" <<YAML
- name: small-files
  category: app
  kind: copy
  paths: [$smalldir]
  output: app/small
YAML
tar -c -C "$work" small >/dev/null
mkdir -p "$work/small-out"
# A deadline of an hour: on a busy machine the default minute could cut the
# collector short, and the figure would not be of the whole tree.
timed small-gather "$dump" gather --quiet --nice=false --profile none --spec "$work/small.yaml" --max-size 4GiB --collector-timeout 1h \
	--encrypt --recipient "$recipient" --out "$work/small-out" --trace-exporter "file://$work/small-trace"
timed small-shell sh -c "tar -c -C '$work' small | zstd -T0 -3 -q | age -r '$recipient' > '$work/small.age'"
g=$(wall small-gather) s=$(wall small-shell)
{
	echo "$small files of 0.5-4 KiB ($(du -sm "$smalldir" | cut -f1) MiB on disk) copied by a \`copy\` collector,"
	echo "redacted, leak-scanned, packed and sealed in one \`dump gather --encrypt\`:"
	echo "**$(awk -v n="$small" -v t="$g" 'BEGIN { printf "%.0f", n / t }') files/s** ($g s, peak RSS $(rss small-gather) MiB);"
	echo "\`tar -c | zstd -T0 -3 | age\` of the same files, which only seals: $s s."
	echo "Where the time went, from the run's own trace (\`--trace-exporter file://DIR\`, \`go run ./scripts/tracesum\`):"
	echo '```'
	go run ./scripts/tracesum "$work"/small-trace/dump-trace-*.jsonl
	echo '```'
} >>"$work/md"
rm -rf "$smalldir" "$work/small-out" "$work/small.age"

# --- one large output under a raised cap -------------------------------------------
section "Gather: one large output under a raised cap"
# A spec may raise a collector's max_size far above the default; what is kept
# past 8 MiB waits in a file, so memory must not grow with the output.
big=$work/big
mkdir -p "$big/src" "$big/out"
find "$neighbour_tree" -type f -name '*.txt' -print0 | sort -z | xargs -0 cat 2>/dev/null | head -c "$((big_mib << 20))" >"$big/src/app.log" || true
cat >"$big/spec.yaml" <<YAML
- name: big
  category: app
  kind: copy
  paths: [$big/src/app.log]
  output: app/big
  max_size: $((big_cap_mib << 20))
YAML
timed big-gather "$dump" gather --quiet --nice=false --profile none --spec "$big/spec.yaml" --max-size 4GiB --out "$big/out"
{
	echo "A \`copy\` collector with \`max_size: ${big_cap_mib}MiB\` gathering one $(($(stat -c %s "$big/src/app.log") >> 20)) MiB log (the tail of the"
	echo "tree's text logs), redacted and packed in one \`dump gather\`: peak RSS **$(rss big-gather) MiB**, $(wall big-gather) s."
} >>"$work/md"
rm -rf "$big"

# --- a gentle guest ----------------------------------------------------------------
section "A gentle guest: a CPU-bound neighbour while a dump seals"
# neighbour: $(nproc) openssl sha256 loops for 5 s; prints their total ops.
neighbour() {
	local i pids=()
	for ((i = 0; i < $(nproc); i++)); do
		openssl speed -seconds 4 -bytes 16384 sha256 2>&1 | grep -o "[0-9]* sha256's" | cut -d' ' -f1 >"$work/nb.$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	cat "$work"/nb.* | awk '{ s += $1 } END { print s }'
}
# with NICE: the neighbour's ops while dump seals the tree over and over.
with() {
	mkdir -p "$work/nb-out"
	(
		trap 'kill "$seal" 2>/dev/null; wait; exit' TERM
		while :; do
			"$dump" seal --quiet --nice="$1" "$neighbour_tree" --recipient "$recipient" --out "$work/nb-out" >/dev/null &
			seal=$!
			wait "$seal"
			rm -f "$work"/nb-out/*
		done
	) &
	local loop=$!
	sleep 1
	neighbour
	kill "$loop"
	wait "$loop" 2>/dev/null || true
	rm -rf "$work/nb-out"
}
# Rounds interleave the three cases, so a change in the machine's other
# load hits them alike.
alone=0 gentle=0 rude=0
for ((r = 0; r < 5; r++)); do
	alone=$((alone + $(neighbour))) gentle=$((gentle + $(with true))) rude=$((rude + $(with false)))
done
pct() { awk -v a="$1" -v b="$alone" 'BEGIN { printf "%.1f", 100 * a / b }'; }
{
	echo "$(nproc) \`openssl speed sha256\` processes at normal priority for 4 s, alone and while \`dump seal\` of the"
	echo "$(du -sm "$neighbour_tree" | cut -f1) MiB tree runs in a loop; five rounds of the three cases, interleaved, summed:"
	echo '```'
	echo "neighbour alone:                     $alone ops"
	echo "with dump seal (default, --nice):    $gentle ops = $(pct "$gentle")% of alone"
	echo "with dump seal --nice=false:         $rude ops = $(pct "$rude")% of alone"
	echo '```'
} >>"$work/md"
rm -rf "$neighbour_tree"

# --- where the time goes -----------------------------------------------------------------
section "Profiles: where seal and open spend their time"
echo 'CPU profiles (top functions by own time) and, for packing, the block profile (where the stages wait), of 256 MiB of log text; the tree and payload set-up is left out:' >>"$work/md"
go test -c -o "$work/crypto.test" ./crypto
profile() {
	local bench=$1 kind=$2 ignore=$3
	(cd "$work" && ./crypto.test -test.run '^$' -test.bench "$bench" -test.benchtime 1x "-test.${kind}profile" prof.out >/dev/null)
	{
		echo '```'
		echo "\$ go test ./crypto -run '^\$' -bench '$bench' -benchtime 1x -${kind}profile prof.out; go tool pprof -top -ignore '$ignore' prof.out"
		go tool pprof -top -nodecount 12 -ignore "$ignore" "$work/crypto.test" "$work/prof.out" 2>/dev/null | sed -n '/flat%/,$p'
		echo '```'
	} >>"$work/md"
}
profile 'BenchmarkPack/fastest/conc2$' cpu 'logTree'
profile 'BenchmarkPack/fastest/conc2$' block 'logTree'
profile 'BenchmarkOpen/OpenPayload$' cpu 'logTree|frameWriter|crypto.Pack'

# --- the other benchmarks ------------------------------------------------------------------
section "Gather: 40 collectors that each take 1 s"
echo "Concurrency 8 (the default) and 40: the run takes about as long as the slowest few, not the sum (40 s)." >>"$work/md"
run go test ./gather -run '^$' -bench BenchmarkRunner -benchtime 1x

section "Redaction throughput (must not be the bottleneck of a gather)"
run go test ./gather/redact -run '^$' -bench . -benchtime 3x

section "Pack (tar + zstd) and open (age + zstd), 256 MiB of log text"
run go test ./crypto -run '^$' -bench . -benchtime 1x

section "Seal a 512 MiB log tree: dump seal vs k3s diagnostics.sh's tar -cz | openssl aes-256-cbc"
go run ./scripts/genlogs "$work/tree" 512
mkdir -p "$work/k3s"
timed k3s-ours "$dump" seal --quiet "$work/tree" --recipient "$recipient" --out "$work/k3s"
timed k3s-shell sh -c "tar -cz -C '$work' tree | openssl enc -aes-256-cbc -pbkdf2 -pass pass:bench -out '$work/k3s.tgz.enc'"
{
	echo '```'
	echo "\$ dump seal TREE --recipient age1...           # tar | zstd | age, at nice 19"
	echo "seal: $(wall k3s-ours) s"
	echo "\$ tar -cz TREE | openssl enc -aes-256-cbc ...   # what diagnostics.sh does"
	echo "tar -cz | openssl: $(wall k3s-shell) s"
	echo "sizes: sealed $(stat -c %s "$work"/k3s/dump-*.tar.zst.age) bytes, tar.gz.enc $(stat -c %s "$work/k3s.tgz.enc") bytes"
	echo '```'
} >>"$work/md"
rm -rf "$work/tree" "$work/k3s" "$work/k3s.tgz.enc"

section "Decrypt: ranged download and the whole support side"
run go test ./decrypt -run '^$' -bench . -benchtime 3x

section "S3 upload and download against awscli (same file, same local MinIO)"
run scripts/bench-s3.sh 256

section "One pass to the bucket: gather-upload against gather --encrypt, then upload"
# The same gather (a copy collector over a generated tree) either streams its
# sealed payload to MinIO while writing the local copy, or seals to a file
# that dump upload then reads again. Interleaved rounds, medians.
scripts/minio.sh env >/dev/null 2>&1 || minio_started=1
eval "$(scripts/minio.sh start)"
onepass=$work/onepass
bucket=onepass-$$
go run ./scripts/genlogs "$onepass/tree" "$onepass_mib"
cat >"$onepass/spec.yaml" <<YAML
- name: logs
  category: app
  kind: copy
  paths: [$onepass/tree]
  output: app/logs
  max_size: 8589934592
YAML
curl -fsS --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -X PUT "$AWS_ENDPOINT_URL_S3/$bucket" >/dev/null
gather_flags=(--quiet --nice=false --profile none --spec "$onepass/spec.yaml" --max-size 8GiB --collector-timeout 1h --recipient "$recipient")
one_pass() {
	timed upload-one "$dump" gather-upload "${gather_flags[@]}" --to "s3://$bucket/one" --out "$onepass/out"
	rm -rf "$onepass/out"
}
two_pass() {
	timed upload-two sh -c "p=\$('$dump' gather ${gather_flags[*]} --encrypt --out '$onepass/out' | tail -n 1) && '$dump' upload --quiet --to s3://$bucket/two \"\$p\""
	rm -rf "$onepass/out"
}
for ((r = 0; r < rounds; r++)); do
	if ((r % 2 == 0)); then one_pass; two_pass; else two_pass; one_pass; fi
done
{
	echo "A ${onepass_mib} MiB tree of generated logs (\`genlogs\`), gathered by a \`copy\` collector, redacted, sealed"
	echo "and put to the local MinIO; $rounds rounds of each, interleaved, medians:"
	echo '```'
	echo "\$ dump gather-upload --spec SPEC --to s3://BUCKET/one          # one pass: uploads while it seals"
	echo "one pass:   $(wall upload-one) s (CPU $(cpu upload-one) s, peak RSS $(rss upload-one) MiB)"
	echo "\$ dump upload --to s3://BUCKET/two \$(dump gather --spec SPEC --encrypt)"
	echo "two passes: $(wall upload-two) s (CPU $(cpu upload-two) s, peak RSS $(rss upload-two) MiB)"
	echo "speed-up:   $(ratio "$(wall upload-two)" "$(wall upload-one)")×"
	echo '```'
} >>"$work/md"
cat >>"$work/md" <<'TXT'
On a local MinIO the upload is a small part of the run (the payload is about
a fifth of the tree, and MinIO takes it at about 300 MB/s), so one pass saves
little here; it saves the second read and the wait for the whole upload on a
slower link. Peak RSS is the gather's, not the upload's (the upload alone
stays under 30 MiB, above), and most of it is redacting the tree's YAML by
structure: `genlogs` writes each YAML file (about 40 MB each in the 1 GiB
tree) as one top-level sequence, which is parsed one item at a time and
written out as edits to the input. A document up to 64 MiB is still read
whole (whether it is redacted by structure or as text depends on all of it);
beyond its own bytes it costs one item's tree per CPU and the replaced
values (`BenchmarkStreamYAMLMemory` in the redaction section: bytes per
input byte). Until 2026-12-01 such a sequence was parsed as one tree, and
this gather peaked at 1,391 to 1,474 MiB on the 1 GiB tree.
TXT
rm -rf "$onepass"

section "Cluster mode: $nodes stand-in nodes, real kube-apiserver and MinIO"
cat >>"$work/md" <<'TXT'
The real `dump gather-upload --cluster` binary, as a subprocess, against the
real kube-apiserver + etcd and MinIO; stand-in kubelets (internal/kubetest)
watch the API server and run each node pod's `dump gather` as a local
process on a tiny fixture root (three small files: a node part of about
15 KB). Every "node" and every kubectl runs on this machine's cores, so the
wall time is the machine's, not a cluster's: the initiator's own cost is its
CPU time, its peak RSS and its API requests. Requests and bytes are the API
server's own /metrics, before and after the run, of all clients; "made by"
says whose (the initiator, the stand-in kubelets, the API server's upkeep)
and the last line sums the initiator's share.
TXT
{
	echo '```'
	echo "\$ DUMP_BENCH_NODES=$nodes DUMP_BENCH_CONCURRENCY=$node_concurrency go test ./cmd/dump -run '^\$' -bench BenchmarkCluster -benchtime 1x"
	DUMP_BENCH_NODES=$nodes DUMP_BENCH_CONCURRENCY=$node_concurrency go test ./cmd/dump -run '^$' -bench BenchmarkCluster -benchtime 1x -timeout 90m 2>&1 |
		grep -vE '^(goos|goarch|pkg|cpu|PASS|ok|kubetest)' || true
	echo '```'
} >>"$work/md"
echo "Signing one node's ticket (two presigned PUTs), the initiator's per-node signing cost:" >>"$work/md"
run go test ./upload/s3 -run '^$' -bench BenchmarkNodeTicket -benchtime 2000x

section "A real gather of this host"
timed host "$dump" gather --quiet --no-cloud-detect --out "$work" || true
{
	echo '```'
	echo "\$ dump gather --no-cloud-detect"
	echo "wall time: $(wall host) s, peak RSS $(rss host) MiB"
	echo "dump: $(stat -c %s "$work"/dump-*.tar.zst) bytes compressed"
	echo '```'
} >>"$work/md"

mv "$work/md" "$out"
echo "wrote $out" >&2
