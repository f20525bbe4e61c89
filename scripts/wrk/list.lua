-- Product list: a random category (BENCH_CATEGORY_IDS, comma-separated), a
-- random sort and one of the first pages.
local cats = {}
for id in string.gmatch(os.getenv("BENCH_CATEGORY_IDS") or "1", "[^,]+") do cats[#cats + 1] = id end
local sorts = { "default", "price_asc", "price_desc", "sales" }
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) math.randomseed(os.time() * 1000 + (tid or 0)) end
request = function()
  local path = "/api/v1/products?category_id=" .. cats[math.random(#cats)] ..
    "&sort=" .. sorts[math.random(#sorts)] .. "&page=" .. math.random(1, 3) .. "&page_size=20"
  return wrk.format("GET", path)
end
