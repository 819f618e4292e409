-- event_emit.lua — append one event to a capped event stream.
--
-- KEYS[1]  Pevents, Pevents:audit, or Pevents:discard (kept empty)
-- ARGV[1]  cap: approximate (MAXLEN ~) when positive; 0 keeps nothing (exact
--          MAXLEN 0: the same XADD, its entry trimmed at once)
-- ARGV[2..] field, value, field, value, ...
-- Returns  the new entry id.
if ARGV[1] == '0' then
  return redis.call('XADD', KEYS[1], 'MAXLEN', '0', '*', unpack(ARGV, 2))
end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 2))
