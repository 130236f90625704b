# free-port.sh — sourced by the scripts that start test servers.

# free_port prints a TCP port on 127.0.0.1 that nobody listens on now. Another
# process may still take it before the caller binds it: callers that start
# servers side by side retry on failure.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		# A refused connection means nobody listens there.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "$(basename "$0"): no free port found" >&2
	return 1
}
