#!/usr/bin/env bash
# A PostgreSQL primary and a streaming replica of it on loopback, each a cluster of its own in
# DIR (initdb, then pg_basebackup -R), trusting local connections as user postgres. For the
# replica tests (tests/test_replica_streaming.py) and for trying docs/deploying.md's "Read
# replicas" by hand; Debian's server binaries (package postgresql) are all it needs.
#
#   scripts/pg-replica.sh start DIR PRIMARY_PORT REPLICA_PORT   # make and start both
#   scripts/pg-replica.sh stop-replica DIR                      # the replica down ...
#   scripts/pg-replica.sh start-replica DIR                     # ... and back
#   scripts/pg-replica.sh stop DIR                              # stop both, remove DIR
#
# As root the servers run as the postgres user (initdb refuses root); PG_BIN names another
# directory of server binaries than the newest /usr/lib/postgresql/*/bin.
set -euo pipefail
PG_BIN="${PG_BIN:-$(find /usr/lib/postgresql -path '*/bin/initdb' 2>/dev/null | sort -V | tail -1 | xargs -r dirname)}"
export PATH="${PG_BIN:+$PG_BIN:}$PATH"
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
ctl() { as_owner pg_ctl -D "$1" -l "$1.log" -w -t 60 "${@:2}" >/dev/null; }

command=$1 dir=$2
case $command in
start)
    primary_port=$3 replica_port=$4
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_owner initdb -D "$dir/primary" -U postgres --auth=trust --no-sync >/dev/null
    # Durability is not under test: no fsync, so the clusters start and write quickly.
    cat >>"$dir/primary/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $primary_port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
    ctl "$dir/primary" start
    as_owner pg_basebackup -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir/replica" \
        --write-recovery-conf --wal-method=stream --checkpoint=fast --no-sync
    echo "port = $replica_port" >>"$dir/replica/postgresql.conf"
    ctl "$dir/replica" start
    ;;
stop-replica) ctl "$dir/replica" stop -m fast ;;
start-replica) ctl "$dir/replica" start ;;
stop)
    for cluster in replica primary; do
        [ -f "$dir/$cluster/postmaster.pid" ] && ctl "$dir/$cluster" stop -m immediate
    done
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start DIR PRIMARY_PORT REPLICA_PORT | stop-replica DIR | start-replica DIR | stop DIR" >&2
    exit 2
    ;;
esac
