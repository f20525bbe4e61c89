#!/usr/bin/env bash
# Runs what `docker compose up` runs (docker-compose.yml), on a machine without
# a Docker engine: the same binary for every step, the same environment
# (configs/compose.env plus the DSN, Redis address and owner secret file the
# compose file adds), against the local MariaDB and Redis instead of the mysql
# and redis containers. Then checks what an operator checks: /readyz green and
# the bootstrap owner able to log in with the password from the secret file;
# and the demo profile: demo data seeded, the demo owner logs in, the sandbox
# and /docs answer.
#
# Usage: scripts/compose-first-run.sh     (exit 0 when every check passed)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "compose-first-run: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

tmp="$(mktemp -d)"
pids=()
db=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$db" ]; then mysql_cli -e "DROP DATABASE IF EXISTS \`$db\`" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# mysql service → the local MariaDB (scripts/start-mysql.sh prints a DSN
# without database name: user:pass@tcp(host:port)/).
base_dsn="$(scripts/start-mysql.sh)"
my_user="${base_dsn%%:*}"
rest="${base_dsn#*:}"
my_pass="${rest%%@tcp(*}"
hostport="${rest#*@tcp(}"
hostport="${hostport%%)*}"
mysql_cli() { mysql -h"${hostport%%:*}" -P"${hostport##*:}" -u"$my_user" -p"$my_pass" "$@"; }
# the test account may create only minimall_test_* databases
db="minimall_test_compose_$$"
mysql_cli -e "CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"

# redis service → the local Redis.
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }
  redis-server --port 6379 --save "" --appendonly no --daemonize yes >/dev/null
  for _ in $(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
redis-cli ping >/dev/null || fail "redis is not answering"

# The image: one binary, built once, used by every step below.
# MINIMALL_BIN: a binary already built from this tree (CI passes its own).
bin="${MINIMALL_BIN:-}"
if [ -z "$bin" ]; then
  log "building the binary"
  go build -o "$tmp/minimall" ./cmd/minimall
  bin="$tmp/minimall"
fi

# The secret file of the compose file's owner_password secret.
head -c 24 /dev/urandom | base64 > "$tmp/owner_password"
owner_password="$(cat "$tmp/owner_password")"

port="$(free_port)"
run_env() {
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" bash -c 'set -a; . configs/compose.env; set +a; exec "$@"' _ \
    env MINIMALL_DB_DSN="${base_dsn}${db}" \
    MINIMALL_REDIS_ADDR=127.0.0.1:6379 \
    MINIMALL_JWT_SECRET="first-run-$(head -c 24 /dev/urandom | base64)" \
    MINIMALL_BOOTSTRAP_OWNER_PASSWORD_FILE="$tmp/owner_password" \
    MINIMALL_HTTP_ADDR="127.0.0.1:$port" \
    MINIMALL_PUBLIC_BASE_URL="http://127.0.0.1:$port" \
    "$@"
}

wait_healthy() { # the compose healthcheck: `minimall healthcheck`
  local addr="$1"
  for _ in $(seq 300); do
    MINIMALL_HTTP_ADDR="$addr" "$bin" healthcheck 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

log "migrate service: minimall migrate"
run_env "$bin" migrate
log "serve must refuse nothing and bootstrap the owner: minimall serve"
run_env "$bin" serve >"$tmp/serve.log" 2>&1 &
pids+=($!)
wait_healthy "127.0.0.1:$port" || { cat "$tmp/serve.log" >&2; fail "serve never became healthy"; }

url="http://127.0.0.1:$port"
ready="$(curl -sS -w ' %{http_code}' "$url/readyz")"
case "$ready" in *'"status":"ok"'*' 200') log "readyz: $ready" ;; *) fail "readyz: $ready" ;; esac
login="$(curl -sS -w ' %{http_code}' -H 'Content-Type: application/json' \
  -d "{\"username\":\"owner\",\"password\":\"$owner_password\"}" "$url/api/v1/admin/auth/login")"
case "$login" in *'"access_token"'*' 200') log "owner login: 200" ;; *) fail "owner login: $login" ;; esac
wrong="$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"username":"owner","password":"not-the-password"}' "$url/api/v1/admin/auth/login")"
[ "$wrong" = 401 ] || fail "a wrong owner password answered $wrong"

# The demo profile: serve --demo on its own SQLite file, sandbox beside it.
log "demo profile: minimall serve --demo"
dport="$(free_port)"
sport="$(free_port)"
env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
  MINIMALL_ENV=development MINIMALL_HTTP_ADDR="127.0.0.1:$dport" MINIMALL_PUBLIC_BASE_URL="http://127.0.0.1:$dport" \
  MINIMALL_SANDBOX_ADDR="127.0.0.1:$sport" MINIMALL_DB_DRIVER=sqlite MINIMALL_DB_DSN="$tmp/demo/demo.db" \
  MINIMALL_MEDIA_DIR="$tmp/demo/media" \
  "$bin" serve --demo >"$tmp/demo.log" 2>&1 &
pids+=($!)
wait_healthy "127.0.0.1:$dport" || { cat "$tmp/demo.log" >&2; fail "demo never became healthy"; }
durl="http://127.0.0.1:$dport"
dlogin="$(curl -sS -w ' %{http_code}' -H 'Content-Type: application/json' \
  -d '{"username":"owner","password":"demo-owner-pass"}' "$durl/api/v1/admin/auth/login")"
case "$dlogin" in *'"access_token"'*' 200') log "demo owner login: 200" ;; *) fail "demo owner login: $dlogin" ;; esac
customer="$(curl -sS -w ' %{http_code}' -H 'Content-Type: application/json' -d '{"code":"test-first-run"}' "$durl/api/v1/auth/wechat/login")"
case "$customer" in *'"access_token"'*' 200') log "demo customer login through the sandbox: 200" ;; *) fail "demo customer login: $customer" ;; esac
docs="$(curl -sS -o /dev/null -w '%{http_code}' "$durl/docs")"
[ "$docs" = 200 ] || fail "GET /docs answered $docs"
log "every check passed"
echo "compose-first-run: 1 passed, 0 failed"
