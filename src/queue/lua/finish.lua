-- ARGV[3]: id, ARGV[4]: attempt, ARGV[5]: done | retry | dead | release | defer,
-- ARGV[6]: retry/defer time (ms), ARGV[7]: error. Returns 1 if this attempt still
-- owned the job, 0 if its lease had been lost to another attempt.
local id, attempt, kind, at, err = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local j = jk(id)
local f = redis.call('HMGET', j, 'state', 'attempts', 'lane', 'ordered')
if f[1] ~= 'running' or f[2] ~= attempt then return 0 end
local lane = f[3]
redis.call('ZREM', B .. ':inflight', id)
if f[4] == '1' then redis.call('SREM', B .. ':busy', lane) end
redis.call('HDEL', j, 'lease_until')
if kind == 'done' then
  redis.call('HSET', j, 'state', 'done', 'updated_at', NOW)
  redis.call('ZADD', B .. ':finished', NOW, id)
  drop_dedupe(id)
elseif kind == 'retry' then
  redis.call('HSET', j, 'state', 'queued', 'last_error', err, 'updated_at', NOW)
  requeue(id, tonumber(at))
elseif kind == 'defer' then
  redis.call('HINCRBY', j, 'attempts', -1)
  redis.call('HSET', j, 'state', 'queued', 'updated_at', NOW)
  requeue(id, tonumber(at))
elseif kind == 'release' then
  redis.call('HINCRBY', j, 'attempts', -1)
  redis.call('HSET', j, 'state', 'queued', 'updated_at', NOW)
  requeue(id, tonumber(redis.call('HGET', j, 'due_at')))
else
  to_dead(id, err)
end
refresh(lane)
return 1
