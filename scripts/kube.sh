#!/usr/bin/env bash
# kube.sh build|start|stop|env — a throwaway Kubernetes control plane (etcd and
# kube-apiserver, no scheduler, controllers or kubelet) on 127.0.0.1 for tests
# of the kube profile.
#
#   eval "$(scripts/kube.sh start)"   # builds once, starts, exports KUBECONFIG
#   kubectl get ns                    # as the admin (group system:masters)
#   KUBECONFIG=$KUBE_VIEWER_KUBECONFIG kubectl -n teleport get pods   # the viewer
#   scripts/kube.sh stop              # kills both and deletes their data
#
# The binaries are built once from the Go module proxy, through the wrapper
# modules in scripts/kube/ (k8s.io/kubernetes cannot be go-installed), into
# ${DUMP_CACHE:-$HOME/.cache/dump}/kube/bin. A cold kube-apiserver build takes
# about 15 minutes on 2 cores; start-up takes a few seconds.
#
# Certificates come from openssl; authentication is a static token file with an
# admin in system:masters and a viewer (user "viewer", group "dump:viewers")
# that RBAC knows nothing about until someone binds it (internal/kubetest gives
# it read access to one namespace); authorization is RBAC.
#
# Environment: KUBE_RUN_DIR (state, certificates, kubeconfigs; default
# $cache/run) lets several instances run side by side; KUBELET_PORT is the
# kubelet port the API server assumes when a Node does not say its own (default
# 10250; tests register Nodes whose status points at a stand-in kubelet);
# KUBE_VIEWER_NAMESPACE is the viewer context's namespace (default teleport);
# KUBE_WATCH_PID makes the instance stop by itself once that process is gone
# (a test binary killed by its -timeout must not leave servers behind).
set -euo pipefail

K8S_VERSION=v1.32.13
cache=${DUMP_CACHE:-$HOME/.cache/dump}/kube
bindir=$cache/bin
run=${KUBE_RUN_DIR:-$cache/run}
state=$run/state
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=free-port.sh
source "$here/free-port.sh"

# Test-only credentials: this control plane holds nothing but test data.
admin_token=dumptest-admin-token-not-a-secret
viewer_token=dumptest-viewer-token-not-a-secret

build() {
	[[ -x $bindir/etcd && -x $bindir/kube-apiserver ]] && return
	mkdir -p "$bindir"
	# Two test binaries may ask at once: one builds, the other waits.
	exec 9>"$cache/build.lock"
	flock 9
	if [[ ! -x $bindir/etcd ]]; then
		echo "kube.sh: building etcd 3.5.21 into $bindir (once, about a minute)" >&2
		(cd "$here/kube/etcd" && GOFLAGS=-mod=mod go build -trimpath -o "$bindir/etcd.tmp" go.etcd.io/etcd/server/v3) >&2
		mv "$bindir/etcd.tmp" "$bindir/etcd"
	fi
	if [[ ! -x $bindir/kube-apiserver ]]; then
		echo "kube.sh: building kube-apiserver $K8S_VERSION into $bindir (once, about 15 minutes on 2 cores)" >&2
		(cd "$here/kube/apiserver" && GOFLAGS=-mod=mod GOMAXPROCS=2 go build -p 2 -trimpath \
			-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
				-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=32" \
			-o "$bindir/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver) >&2
		mv "$bindir/kube-apiserver.tmp" "$bindir/kube-apiserver"
	fi
	exec 9>&-
}

# load reads the state file; it fails when there is none or a server died.
load() {
	[[ -f $state ]] || return 1
	# shellcheck disable=SC1090
	source "$state"
	kill -0 "$etcd_pid" 2>/dev/null && kill -0 "$apiserver_pid" 2>/dev/null
}

print_env() {
	cat <<EOF
export KUBECONFIG=$run/admin.kubeconfig
export KUBE_VIEWER_KUBECONFIG=$run/viewer.kubeconfig
export KUBE_SERVER=https://127.0.0.1:$api_port
export KUBE_ETCD_PID=$etcd_pid
export KUBE_APISERVER_PID=$apiserver_pid
EOF
}

# certs makes a CA, the API server's serving certificate and the
# service-account signing key pair under $run/pki.
certs() {
	local pki=$run/pki
	mkdir -p "$pki"
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=dump-test-ca \
		-keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver \
		-keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n' >"$pki/san.ext"
	openssl x509 -req -days 3650 -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
		-CAcreateserial -extfile "$pki/san.ext" -out "$pki/apiserver.crt" 2>/dev/null
	openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
	openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

# kubeconfig NAME TOKEN NAMESPACE writes $run/NAME.kubeconfig.
kubeconfig() {
	local ca
	ca=$(base64 -w0 <"$run/pki/ca.crt")
	cat >"$run/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: dump-test
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority-data: $ca
users:
- name: $1
  user:
    token: $2
contexts:
- name: $1@dump-test
  context:
    cluster: dump-test
    user: $1
    namespace: $3
current-context: $1@dump-test
EOF
	chmod 600 "$run/$1.kubeconfig"
}

# wait_ready waits for etcd and then the API server to answer.
wait_ready() {
	local what=$1 pid=$2 log=$3
	shift 3
	for _ in $(seq 300); do
		if "$@" >/dev/null 2>&1; then
			return
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "kube.sh: $what exited during start; the end of its log:" >&2
			tail -20 "$log" >&2
			stop
			return 1
		fi
		sleep 0.1
	done
	echo "kube.sh: $what not ready after 30s; see $log" >&2
	stop
	return 1
}

start() {
	if load; then
		print_env
		return
	fi
	stop # a half-dead instance
	build
	# A free port can be taken by another process before etcd or the API
	# server binds it (tests start instances side by side): try new ports.
	local attempt
	for attempt in 1 2 3; do
		if launch; then
			print_env
			return
		fi
		echo "kube.sh: start attempt $attempt failed; trying other ports" >&2
	done
	return 1
}

# launch starts etcd and the API server on fresh ports; it fails (and cleans
# up) when either does not come up.
launch() {
	mkdir -p "$run"
	chmod 700 "$run"
	certs
	printf '%s,admin,uid-admin,"system:masters"\n%s,viewer,uid-viewer,"dump:viewers"\n' \
		"$admin_token" "$viewer_token" >"$run/tokens.csv"
	etcd_port=$(free_port)
	peer_port=$(free_port)
	api_port=$(free_port)
	data=$(mktemp -d -t dump-etcd.XXXXXX)

	setsid "$bindir/etcd" --name dump-test --data-dir "$data" \
		--listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
		--listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-cluster "dump-test=http://127.0.0.1:$peer_port" \
		>"$run/etcd.log" 2>&1 </dev/null &
	etcd_pid=$!
	apiserver_pid=$etcd_pid # until it runs, so that stop finds something to kill
	printf 'etcd_pid=%s\napiserver_pid=%s\napi_port=%s\ndata=%s\n' "$etcd_pid" "$apiserver_pid" "$api_port" "$data" >"$state"
	wait_ready etcd "$etcd_pid" "$run/etcd.log" curl -fsS "http://127.0.0.1:$etcd_port/health" || return 1

	local pki=$run/pki issuer=https://kubernetes.default.svc.cluster.local
	setsid "$bindir/kube-apiserver" \
		--etcd-servers "http://127.0.0.1:$etcd_port" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
		--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
		--client-ca-file "$pki/ca.crt" \
		--service-account-issuer "$issuer" --api-audiences "$issuer" \
		--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
		--authorization-mode RBAC --token-auth-file "$run/tokens.csv" \
		--service-cluster-ip-range 10.0.0.0/24 \
		--endpoint-reconciler-type none \
		--kubelet-preferred-address-types InternalIP --kubelet-port "${KUBELET_PORT:-10250}" --kubelet-timeout 5s \
		>"$run/apiserver.log" 2>&1 </dev/null &
	apiserver_pid=$!
	printf 'etcd_pid=%s\napiserver_pid=%s\napi_port=%s\ndata=%s\n' "$etcd_pid" "$apiserver_pid" "$api_port" "$data" >"$state"
	wait_ready kube-apiserver "$apiserver_pid" "$run/apiserver.log" \
		curl -fsS --cacert "$pki/ca.crt" -H "Authorization: Bearer $admin_token" "https://127.0.0.1:$api_port/readyz" || return 1

	kubeconfig admin "$admin_token" default
	kubeconfig viewer "$viewer_token" "${KUBE_VIEWER_NAMESPACE:-teleport}"
	if [[ -n ${KUBE_WATCH_PID:-} ]]; then
		KUBE_RUN_DIR=$run setsid bash -c 'while kill -0 "$1" 2>/dev/null && [[ -f $2 ]]; do sleep 2; done; "$3" stop' \
			watch "$KUBE_WATCH_PID" "$state" "$here/kube.sh" >/dev/null 2>&1 </dev/null &
	fi
}

# end PID: SIGCONT first, since a test may have stopped it (SIGSTOP).
end() {
	local pid=$1
	kill -0 "$pid" 2>/dev/null || return 0
	kill -CONT "$pid" 2>/dev/null || true
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

stop() {
	[[ -f $state ]] || return 0
	# shellcheck disable=SC1090
	source "$state"
	end "$apiserver_pid"
	end "$etcd_pid"
	rm -rf "$data" "$run/pki" "$run/tokens.csv" "$run"/*.kubeconfig "$state"
}

case ${1:-} in
start) start ;;
stop) stop ;;
env) load && print_env || {
	echo "kube.sh: not running; use: $0 start" >&2
	exit 1
} ;;
build) build ;;
*)
	echo "usage: $0 build|start|stop|env" >&2
	exit 2
	;;
esac
