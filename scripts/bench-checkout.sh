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
# BENCH_MODES ("spread hot") picks the runs. Before each timed run every
# customer places one untimed order, so the run measures customers who have
# ordered before (a first checkout also creates the customer's guard row);
# BENCH_WARM=0 skips it.
#
# Before each run, the database's own ceiling for the same transaction shape
# (order, item and event inserts, the guarded stock decrement, commit) is
# measured in the same run from a plain Go client with the same workers over
# the server's pool size, and the shop's rate is printed as a ratio of it.
# BENCH_SERVER_BIN runs another build of the server (e.g. an older commit's)
# against the same tools, for before/after figures.
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${BENCH_DURATION:-10s}"
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
server_bin="${BENCH_SERVER_BIN:-bin/minimall}"
[ -n "${BENCH_SERVER_BIN:-}" ] || go build -o bin/minimall ./cmd/minimall
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

# The per-customer limits (unpaid orders, checkouts a minute) would refuse
# most of a load test's orders; they are raised so the write path is measured.
echo "bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
MINIMALL_JWT_SECRET="$secret" MINIMALL_HTTP_ADDR="127.0.0.1:${api_port}" \
  MINIMALL_ORDER_MAX_UNPAID=1000 MINIMALL_ORDER_CHECKOUT_PER_MINUTE=1000000 \
  MINIMALL_DB_DRIVER=mysql MINIMALL_DB_DSN="$dsn" "$server_bin" serve > "$work/server.out" 2> "$work/server.log" &
pids+=($!)
for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:${api_port}/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

for mode in ${BENCH_MODES:-spread hot}; do
  echo
  bin/checkoutbench -url "http://127.0.0.1:${api_port}" -dsn "$dsn" -secret "$secret" \
    -mode "$mode" -conns "$conns" -duration "$duration" -customers 2000 -readers "${BENCH_READERS:-8}" \
    -warm="$([ "${BENCH_WARM:-1}" = 0 ] && echo false || echo true)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
