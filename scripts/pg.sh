#!/usr/bin/env bash
# A throwaway PostgreSQL for tests: `scripts/pg.sh start DIR` initialises a cluster in DIR (owned
# by the postgres user, as initdb refuses root), starts it on a free loopback port with trust
# authentication and prints `postgres://postgres@127.0.0.1:PORT/postgres`; `scripts/pg.sh stop DIR`
# stops it. `scripts/pg.sh start DIR PORT` restarts a stopped cluster on a known port.
# Needs PostgreSQL's server binaries (Debian: postgresql).
set -euo pipefail
action=${1:?start|stop}
dir=${2:?data directory}
bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)
[ -x "$bin/pg_ctl" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$action" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_postgres "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    port=${3:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    as_postgres "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-h 127.0.0.1 -p $port -k /tmp -c max_connections=400 -c fsync=on -c shared_buffers=64MB" start >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_postgres "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
