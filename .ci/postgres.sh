# shellcheck shell=bash
# Throwaway PostgreSQL for the tests, sourced (not run) by .ci/run:
#
#   source .ci/postgres.sh && postgres_start && trap postgres_stop EXIT
#
# postgres_start installs Debian's postgresql package with apt-get when its
# binaries are missing, initdb's a cluster into a temporary folder owned by
# the postgres user, starts it with pg_ctl on a free loopback port (TCP on
# 127.0.0.1 only, no Unix socket in a shared place, trust authentication on
# loopback for this throwaway cluster), and exports
# WXPAY_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/postgres, which the
# PostgreSQL tests of examples/ use (each test creates its own database).
# postgres_stop stops the server and removes the folder.

postgres_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

postgres_start() {
  local bin port
  if ! bin=$(postgres_bin); then
    echo "-- installing postgresql (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(postgres_bin) || { echo "postgresql binaries not found after install" >&2; return 1; }
  fi
  PG_TMP=$(mktemp -d /tmp/wxpay-pg.XXXXXX)
  chown postgres: "$PG_TMP"
  chmod 700 "$PG_TMP"
  # A free loopback port: bind port 0 and read what the kernel chose.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000)))
  su postgres -s /bin/sh -c "'$bin/initdb' -D '$PG_TMP/data' -U postgres -A trust -E UTF8 --no-sync" >"$PG_TMP/initdb.log" 2>&1 ||
    { cat "$PG_TMP/initdb.log" >&2; return 1; }
  su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$PG_TMP/data' -l '$PG_TMP/server.log' -w -t 60 \
    -o \"-h 127.0.0.1 -p $port -k '$PG_TMP' -c max_connections=300 -c fsync=on\" start" >/dev/null ||
    { cat "$PG_TMP/server.log" >&2; return 1; }
  PG_BIN=$bin
  export WXPAY_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  echo "-- postgresql $("$bin/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port (WXPAY_TEST_POSTGRES)"
}

postgres_stop() {
  [ -n "${PG_TMP:-}" ] || return 0
  su postgres -s /bin/sh -c "'$PG_BIN/pg_ctl' -D '$PG_TMP/data' -m fast -w stop" >/dev/null 2>&1 || true
  rm -rf "$PG_TMP"
  unset PG_TMP WXPAY_TEST_POSTGRES
}
