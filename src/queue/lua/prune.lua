-- ARGV[3]: cutoff (ms). Deletes up to 1000 finished jobs older than it.
local ids = redis.call('ZRANGEBYSCORE', FINISHED, '-inf', '(' .. ARGV[3], 'LIMIT', 0, 1000)
for _, id in ipairs(ids) do
  redis.call('DEL', jk(id))
  redis.call('ZREM', FINISHED, id)
end
return #ids
