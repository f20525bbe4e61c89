-- Cart list of a random customer: one access token a line in BENCH_TOKENS.
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS") or "tokens.txt") do tokens[#tokens + 1] = line end
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) math.randomseed(os.time() * 1000 + (tid or 0)) end
request = function()
  return wrk.format("GET", "/api/v1/cart", { ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)] })
end
