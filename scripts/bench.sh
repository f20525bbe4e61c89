#!/usr/bin/env bash
# Load test of the catalog and cart reads over loopback.
#
#   scripts/bench.sh          MySQL: seeds 10,000 products / 30,000 SKUs and 500 carts
#   scripts/bench.sh demo     demo mode: embedded SQLite with the demo catalog
#
# Each endpoint is driven by wrk (BENCH_CONNECTIONS connections, 32 by default,
# for BENCH_DURATION, 15s by default) in the same run as a bare gin handler
# that returns a fixed 1 KB JSON body; the table shows requests/s, p50, p99 and
# each endpoint's ratio to the bare handler. Everything stays on 127.0.0.1 and
# every process is stopped at the end. BENCH_ENDPOINTS (e.g. "cart") runs a
# subset.
#
# Catalog growth: BENCH_PRODUCTS (10000; e.g. 100000) sizes the MySQL catalog
# (3 SKUs a product, seeded in batched inserts), BENCH_PATTERN picks the
# detail ids (uniform, the default, or zipf with exponent BENCH_ZIPF_S, 0.99),
# and BENCH_CACHE_BYTES sets MINIMALL_CATALOG_CACHE_MAX_BYTES (the server's
# default when unset). Before the endpoints run, every product page is read
# once (BENCH_WARM=0 skips it). Beside each endpoint the table shows the
# cache hit rate of its measured run (from /metrics) and the server's RSS
# after it.
#
# BENCH_PROFILE=1 also turns on the server's loopback profiler
# (MINIMALL_DEBUG_ADDR=127.0.0.1:18082) and writes a CPU profile of each
# endpoint's measured run to bin/profiles/<mode>-<endpoint>.pprof; read one with
# `go tool pprof -top bin/minimall bin/profiles/mysql-detail.pprof`.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-mysql}"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
duration="${BENCH_DURATION:-15s}"
conns="${BENCH_CONNECTIONS:-32}"
threads="${BENCH_THREADS:-2}"
api_port=18080
bare_port=18081
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq >&2 && apt-get install -y -qq wrk >&2
  else sudo apt-get update -qq >&2 && sudo apt-get install -y -qq wrk >&2; fi
fi

# A server left on the bench ports (another run) would answer in our place.
for port in "$api_port" "$bare_port" 18082 18090; do
  if curl -s -o /dev/null "http://127.0.0.1:${port}/"; then
    echo "bench: something already listens on 127.0.0.1:${port}; stop it first" >&2
    exit 1
  fi
done

mkdir -p bin
# BENCH_SERVER_BIN runs another build of the server (an older commit's) with
# the same tools, for before/after figures.
server_bin="${BENCH_SERVER_BIN:-$PWD/bin/minimall}"
[ -n "${BENCH_SERVER_BIN:-}" ] || go build -o bin/minimall ./cmd/minimall
go build -o bin/bench ./scripts/bench

secret="bench-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export MINIMALL_JWT_SECRET="$secret"
export MINIMALL_HTTP_ADDR="127.0.0.1:${api_port}"
debug_port=18082
profile="${BENCH_PROFILE:-0}"
if [ "$profile" = 1 ]; then
  export MINIMALL_DEBUG_ADDR="127.0.0.1:${debug_port}"
  mkdir -p bin/profiles
fi
if [ -n "${BENCH_CACHE_BYTES:-}" ]; then
  export MINIMALL_CATALOG_CACHE_MAX_BYTES="$BENCH_CACHE_BYTES"
fi
export BENCH_PATTERN="${BENCH_PATTERN:-uniform}"
case "$BENCH_PATTERN" in uniform|zipf) ;; *) echo "bench: BENCH_PATTERN must be uniform or zipf" >&2; exit 2 ;; esac

wait_http() {
  for _ in $(seq 1 200); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench: $1 never answered" >&2
  return 1
}

case "$mode" in
  mysql)
    base_dsn="$(scripts/start-mysql.sh)"
    user="${base_dsn%%:*}"; rest="${base_dsn#*:}"; pass="${rest%%@*}"
    dbname="minimall_test_bench"
    mysql -h127.0.0.1 -u"$user" -p"$pass" -e "DROP DATABASE IF EXISTS ${dbname}; CREATE DATABASE ${dbname} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    dsn="${base_dsn%/}/${dbname}"
    echo "bench: seeding ${dbname}" >&2
    bin/bench seed -driver mysql -dsn "$dsn" -products "${BENCH_PRODUCTS:-10000}" -skus 3 \
      -customers 500 -cart-lines 8 -secret "$secret" -tokens "$work/tokens.txt" > "$work/env"
    export MINIMALL_DB_DRIVER=mysql MINIMALL_DB_DSN="$dsn"
    "$server_bin" serve > "$work/server.out" 2> "$work/server.log" &
    pids+=($!)
    server_pid=$!
    endpoints="detail list search cart"
    ;;
  demo)
    # exec: the recorded pid is the server's own, so cleanup stops it.
    (cd "$work" && MINIMALL_SANDBOX_ADDR=127.0.0.1:18090 exec "$server_bin" serve --demo > server.out 2> server.log) &
    pids+=($!)
    server_pid=$!
    wait_http "http://127.0.0.1:${api_port}/healthz"
    bin/bench demo-env -url "http://127.0.0.1:${api_port}" > "$work/env"
    endpoints="detail list"
    ;;
  *)
    echo "usage: scripts/bench.sh [mysql|demo]" >&2
    exit 2
    ;;
esac
endpoints="${BENCH_ENDPOINTS:-$endpoints}"
set -a; . "$work/env"; set +a
export BENCH_TOKENS="$work/tokens.txt"

bin/bench bare -addr "127.0.0.1:${bare_port}" > /dev/null 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:${api_port}/healthz"
wait_http "http://127.0.0.1:${bare_port}/bare"
if [ "${BENCH_WARM:-1}" = 1 ]; then
  bin/bench warm -url "http://127.0.0.1:${api_port}" -products "$BENCH_PRODUCTS" >&2
fi

# metric NAME: a counter or gauge of the server's /metrics.
metric() { curl -fsS "http://127.0.0.1:${api_port}/metrics" | awk -v n="$1" '$1 == n { printf "%.0f", $2 }'; }
rss_mib() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/${server_pid}/status"; }

# run NAME SCRIPT URL: two warm-up seconds, then the measured run (profiled
# for all but its last second when BENCH_PROFILE=1).
run() {
  wrk -t"$threads" -c"$conns" -d2s -s "scripts/wrk/$2.lua" "$3" > /dev/null 2>&1 || true
  local prof_pid=""
  if [ "$profile" = 1 ] && [ "$1" != bare ]; then
    secs="$(awk -v d="$duration" 'BEGIN { sub(/s$/, "", d); s = int(d) - 1; if (s < 1) s = 1; print s }')"
    curl -fsS -o "bin/profiles/${mode}-$1.pprof" "http://127.0.0.1:${debug_port}/debug/pprof/profile?seconds=${secs}" &
    prof_pid=$!
  fi
  local h0 m0
  h0="$(metric minimall_catalog_cache_hits_total)"; m0="$(metric minimall_catalog_cache_misses_total)"
  wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "scripts/wrk/$2.lua" "$3" > "$work/$1.txt"
  if [ -n "$prof_pid" ]; then wait "$prof_pid" || echo "bench: no profile for $1" >&2; fi
  local h1 m1
  h1="$(metric minimall_catalog_cache_hits_total)"; m1="$(metric minimall_catalog_cache_misses_total)"
  awk -v h="$((h1 - h0))" -v m="$((m1 - m0))" 'BEGIN { if (h + m == 0) print "-"; else printf "%.1f%%", 100 * h / (h + m) }' > "$work/$1.hit"
  rss_mib > "$work/$1.rss"
}
to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); v=v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v=v*1000 }; printf "%.2f", v }'; }
field() { # file percentile
  awk -v p="$2" '$1 == p { print $2 }' "$1" | head -n1 | to_ms
}
rps() { awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$1"; }
errors() { awk '/Non-2xx|Socket errors/ { printf "%s ", $0 }' "$1"; }

echo "-" > "$work/bare.rss"
run_bare() {
  wrk -t"$threads" -c"$conns" -d2s -s scripts/wrk/bare.lua "http://127.0.0.1:${bare_port}" > /dev/null 2>&1 || true
  wrk -t"$threads" -c"$conns" -d"$duration" --latency -s scripts/wrk/bare.lua "http://127.0.0.1:${bare_port}" > "$work/bare.txt"
  echo "-" > "$work/bare.hit"
}
run_bare
for e in $endpoints; do
  run "$e" "$e" "http://127.0.0.1:${api_port}"
done

bare_rps="$(rps "$work/bare.txt")"
echo
echo "mode=${mode} products=${BENCH_PRODUCTS} pattern=${BENCH_PATTERN} connections=${conns} threads=${threads} duration=${duration} cores=$(nproc) load_before=${load_before} load_after=$(cut -d' ' -f1-3 /proc/loadavg)"
echo "cache: entries=$(metric minimall_catalog_cache_entries) bytes=$(metric minimall_catalog_cache_bytes) evictions=$(metric minimall_catalog_cache_evictions_total) budget=${MINIMALL_CATALOG_CACHE_MAX_BYTES:-default}"
printf "%-8s %10s %9s %9s %7s %8s %8s  %s\n" endpoint "req/s" "p50 ms" "p99 ms" ratio "hit" "RSS MiB" notes
for e in bare $endpoints; do
  r="$(rps "$work/$e.txt")"
  ratio="$(awk -v a="$r" -v b="$bare_rps" 'BEGIN { printf "%.2f", a / b }')"
  printf "%-8s %10s %9s %9s %7s %8s %8s  %s\n" "$e" "$r" "$(field "$work/$e.txt" 50%)" "$(field "$work/$e.txt" 99%)" "$ratio" \
    "$(cat "$work/$e.hit")" "$(cat "$work/$e.rss")" "$(errors "$work/$e.txt")"
done
