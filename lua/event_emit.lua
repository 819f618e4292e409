-- event_emit.lua — append one event to the capped events stream.
--
-- KEYS[1]  Pevents
-- ARGV[1]  approximate cap (MAXLEN ~)
-- ARGV[2..] field, value, field, value, ...
-- Returns  the new entry id.
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 2))
