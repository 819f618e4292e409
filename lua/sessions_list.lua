-- sessions_list.lua — the account's live refresh families with their
-- metadata, most recently used first. Reads only.
--
-- KEYS[1]  P{A}:sessions
-- ARGV[1]  session key prefix "P{A}:session:" (same hash tag: one slot)
-- Returns  a flat array: id, created_at, last_used_at, user_agent, ip, id, …
--          (families whose hash has expired are left out). O(families of the
--          account), bounded by the per-account cap.
local out = {}
for _, family in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do
  local f = redis.call('HMGET', ARGV[1] .. family, 'created_at', 'last_used_at', 'user_agent', 'ip')
  if f[1] then
    table.insert(out, family)
    table.insert(out, f[1])
    table.insert(out, f[2] or f[1])
    table.insert(out, f[3] or '')
    table.insert(out, f[4] or '')
  end
end
return out
