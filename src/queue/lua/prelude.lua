-- Shared by every queue script. ARGV[1] is the queue's key base
-- ("{prefix:q:queue}", a hash tag, so every key of a queue lives in one
-- slot) and ARGV[2] is the current time in ms. Layout:
--   B:job:<id>      HASH   the job
--   B:lane:<lane>   ZSET   queued jobs of a lane; member "<seq 16 digits>:<id>",
--                          score = order_at (ordered lanes) or due_at
--   B:ordered       HASH   lane -> "1" | "0"
--   B:due           ZSET   lanes claimable now, score = last served counter
--   B:timed         ZSET   lanes claimable later, score = ready time
--   B:served        HASH   lane -> last served counter
--   B:busy          SET    ordered lanes with a job running
--   B:inflight      ZSET   running job ids, score = lease expiry
--   B:queued        ZSET   queued job ids, score = due time (stats)
--   B:dead          ZSET   dead job ids, score = time of death
--   B:finished      ZSET   done/cancelled job ids, score = time (pruning)
--   B:dedupe:<key>  STRING id of the job holding a dedupe key
local B = ARGV[1]
local NOW = tonumber(ARGV[2])

local function jk(id) return B .. ':job:' .. id end
local function lk(lane) return B .. ':lane:' .. lane end

-- Recomputes whether, and when, a lane can be claimed.
local function refresh(lane)
  redis.call('ZREM', B .. ':due', lane)
  redis.call('ZREM', B .. ':timed', lane)
  local ordered = redis.call('HGET', B .. ':ordered', lane) == '1'
  if ordered and redis.call('SISMEMBER', B .. ':busy', lane) == 1 then return end
  local head = redis.call('ZRANGE', lk(lane), 0, 0, 'WITHSCORES')
  if #head == 0 then
    redis.call('HDEL', B .. ':ordered', lane)
    redis.call('HDEL', B .. ':served', lane)
    return
  end
  local ready
  if ordered then
    ready = tonumber(redis.call('HGET', jk(string.sub(head[1], 18)), 'due_at'))
  else
    ready = tonumber(head[2])
  end
  if ready <= NOW then
    redis.call('ZADD', B .. ':due', tonumber(redis.call('HGET', B .. ':served', lane) or '0'), lane)
  else
    redis.call('ZADD', B .. ':timed', ready, lane)
  end
end

-- Puts a job (state already 'queued') back into its lane, due at `due`.
local function requeue(id, due)
  local j = jk(id)
  local lane = redis.call('HGET', j, 'lane')
  local ordered = redis.call('HGET', j, 'ordered')
  redis.call('HSET', j, 'due_at', due)
  redis.call('HSET', B .. ':ordered', lane, ordered)
  local score = due
  if ordered == '1' then score = tonumber(redis.call('HGET', j, 'order_at')) end
  redis.call('ZADD', lk(lane), score, redis.call('HGET', j, 'member'))
  redis.call('ZADD', B .. ':queued', due, id)
end

local function drop_dedupe(id)
  local key = redis.call('HGET', jk(id), 'dedupe')
  if key and key ~= '' and redis.call('GET', B .. ':dedupe:' .. key) == id then
    redis.call('DEL', B .. ':dedupe:' .. key)
  end
end

local function to_dead(id, err)
  redis.call('HSET', jk(id), 'state', 'dead', 'last_error', err, 'updated_at', NOW)
  redis.call('HDEL', jk(id), 'lease_until')
  redis.call('ZADD', B .. ':dead', NOW, id)
  drop_dedupe(id)
end
