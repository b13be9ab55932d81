-- ARGV[3]: id, ARGV[4]: attempt, ARGV[5]: new lease expiry (ms).
local j = jk(ARGV[3])
local f = redis.call('HMGET', j, 'state', 'attempts')
if f[1] ~= 'running' or f[2] ~= ARGV[4] then return 0 end
redis.call('HSET', j, 'lease_until', ARGV[5])
redis.call('ZADD', INFLIGHT, ARGV[5], ARGV[3])
return 1
