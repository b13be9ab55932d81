-- ARGV[3]: most jobs to claim, ARGV[4]: lease expiry (ms).
-- Returns 8 strings per job: id, lane, payload, attempt, max_attempts,
-- enqueued_at, due_at, ordered (0|1).
local max = tonumber(ARGV[3])
local lease_until = ARGV[4]

-- Lanes whose wait is over become claimable (bounded, whatever the backlog).
for _, lane in ipairs(redis.call('ZRANGEBYSCORE', B .. ':timed', '-inf', NOW, 'LIMIT', 0, 1000)) do
  refresh(lane)
end

-- Jobs whose worker stopped renewing the lease go back (or die).
for _, id in ipairs(redis.call('ZRANGEBYSCORE', B .. ':inflight', '-inf', '(' .. NOW, 'LIMIT', 0, 256)) do
  local j = jk(id)
  local lane = redis.call('HGET', j, 'lane')
  redis.call('ZREM', B .. ':inflight', id)
  redis.call('SREM', B .. ':busy', lane)
  local err = 'lease expired: the worker stopped renewing it (crashed or lost)'
  if tonumber(redis.call('HGET', j, 'attempts')) >= tonumber(redis.call('HGET', j, 'max_attempts')) then
    to_dead(id, err)
  else
    redis.call('HSET', j, 'state', 'queued', 'last_error', err, 'updated_at', NOW)
    redis.call('HDEL', j, 'lease_until')
    requeue(id, NOW)
  end
  refresh(lane)
end

local out = {}
local claimed = 0
local guard = 0
while claimed < max and guard < max * 4 do
  guard = guard + 1
  local pick = redis.call('ZRANGE', B .. ':due', 0, 0)
  if #pick == 0 then break end
  local lane = pick[1]
  local head = redis.call('ZRANGE', lk(lane), 0, 0)
  local id = head[1] and string.sub(head[1], 18)
  local due = id and redis.call('HGET', jk(id), 'due_at')
  if not id or tonumber(due) > NOW then
    refresh(lane)
  else
    local j = jk(id)
    redis.call('ZREM', lk(lane), head[1])
    redis.call('ZREM', B .. ':queued', id)
    local attempt = redis.call('HINCRBY', j, 'attempts', 1)
    redis.call('HSET', j, 'state', 'running', 'lease_until', lease_until, 'updated_at', NOW)
    redis.call('ZADD', B .. ':inflight', lease_until, id)
    redis.call('HSET', B .. ':served', lane, redis.call('INCR', B .. ':counter'))
    if redis.call('HGET', B .. ':ordered', lane) == '1' then redis.call('SADD', B .. ':busy', lane) end
    refresh(lane)
    local f = redis.call('HMGET', j, 'payload', 'max_attempts', 'enqueued_at', 'ordered')
    out[#out + 1] = id
    out[#out + 1] = lane
    out[#out + 1] = f[1]
    out[#out + 1] = tostring(attempt)
    out[#out + 1] = f[2]
    out[#out + 1] = f[3]
    out[#out + 1] = due
    out[#out + 1] = f[4]
    claimed = claimed + 1
  end
end
return out
