-- ARGV[3]: most jobs to claim, ARGV[4]: lease expiry (ms).
-- Returns 8 strings per job: id, lane, payload, attempt, max_attempts,
-- enqueued_at, due_at, ordered (0|1).
local max = tonumber(ARGV[3])
local lease_until = ARGV[4]

-- Lanes whose wait is over become claimable (bounded, whatever the backlog).
for _, lane in ipairs(redis.call('ZRANGEBYSCORE', TIMED, '-inf', NOW, 'LIMIT', 0, 1000)) do
  refresh(lane)
end

-- Jobs whose worker stopped renewing the lease go back (or die).
for _, id in ipairs(redis.call('ZRANGEBYSCORE', INFLIGHT, '-inf', '(' .. NOW, 'LIMIT', 0, 256)) do
  local j = jk(id)
  local lane = redis.call('HGET', j, 'lane')
  redis.call('ZREM', INFLIGHT, id)
  redis.call('SREM', BUSY, lane)
  local err = 'lease expired: the worker stopped renewing it (crashed or lost)'
  if tonumber(redis.call('HGET', j, 'attempts')) >= tonumber(redis.call('HGET', j, 'max_attempts')) then
    to_dead(id, err)
  else
    redis.call('HSET', j, 'state', 'queued', 'last_error', err, 'updated_at', AT)
    redis.call('HDEL', j, 'lease_until')
    requeue(id, AT)
  end
  refresh(lane)
end

local out = {}
local claimed = 0
local guard = 0
while claimed < max and guard < max * 4 do
  guard = guard + 1
  local pick = redis.call('ZRANGE', DUE, 0, 0)
  if #pick == 0 then break end
  local lane = pick[1]
  local head = redis.call('ZRANGE', lk(lane), 0, 0)
  local id = head[1] and string.sub(head[1], 18)
  local f = id and redis.call('HMGET', jk(id), 'due_at', 'payload', 'max_attempts', 'enqueued_at', 'ordered')
  if not id or tonumber(f[1]) > NOW then
    refresh(lane)
  else
    local j = jk(id)
    redis.call('ZREM', lk(lane), head[1])
    redis.call('ZREM', QUEUED, id)
    local attempt = redis.call('HINCRBY', j, 'attempts', '1')
    redis.call('HSET', j, 'state', 'running', 'lease_until', lease_until, 'updated_at', AT)
    redis.call('ZADD', INFLIGHT, lease_until, id)
    redis.call('HSET', SERVED, lane, redis.call('INCR', B .. ':counter'))
    -- The job's own flag is its lane's: a lane keeps its ordering while it has jobs.
    if f[5] == '1' then
      -- Busy now: out of DUE, where it was picked (a lane is in one set at most).
      redis.call('SADD', BUSY, lane)
      redis.call('ZREM', DUE, lane)
    else
      refresh(lane, '0')
    end
    out[#out + 1] = id
    out[#out + 1] = lane
    out[#out + 1] = f[2]
    out[#out + 1] = tostring(attempt)
    out[#out + 1] = f[3]
    out[#out + 1] = f[4]
    out[#out + 1] = f[1]
    out[#out + 1] = f[5]
    claimed = claimed + 1
  end
end
return out
