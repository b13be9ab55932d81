-- ARGV[3]: id. Moves a dead job back to the queue, due now, attempts reset.
local id = ARGV[3]
local j = jk(id)
if redis.call('HGET', j, 'state') ~= 'dead' then return 0 end
redis.call('ZREM', DEAD, id)
redis.call('HSET', j, 'state', 'queued', 'attempts', '0', 'updated_at', AT)
requeue(id, AT)
refresh(redis.call('HGET', j, 'lane'))
return 1
