-- ARGV[3..]: 5 values per job: id, attempt, done | retry | dead | release | defer,
-- retry/defer time (ms), error. Returns per job 1 if this attempt still owned
-- it, 0 if its lease had been lost to another attempt. A worker's finished
-- jobs share one call; each lane they touched is recomputed once.
local out = {}
local lanes = {}
for o = 3, #ARGV, 5 do
  local id, attempt, kind, at, err = ARGV[o], ARGV[o + 1], ARGV[o + 2], ARGV[o + 3], ARGV[o + 4]
  local j = jk(id)
  local f = redis.call('HMGET', j, 'state', 'attempts', 'lane', 'ordered', 'dedupe')
  if f[1] ~= 'running' or f[2] ~= attempt then
    out[#out + 1] = 0
  else
    local lane = f[3]
    redis.call('ZREM', INFLIGHT, id)
    if f[4] == '1' then redis.call('SREM', BUSY, lane) end
    redis.call('HDEL', j, 'lease_until')
    if kind == 'done' then
      redis.call('HSET', j, 'state', 'done', 'updated_at', AT)
      redis.call('ZADD', FINISHED, AT, id)
      drop_dedupe(id, f[5])
    elseif kind == 'retry' then
      redis.call('HSET', j, 'state', 'queued', 'last_error', err, 'updated_at', AT)
      requeue(id, at)
    elseif kind == 'defer' then
      redis.call('HINCRBY', j, 'attempts', '-1')
      redis.call('HSET', j, 'state', 'queued', 'updated_at', AT)
      requeue(id, at)
    elseif kind == 'release' then
      redis.call('HINCRBY', j, 'attempts', '-1')
      redis.call('HSET', j, 'state', 'queued', 'updated_at', AT)
      requeue(id, redis.call('HGET', j, 'due_at'))
    else
      to_dead(id, err)
    end
    lanes[lane] = f[4]
    out[#out + 1] = 1
  end
end
-- An ordered lane was busy with this job: it is free now and in neither set.
for lane, ordered in pairs(lanes) do refresh(lane, ordered, ordered == '1') end
return out
