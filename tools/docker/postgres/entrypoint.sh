#!/bin/sh
# First start: initdb as postgres with the superuser named by POSTGRES_USER, then the database POSTGRES_DB.
set -eu
user="${POSTGRES_USER:-postgres}"; password="${POSTGRES_PASSWORD:-postgres}"; db="${POSTGRES_DB:-$user}"
chown -R postgres:postgres "$PGDATA" /run/postgresql
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  printf '%s' "$password" > /tmp/pwfile && chown postgres /tmp/pwfile
  su postgres -c "initdb -D '$PGDATA' -U '$user' --pwfile=/tmp/pwfile --auth-host=scram-sha-256 --auth-local=trust -E UTF8" >/dev/null
  rm -f /tmp/pwfile
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  su postgres -c "pg_ctl -D '$PGDATA' -o '-c listen_addresses=' -w start" >/dev/null
  if [ "$db" != "postgres" ]; then
    su postgres -c "psql -q -U '$user' -d postgres -c 'create database \"$db\"'"
  fi
  su postgres -c "pg_ctl -D '$PGDATA' -m fast -w stop" >/dev/null
  echo "PostgreSQL init process complete; ready for start up."
fi
# Arguments are postgres options, as with the official image (e.g. -c max_connections=1000).
exec su postgres -c "exec postgres -D '$PGDATA' -c listen_addresses='*' $*"
