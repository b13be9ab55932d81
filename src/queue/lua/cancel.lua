-- ARGV[3]: id. Returns cancelled | running | finished | not_found.
local id = ARGV[3]
local j = jk(id)
local st = redis.call('HGET', j, 'state')
if not st then return 'not_found' end
if st == 'running' then return 'running' end
if st ~= 'queued' then return 'finished' end
local lane = redis.call('HGET', j, 'lane')
redis.call('ZREM', lk(lane), redis.call('HGET', j, 'member'))
redis.call('ZREM', QUEUED, id)
redis.call('HSET', j, 'state', 'cancelled', 'updated_at', AT)
redis.call('ZADD', FINISHED, AT, id)
drop_dedupe(id)
refresh(lane)
return 'cancelled'
