-- Product detail of a product id in 1..BENCH_PRODUCTS, drawn uniformly
-- (BENCH_PATTERN=uniform, the default) or from a Zipf distribution of
-- exponent BENCH_ZIPF_S (BENCH_PATTERN=zipf; rank r is read with weight
-- 1/r^s, and ranks are scattered over the ids so that popular products are
-- not neighbours).
local n = tonumber(os.getenv("BENCH_PRODUCTS") or "10000")
local pattern = os.getenv("BENCH_PATTERN") or "uniform"
local s = tonumber(os.getenv("BENCH_ZIPF_S") or "0.99")
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end

local cdf
function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  if pattern == "zipf" then
    cdf = {}
    local sum = 0
    for r = 1, n do sum = sum + 1 / r ^ s; cdf[r] = sum end
    for r = 1, n do cdf[r] = cdf[r] / sum end
  end
end

-- 7919 is prime and does not divide 10^k, so rank -> id is a bijection for
-- the catalog sizes the load test uses.
local function id_of(rank) return (rank * 7919) % n + 1 end

local function zipf_rank()
  local u, lo, hi = math.random(), 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo
end

request = function()
  local id
  if cdf then id = id_of(zipf_rank()) else id = math.random(1, n) end
  return wrk.format("GET", "/api/v1/products/" .. id)
end
