-- ticket_pointer.lua — the lookup pointer from a ticket to its account.
--
-- KEYS[1]  Pticket:<id>   (<id>: a keyed MAC of the ticket, never the ticket)
-- ARGV[1]  account id   ARGV[2]  TTL (ms), the same as the ticket record's
-- Returns  1
--
-- Only a lookup (the ticket alone does not say which slot holds its record);
-- never decisive: spending re-checks the record inside the account's slot.
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
