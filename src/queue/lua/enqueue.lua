-- ARGV[3..]: 7 values per job: id, lane, ordered (0|1), payload, max_attempts,
-- run_at, dedupe key ('' for none). Returns "C:<id>" (created) or "E:<id>"
-- (an existing job with that id or active dedupe key) per job.
-- Redis runs the script on its one thread: each call below costs every other
-- client, so a lane's ordering flag is read once per batch and the new job's
-- lane entries are written directly rather than through `requeue`.
local out = {}
local lanes = {}
local n = (#ARGV - 2) / 7
local seq = redis.call('INCRBY', B .. ':seq', n) - n
for i = 0, n - 1 do
  local o = 3 + i * 7
  local id, lane, ordered, payload = ARGV[o], ARGV[o + 1], ARGV[o + 2], ARGV[o + 3]
  local max, run_at, dedupe = ARGV[o + 4], ARGV[o + 5], ARGV[o + 6]
  local existing = nil
  if redis.call('EXISTS', jk(id)) == 1 then
    existing = id
  elseif dedupe ~= '' then
    local other = redis.call('GET', B .. ':dedupe:' .. dedupe)
    if other then
      local st = redis.call('HGET', jk(other), 'state')
      if st == 'queued' or st == 'running' then existing = other end
    end
  end
  if existing then
    out[#out + 1] = 'E:' .. existing
  else
    seq = seq + 1
    local member = string.format('%016d', seq) .. ':' .. id
    -- A lane keeps the ordering it was created with while it has jobs.
    local known = lanes[lane]
    if known == nil then
      known = redis.call('HGET', ORDERED, lane)
      if not known then
        known = ordered
        redis.call('HSET', ORDERED, lane, ordered)
      end
      lanes[lane] = known
    end
    ordered = known
    redis.call('HSET', jk(id), 'id', id, 'lane', lane, 'ordered', ordered, 'payload', payload,
      'state', 'queued', 'attempts', '0', 'max_attempts', max, 'order_at', run_at, 'due_at', run_at,
      'member', member, 'enqueued_at', AT, 'updated_at', AT, 'dedupe', dedupe)
    if dedupe ~= '' then redis.call('SET', B .. ':dedupe:' .. dedupe, id) end
    -- As `requeue` would: ordered lanes sort by order_at, which is run_at here.
    redis.call('ZADD', lk(lane), run_at, member)
    redis.call('ZADD', QUEUED, run_at, id)
    out[#out + 1] = 'C:' .. id
  end
end
for lane, ordered in pairs(lanes) do refresh(lane, ordered) end
return out
