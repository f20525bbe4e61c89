-- Keyword search with one of the URL-encoded queries in BENCH_QUERIES
-- (comma-separated), sorted by default.
local qs = {}
for q in string.gmatch(os.getenv("BENCH_QUERIES") or "%E8%BF%9E%E8%A1%A3%E8%A3%99", "[^,]+") do qs[#qs + 1] = q end
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) math.randomseed(os.time() * 1000 + (tid or 0)) end
request = function()
  return wrk.format("GET", "/api/v1/products?q=" .. qs[math.random(#qs)] .. "&page_size=20")
end
