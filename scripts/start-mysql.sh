#!/usr/bin/env bash
# Makes sure a local MariaDB (or MySQL) server is installed and running, creates
# the dedicated test account over the unix socket, and prints the DSN that
# MINIMALL_TEST_MYSQL_DSN expects (no database name: each test package creates
# and drops its own database).
#
# Usage: export MINIMALL_TEST_MYSQL_DSN="$(scripts/start-mysql.sh)"
#        export MINIMALL_TEST_MYSQL_REPLICA_DSN="$(scripts/start-mysql.sh replica)"
#
# "replica" starts a second server replicating from this one
# (scripts/start-mysql-replica.sh). With MINIMALL_MYSQL_BINLOG=1 a server that
# this script starts writes a binary log (row format, server id 1), which a
# replica needs.
set -euo pipefail

if [ "${1:-}" = replica ]; then
  exec "$(dirname "$0")/start-mysql-replica.sh"
fi

user="${MINIMALL_TEST_MYSQL_USER:-minimall_test}"
pass="${MINIMALL_TEST_MYSQL_PASSWORD:-minimall-test-pass}"
log() { echo "start-mysql: $*" >&2; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

server_bin() { command -v mariadbd || command -v mysqld || ls /usr/sbin/mariadbd /usr/sbin/mysqld 2>/dev/null | head -n1 || true; }

if [ -z "$(server_bin)" ]; then
  log "no MariaDB server found; installing mariadb-server with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >&2
  as_root apt-get install -y -qq mariadb-server mariadb-client >&2
fi

ping_db() { as_root mysqladmin --protocol=socket -uroot ping >/dev/null 2>&1 || mysqladmin -h127.0.0.1 -uroot ping >/dev/null 2>&1; }

if ! ping_db; then
  log "MariaDB is not running; starting it"
  as_root mkdir -p /run/mysqld
  as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
  if [ ! -d /var/lib/mysql/mysql ]; then
    as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql >&2 || as_root mysql_install_db --user=mysql >&2
  fi
  # A pid file left by a server that is gone may name a process that now is
  # something else (the replica, after a restore from a snapshot):
  # start-stop-daemon --oknodo would then start nothing and say nothing.
  stale="$(cat /run/mysqld/mysqld.pid 2>/dev/null || true)"
  if [ -n "$stale" ] && { ! [ -e "/proc/$stale" ] || tr '\0' ' ' < "/proc/$stale/cmdline" 2>/dev/null | grep -q -- '--defaults-file='; }; then
    log "removing the stale pid file /run/mysqld/mysqld.pid (process $stale is not this server)"
    as_root rm -f /run/mysqld/mysqld.pid
  fi
  extra=()
  if [ "${MINIMALL_MYSQL_BINLOG:-0}" = 1 ]; then
    extra=(--log-bin=mysql-bin --server-id=1 --binlog-format=ROW --binlog-expire-logs-seconds=86400 --max-binlog-size=64M)
  fi
  as_root start-stop-daemon --start --oknodo --background --pidfile /run/mysqld/mysqld.pid --exec "$(server_bin)" -- --user=mysql "${extra[@]}" >&2 \
    || as_root service mariadb start >&2 || as_root service mysql start >&2
  for _ in $(seq 1 60); do
    ping_db && break
    sleep 1
  done
  ping_db || { log "MariaDB did not come up"; exit 1; }
fi

# A fresh MariaDB authenticates root through the unix socket only. The test
# packages run in parallel, each with its own pool (up to 64 connections), so
# the default limit of 151 connections is raised.
sql="CREATE USER IF NOT EXISTS '${user}'@'localhost' IDENTIFIED BY '${pass}';
CREATE USER IF NOT EXISTS '${user}'@'127.0.0.1' IDENTIFIED BY '${pass}';
ALTER USER '${user}'@'localhost' IDENTIFIED BY '${pass}';
ALTER USER '${user}'@'127.0.0.1' IDENTIFIED BY '${pass}';
GRANT ALL PRIVILEGES ON \`minimall\\_test\\_%\`.* TO '${user}'@'localhost';
GRANT ALL PRIVILEGES ON \`minimall\\_test\\_%\`.* TO '${user}'@'127.0.0.1';
FLUSH PRIVILEGES;
SET GLOBAL max_connections = GREATEST(@@max_connections, 1000);"
if ! as_root mysql --protocol=socket -uroot -e "$sql" 2>/dev/null; then
  mysql -h127.0.0.1 -uroot -e "$sql"
fi

# Durable commits, as in production: the benchmarks record these.
mysql -h127.0.0.1 -u"${user}" -p"${pass}" -N -e "SELECT @@version" >&2

echo "${user}:${pass}@tcp(127.0.0.1:3306)/"
