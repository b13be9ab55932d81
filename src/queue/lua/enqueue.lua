-- ARGV[3..]: 7 values per job: id, lane, ordered (0|1), payload, max_attempts,
-- run_at, dedupe key ('' for none). Returns "C:<id>" (created) or "E:<id>"
-- (an existing job with that id or active dedupe key) per job.
local out = {}
local touched = {}
local n = (#ARGV - 2) / 7
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
    local seq = redis.call('INCR', B .. ':seq')
    local member = string.format('%016d', seq) .. ':' .. id
    if redis.call('HEXISTS', B .. ':ordered', lane) == 1 then
      ordered = redis.call('HGET', B .. ':ordered', lane)
    end
    redis.call('HSET', jk(id), 'id', id, 'lane', lane, 'ordered', ordered, 'payload', payload,
      'state', 'queued', 'attempts', 0, 'max_attempts', max, 'order_at', run_at, 'due_at', run_at,
      'member', member, 'enqueued_at', NOW, 'updated_at', NOW, 'dedupe', dedupe)
    if dedupe ~= '' then redis.call('SET', B .. ':dedupe:' .. dedupe, id) end
    requeue(id, tonumber(run_at))
    touched[lane] = true
    out[#out + 1] = 'C:' .. id
  end
end
for lane, _ in pairs(touched) do refresh(lane) end
return out
