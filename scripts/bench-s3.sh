#!/usr/bin/env bash
# bench-s3.sh [SIZE_MIB] — throughput of the s3:// store against awscli
# (Debian's /usr/bin/aws) on the same file and the same local MinIO, plus the
# memory peak of a 1 GiB upload. Prints lines for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-256}
# Debian's /usr/bin/aws first (a pyenv shim may shadow it), else any awscli.
aws=$(command -v /usr/bin/aws || command -v aws || true)

# Stop MinIO afterwards only if this script started it.
running=$(scripts/minio.sh env 2>/dev/null || true)
eval "$(scripts/minio.sh start)"
export MINIOTEST_ENDPOINT=$AWS_ENDPOINT_URL_S3
work=$(mktemp -d)
trap 'rm -rf "$work"; [[ -n $running ]] || scripts/minio.sh stop' EXIT
file=$work/payload
head -c "${size_mib}M" /dev/urandom >"$file"
bytes=$(stat -c %s "$file")
bucket=bench-cli-$$

rate() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.0f MB/s (%.2fs)", b / 1e6 / s, s }'; }
timed() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}

if [[ -n $aws ]]; then
	echo "# $size_mib MiB, MinIO at $AWS_ENDPOINT_URL_S3, $(nproc) cores, $($aws --version 2>&1 | cut -d' ' -f1)"
	$aws --endpoint-url "$AWS_ENDPOINT_URL_S3" s3 mb "s3://$bucket" >/dev/null
	for i in 1 2 3; do
		up=$(timed $aws --endpoint-url "$AWS_ENDPOINT_URL_S3" s3 cp --quiet "$file" "s3://$bucket/x$i")
		down=$(timed sh -c "$aws --endpoint-url $AWS_ENDPOINT_URL_S3 s3 cp --quiet s3://$bucket/x$i - >/dev/null")
		echo "awscli s3 cp run $i: upload $(rate "$up"), download to /dev/null $(rate "$down")"
	done
	peak=$( { /usr/bin/time -f '%M' $aws --endpoint-url "$AWS_ENDPOINT_URL_S3" s3 cp --quiet "$file" "s3://$bucket/mem" >/dev/null; } 2>&1 | tail -1)
	echo "awscli upload max RSS: $((peak / 1024)) MiB"
else
	echo "# $size_mib MiB, MinIO at $AWS_ENDPOINT_URL_S3, $(nproc) cores; no awscli here (apt-get install awscli): its lines are left out"
fi

go test -c -o "$work/s3.test" ./upload/s3
DUMP_BENCH_FILE=$file "$work/s3.test" -test.run '^$' -test.bench 'BenchmarkS3(Upload|Download|DownloadRanges)$' -test.benchtime 3x |
	grep '^Benchmark'
for kind in File Stream; do
	/usr/bin/time -f "dump s3 store, 1 GiB upload from a ${kind,,}: max RSS %M KiB" \
		"$work/s3.test" -test.run '^$' -test.bench "BenchmarkS3Upload1GiB${kind/Stream/}Memory" -test.benchtime 1x 2>&1 |
		grep -E '^Benchmark|max RSS'
done
