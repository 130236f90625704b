#!/bin/sh
# make-journal-fixture.sh SYSROOT [UNIT...]
#
# Writes a real systemd journal file into SYSROOT/var/log/journal/<machine-id>/
# (machine id from SYSROOT/etc/machine-id) with entries for each UNIT
# (default: teleport.service k3s.service): some from the last hour and some
# three days old, relative to now. It builds a journal export stream and
# converts it with systemd-journal-remote (Debian: apt-get install
# systemd-journal-remote). Read it back with:
#   journalctl --directory SYSROOT/var/log/journal -u teleport.service --since -24h -o short-iso
# Go tests use internal/journaltest, which does the same in process.
set -eu

usage() { echo "usage: $0 SYSROOT [UNIT...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
root=$1
shift
[ $# -gt 0 ] || set -- teleport.service k3s.service
units=$*

remote=""
for p in /lib/systemd/systemd-journal-remote /usr/lib/systemd/systemd-journal-remote; do
	[ -x "$p" ] && remote=$p && break
done
[ -n "$remote" ] || { echo "$0: systemd-journal-remote not found: apt-get install systemd-journal-remote" >&2; exit 1; }

machine=$(head -n1 "$root/etc/machine-id" 2>/dev/null || true)
[ -n "$machine" ] || machine=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
host=$(head -n1 "$root/etc/hostname" 2>/dev/null || echo fixture-host)
dir="$root/var/log/journal/$machine"
mkdir -p "$dir"

now=$(date +%s)
old_boot=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
new_boot=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
old_start=$((now - 3 * 86400 - 600)) # the old boot began shortly before its entries
new_start=$((now - 7200))

# entry BOOT BOOT_START_S AGE_S UNIT PRIORITY MESSAGE
entry() {
	t=$((now - $3))
	printf '__REALTIME_TIMESTAMP=%s000000\n' "$t"
	printf '__MONOTONIC_TIMESTAMP=%s000000\n' "$((t - $2))"
	printf '_BOOT_ID=%s\n_MACHINE_ID=%s\n_HOSTNAME=%s\n' "$1" "$machine" "$host"
	printf '_SYSTEMD_UNIT=%s\n_SYSTEMD_SLICE=system.slice\n_TRANSPORT=stdout\n' "$4"
	printf 'SYSLOG_IDENTIFIER=%s\n_COMM=%s\n_PID=%s\n_UID=0\n_GID=0\n' "${4%.service}" "${4%.service}" "$((1000 + ${#4}))"
	printf 'PRIORITY=%s\nMESSAGE=%s\n\n' "$5" "$6"
}

{
	# in time order, as a journal is written
	for unit in $units; do
		entry "$old_boot" "$old_start" $((3 * 86400)) "$unit" 6 "${unit%.service}: OLD entry from three days ago: starting"
	done
	for unit in $units; do
		entry "$old_boot" "$old_start" $((3 * 86400 - 5)) "$unit" 3 "${unit%.service}: OLD entry from three days ago: connection refused"
	done
	for unit in $units; do
		entry "$new_boot" "$new_start" 3600 "$unit" 6 "${unit%.service}: RECENT entry: service started"
	done
	for unit in $units; do
		entry "$new_boot" "$new_start" 1800 "$unit" 4 "${unit%.service}: RECENT entry: retrying in 5s"
	done
	for unit in $units; do
		entry "$new_boot" "$new_start" 60 "$unit" 6 "${unit%.service}: RECENT entry: ready"
	done
} | "$remote" -o "$dir/system.journal" - 2>/dev/null

echo "$dir/system.journal"
