-- ticket_create.lua — the authoritative record of a single-use ticket.
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:ticket:<id>
-- KEYS[3]  P{A}:reset_ticket   id of the account's newest reset ticket
-- ARGV[1]  purpose "activate" | "reset"   ARGV[2]  TTL (ms)
-- ARGV[3]  ticket id <id> (a keyed MAC of the ticket, never the ticket)
-- Returns  1 when created; 0 when the account is missing or not ready.
--
-- Record: purpose, and the account's `email` and `cv` (credential version,
-- absent = 0) now: spending re-checks both, so a ticket mailed to an address
-- the account no longer has, or issued before a password reset or change, is
-- dead. A reset ticket also becomes the account's only live one.
--
-- Every call runs the same commands whether or not the account exists: for a
-- missing one (the decoy of an unknown email) the writes land on keys of that
-- never-existing account with a 1 ms TTL, so an unknown email costs the Redis
-- work a known one does and leaves nothing behind.
local a = redis.call('HMGET', KEYS[1], 'ready', 'email', 'cv')
local live = a[1] == '1'
local ttl = live and ARGV[2] or '1'
redis.call('HSET', KEYS[2], 'purpose', ARGV[1], 'email', a[2] or '', 'cv', a[3] or '0')
redis.call('PEXPIRE', KEYS[2], ttl)
if ARGV[1] == 'reset' then
  redis.call('SET', KEYS[3], ARGV[3], 'PX', ttl)
end
if live then
  return 1
end
return 0
