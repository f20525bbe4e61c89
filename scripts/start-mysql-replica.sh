#!/usr/bin/env bash
# Starts a second MariaDB server on 127.0.0.1:3307, with its own data
# directory, replicating from the local server at 127.0.0.1:3306 (the one
# scripts/start-mysql.sh runs), and prints the DSN that
# MINIMALL_TEST_MYSQL_REPLICA_DSN expects (no database name).
#
#   export MINIMALL_TEST_MYSQL_DSN="$(scripts/start-mysql.sh)"
#   export MINIMALL_TEST_MYSQL_REPLICA_DSN="$(scripts/start-mysql-replica.sh)"
#
# The primary needs a binary log. When the running primary has none, it is
# restarted with one (after waiting, up to a minute, for a moment when no test
# account is connected). The replica applies only the databases whose names
# start with minimall_test_repl (replicate_wild_do_table), so other test
# suites writing to the primary cost it nothing and databases that existed
# before it cannot stop it. Idempotent: run it again and it only checks.
# Needs root (or sudo), like start-mysql.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${MINIMALL_REPLICA_PORT:-3307}"
base="${MINIMALL_REPLICA_DIR:-/var/lib/mysql-replica}"
sock="/run/mysqld/replica-${port}.sock"
user="${MINIMALL_TEST_MYSQL_USER:-minimall_test}"
pass="${MINIMALL_TEST_MYSQL_PASSWORD:-minimall-test-pass}"
repl_user="minimall_repl"
repl_pass="${MINIMALL_REPLICA_PASSWORD:-minimall-repl-pass}"
log() { echo "start-mysql-replica: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
server_bin() { command -v mariadbd || command -v mysqld || ls /usr/sbin/mariadbd /usr/sbin/mysqld 2>/dev/null | head -n1 || true; }

# The primary: installed, running, with the test account.
scripts/start-mysql.sh > /dev/null

primary() { as_root mysql --protocol=socket -uroot -N -e "$1" 2>/dev/null || mysql -h127.0.0.1 -P3306 -uroot -N -e "$1"; }
replica() { as_root mysql --protocol=socket --socket="$sock" -uroot -N -e "$1"; }

# 1. A binary log on the primary (log_bin cannot be switched on while it runs).
if [ "$(primary 'SELECT @@log_bin')" != 1 ]; then
  log "the primary at 127.0.0.1:3306 has no binary log; restarting it with one"
  for _ in $(seq 1 60); do
    busy="$(primary "SELECT COUNT(*) FROM information_schema.processlist WHERE user NOT IN ('root', 'system user', 'event_scheduler', '${repl_user}') AND id <> CONNECTION_ID()")"
    [ "$busy" = 0 ] && break
    sleep 1
  done
  as_root mysqladmin --protocol=socket -uroot shutdown 2>/dev/null || mysqladmin -h127.0.0.1 -uroot shutdown
  pid="$(cat /run/mysqld/mysqld.pid 2>/dev/null || true)"
  for _ in $(seq 1 120); do
    { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; } || break
    sleep 0.5
  done
  MINIMALL_MYSQL_BINLOG=1 scripts/start-mysql.sh > /dev/null
  [ "$(primary 'SELECT @@log_bin')" = 1 ] || { log "the primary still has no binary log"; exit 1; }
fi
primary "CREATE USER IF NOT EXISTS '${repl_user}'@'127.0.0.1' IDENTIFIED BY '${repl_pass}';
ALTER USER '${repl_user}'@'127.0.0.1' IDENTIFIED BY '${repl_pass}';
GRANT REPLICATION SLAVE ON *.* TO '${repl_user}'@'127.0.0.1';"

# 2. The replica's server.
as_root mkdir -p "$base" /run/mysqld /var/log/mysql
as_root chown mysql:mysql "$base" /run/mysqld /var/log/mysql 2>/dev/null || true
cnf="$base/my.cnf"
as_root tee "$cnf" > /dev/null <<EOF
[mysqld]
user = mysql
datadir = $base/data
socket = $sock
pid-file = /run/mysqld/replica-${port}.pid
port = $port
bind-address = 127.0.0.1
skip-name-resolve
server-id = 2
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
log-error = /var/log/mysql/replica-${port}.err
relay-log = replica-relay-bin
replicate-wild-do-table = minimall\_test\_repl%.%
max_connections = 500
innodb_buffer_pool_size = 64M
EOF
fresh=0
if [ ! -d "$base/data/mysql" ]; then
  log "initialising $base/data"
  as_root mariadb-install-db --no-defaults --user=mysql --datadir="$base/data" --auth-root-authentication-method=socket >/dev/null 2>&1 \
    || as_root mysql_install_db --no-defaults --user=mysql --datadir="$base/data" >&2
  fresh=1
fi
ping_replica() { as_root mysqladmin --protocol=socket --socket="$sock" -uroot ping >/dev/null 2>&1; }
# A pid file left by a server that is gone (a machine restored from a
# snapshot keeps /run) may name a process that now is something else, even the
# primary: start-stop-daemon would then report "already running" and start
# nothing. A pid file whose process is not this replica is removed first.
pidfile="/run/mysqld/replica-${port}.pid"
clear_stale_pidfile() {
  local pid
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  [ -n "$pid" ] || return 0
  if ! tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--defaults-file=$cnf"; then
    log "removing the stale pid file $pidfile (process $pid is not this replica)"
    as_root rm -f "$pidfile"
  fi
}
if ! ping_replica; then
  clear_stale_pidfile
  log "starting the replica on 127.0.0.1:${port}"
  as_root start-stop-daemon --start --background --pidfile "$pidfile" \
    --exec "$(server_bin)" -- --defaults-file="$cnf" >&2
  for _ in $(seq 1 60); do
    ping_replica && break
    sleep 1
  done
  ping_replica || { log "the replica did not come up; see /var/log/mysql/replica-${port}.err"; exit 1; }
fi

# 3. The test account on the replica (its mysql schema is not replicated):
# the test databases, and the right to read the replication status.
replica "CREATE USER IF NOT EXISTS '${user}'@'localhost' IDENTIFIED BY '${pass}';
CREATE USER IF NOT EXISTS '${user}'@'127.0.0.1' IDENTIFIED BY '${pass}';
ALTER USER '${user}'@'localhost' IDENTIFIED BY '${pass}';
ALTER USER '${user}'@'127.0.0.1' IDENTIFIED BY '${pass}';
GRANT ALL PRIVILEGES ON \`minimall\\_test\\_%\`.* TO '${user}'@'localhost';
GRANT ALL PRIVILEGES ON \`minimall\\_test\\_%\`.* TO '${user}'@'127.0.0.1';
GRANT SLAVE MONITOR ON *.* TO '${user}'@'localhost';
GRANT SLAVE MONITOR ON *.* TO '${user}'@'127.0.0.1';
FLUSH PRIVILEGES;"

# 4. Replication: pointed at the primary's current position when new or
# broken (a test replica holds only throwaway databases), started otherwise.
status() { as_root mysql --protocol=socket --socket="$sock" -uroot -e "SHOW SLAVE STATUS\G" | awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }'; }
point_at_primary() {
  read -r file pos < <(primary "SHOW MASTER STATUS" | awk '{ print $1, $2 }')
  log "replicating from 127.0.0.1:3306 at ${file}:${pos}"
  replica "STOP SLAVE; RESET SLAVE ALL;
CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=3306, MASTER_USER='${repl_user}',
  MASTER_PASSWORD='${repl_pass}', MASTER_LOG_FILE='${file}', MASTER_LOG_POS=${pos},
  MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1, MASTER_USE_GTID=no;
START SLAVE;"
}
if [ "$fresh" = 1 ] || [ -z "$(status Master_Host)" ]; then
  point_at_primary
elif [ "$(status Last_SQL_Errno)" != 0 ] || [ "$(status Last_IO_Errno)" != 0 ]; then
  log "replication had stopped with an error: $(status Last_SQL_Error)$(status Last_IO_Error)"
  point_at_primary
else
  replica "START SLAVE" 2>/dev/null || true
fi
for _ in $(seq 1 30); do
  [ "$(status Slave_IO_Running)" = Yes ] && [ "$(status Slave_SQL_Running)" = Yes ] && break
  sleep 1
done
if [ "$(status Slave_IO_Running)" != Yes ] || [ "$(status Slave_SQL_Running)" != Yes ]; then
  log "replication is not running: IO=$(status Slave_IO_Running) SQL=$(status Slave_SQL_Running) $(status Last_IO_Error) $(status Last_SQL_Error)"
  exit 1
fi

echo "${user}:${pass}@tcp(127.0.0.1:${port})/"
