#!/usr/bin/env bash
# Checkout load test on MySQL over loopback: seeds 10,000 products / 30,000
# SKUs, starts the server, then drives POST /api/v1/orders with
# BENCH_CONNECTIONS (32) connections for BENCH_DURATION (15s), first spread
# over every SKU, then all on one hot SKU, and checks stock conservation after
# each run (stock + units of live orders unchanged). Prints orders/s, p50, p99
# and the durability settings of the database. During the hot run,
# BENCH_READERS (8) connections also read the hot product's public page, and
# the run prints how often that page was reloaded from the database
# (minimall_catalog_cache_detail_loads_total): about once per stock lag.
# BENCH_MODES ("spread hot") picks the runs.
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${BENCH_DURATION:-15s}"
conns="${BENCH_CONNECTIONS:-32}"
api_port=18080
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p bin
go build -o bin/minimall ./cmd/minimall
go build -o bin/bench ./scripts/bench
go build -o bin/checkoutbench ./scripts/checkoutbench

secret="bench-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
base_dsn="$(scripts/start-mysql.sh)"
user="${base_dsn%%:*}"; rest="${base_dsn#*:}"; pass="${rest%%@*}"
dbname="minimall_test_checkout"
mysql -h127.0.0.1 -u"$user" -p"$pass" -e "DROP DATABASE IF EXISTS ${dbname}; CREATE DATABASE ${dbname} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
dsn="${base_dsn%/}/${dbname}"
echo "bench: seeding ${dbname}" >&2
bin/bench seed -driver mysql -dsn "$dsn" -products "${BENCH_PRODUCTS:-10000}" -skus 3 \
  -customers 1 -cart-lines 1 -secret "$secret" -tokens "$work/tokens.txt" > /dev/null

MINIMALL_JWT_SECRET="$secret" MINIMALL_HTTP_ADDR="127.0.0.1:${api_port}" \
  MINIMALL_DB_DRIVER=mysql MINIMALL_DB_DSN="$dsn" bin/minimall serve > "$work/server.out" 2> "$work/server.log" &
pids+=($!)
for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:${api_port}/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

for mode in ${BENCH_MODES:-spread hot}; do
  echo
  bin/checkoutbench -url "http://127.0.0.1:${api_port}" -dsn "$dsn" -secret "$secret" \
    -mode "$mode" -conns "$conns" -duration "$duration" -customers 2000 -readers "${BENCH_READERS:-8}"
done
