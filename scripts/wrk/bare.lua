-- The bare gin handler: a fixed 1 KB JSON body, the ceiling of this machine.
request = function() return wrk.format("GET", "/bare") end
