-- Product detail of a random product id in 1..BENCH_PRODUCTS.
local n = tonumber(os.getenv("BENCH_PRODUCTS") or "10000")
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) math.randomseed(os.time() * 1000 + (tid or 0)) end
request = function()
  return wrk.format("GET", "/api/v1/products/" .. math.random(1, n))
end
