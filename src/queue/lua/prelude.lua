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
-- The same time as Redis was given it, for writes: a Lua number passed to
-- redis.call is formatted back into a string with printf.
local AT = ARGV[2]
-- Built once per call: every key name below is a new Lua string otherwise.
local DUE, TIMED, ORDERED, SERVED = B .. ':due', B .. ':timed', B .. ':ordered', B .. ':served'
local BUSY, INFLIGHT, QUEUED = B .. ':busy', B .. ':inflight', B .. ':queued'
local DEAD, FINISHED = B .. ':dead', B .. ':finished'

local function jk(id) return B .. ':job:' .. id end
local function lk(lane) return B .. ':lane:' .. lane end

-- Recomputes whether, and when, a lane can be claimed. Each call here runs
-- on Redis's one thread, so callers pass what they know: `ordered` (the
-- lane's flag), and `free` when the lane is not busy and in neither DUE nor
-- TIMED (an ordered lane whose running job just finished: a busy lane is
-- kept out of both). Scores go in as the strings Redis gave: a Lua number
-- would be formatted back with printf.
local function refresh(lane, ordered, free)
  if ordered == nil then ordered = redis.call('HGET', ORDERED, lane) end
  ordered = ordered == '1'
  local function out_of(set) if not free then redis.call('ZREM', set, lane) end end
  if ordered and not free and redis.call('SISMEMBER', BUSY, lane) == 1 then
    out_of(DUE); out_of(TIMED)
    return
  end
  local head = redis.call('ZRANGE', lk(lane), 0, 0, 'WITHSCORES')
  if #head == 0 then
    out_of(DUE); out_of(TIMED)
    redis.call('HDEL', ORDERED, lane)
    redis.call('HDEL', SERVED, lane)
    return
  end
  local ready = head[2]
  if ordered then ready = redis.call('HGET', jk(string.sub(head[1], 18)), 'due_at') end
  if tonumber(ready) <= NOW then
    out_of(TIMED)
    redis.call('ZADD', DUE, redis.call('HGET', SERVED, lane) or '0', lane)
  else
    out_of(DUE)
    redis.call('ZADD', TIMED, ready, lane)
  end
end

-- Puts a job (state already 'queued') back into its lane, due at `due` (ms,
-- as a string).
local function requeue(id, due)
  local j = jk(id)
  local f = redis.call('HMGET', j, 'lane', 'ordered', 'order_at', 'member')
  local lane, ordered = f[1], f[2]
  redis.call('HSET', j, 'due_at', due)
  redis.call('HSET', ORDERED, lane, ordered)
  local score = due
  if ordered == '1' then score = f[3] end
  redis.call('ZADD', lk(lane), score, f[4])
  redis.call('ZADD', QUEUED, due, id)
end

-- `key`: the job's dedupe field when the caller has read it already.
local function drop_dedupe(id, key)
  if key == nil then key = redis.call('HGET', jk(id), 'dedupe') end
  if key and key ~= '' and redis.call('GET', B .. ':dedupe:' .. key) == id then
    redis.call('DEL', B .. ':dedupe:' .. key)
  end
end

local function to_dead(id, err)
  redis.call('HSET', jk(id), 'state', 'dead', 'last_error', err, 'updated_at', AT)
  redis.call('HDEL', jk(id), 'lease_until')
  redis.call('ZADD', DEAD, AT, id)
  drop_dedupe(id)
end
