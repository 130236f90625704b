#!/usr/bin/env bash
# minio.sh start|stop|env|build — a throwaway MinIO on 127.0.0.1 for tests and
# benchmarks of the s3:// store.
#
#   eval "$(scripts/minio.sh start)"   # builds once, starts, exports AWS_* vars
#   scripts/minio.sh stop              # kills it and deletes its data
#
# The binary is built once from the Go module proxy into
# ${DUMP_CACHE:-$HOME/.cache/dump}/minio/bin/minio. The server listens on a free
# port (or $MINIO_PORT), keeps its data in a fresh mktemp -d directory and uses
# fixed test-only root credentials. start and stop are idempotent; state (pid,
# port, data dir) lives in ${DUMP_CACHE}/minio/run/state.
set -euo pipefail
# shellcheck source=free-port.sh
source "$(cd "$(dirname "$0")" && pwd)/free-port.sh"

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
cache=${DUMP_CACHE:-$HOME/.cache/dump}/minio
bin=$cache/bin/minio
run=$cache/run
state=$run/state

# Test-only credentials: this server holds nothing but test data.
user=dumptest
password=dumptest-not-a-secret

build() {
	[[ -x $bin ]] && return
	echo "minio.sh: building MinIO $MINIO_VERSION into $cache/bin (once, a few minutes)" >&2
	mkdir -p "$cache/bin"
	GOBIN=$cache/bin go install "github.com/minio/minio@$MINIO_VERSION" >&2
}

# load reads the state file; it fails when there is none or the server died.
load() {
	[[ -f $state ]] || return 1
	# shellcheck disable=SC1090
	source "$state"
	kill -0 "$pid" 2>/dev/null
}

print_env() {
	cat <<EOF
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=$user
export AWS_SECRET_ACCESS_KEY=$password
export AWS_REGION=us-east-1
EOF
}

start() {
	if load; then
		print_env
		return
	fi
	build
	mkdir -p "$run"
	chmod 700 "$run"
	port=${MINIO_PORT:-$(free_port)}
	dir=$(mktemp -d -t dump-minio.XXXXXX)
	MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$password MINIO_BROWSER=off MINIO_UPDATE=off \
		setsid "$bin" server --quiet --address "127.0.0.1:$port" "$dir" >"$run/minio.log" 2>&1 </dev/null &
	pid=$!
	printf 'pid=%s\nport=%s\ndir=%s\n' "$pid" "$port" "$dir" >"$state"
	for _ in $(seq 150); do
		if curl -fsS -o /dev/null "http://127.0.0.1:$port/minio/health/ready" 2>/dev/null; then
			print_env
			return
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "minio.sh: MinIO exited during start; its log:" >&2
			cat "$run/minio.log" >&2
			rm -rf "$dir" "$state"
			return 1
		fi
		sleep 0.2
	done
	echo "minio.sh: MinIO on port $port not ready after 30s; see $run/minio.log" >&2
	stop
	return 1
}

stop() {
	[[ -f $state ]] || return 0
	# shellcheck disable=SC1090
	source "$state"
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir" "$state"
}

case ${1:-} in
start) start ;;
stop) stop ;;
env) load && print_env || {
	echo "minio.sh: not running; use: $0 start" >&2
	exit 1
} ;;
build) build ;;
*)
	echo "usage: $0 start|stop|env|build" >&2
	exit 2
	;;
esac
