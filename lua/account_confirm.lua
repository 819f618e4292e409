-- account_confirm.lua — registration step 3: make a provisional account real,
-- or (its email turned out taken) discard it.
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:none   a key of the account's slot that is never written
-- ARGV[1]  "1" confirm | "0" discard
-- Returns  1 when the account is now ready (idempotent) or discarded; 0 when
--          it no longer exists (its provisional TTL ran out: the caller
--          releases the index).
--
-- Discarding deletes the provisional account (never visible: ready=0). Both
-- run the same commands — each spends one no-op on KEYS[2] (the confirm's DEL,
-- the discard's PERSIST) — so a taken email costs what a free one does.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 'ready', '1')
  redis.call('PERSIST', KEYS[1])
  redis.call('DEL', KEYS[2])
else
  redis.call('HSET', KEYS[1], 'ready', '0')
  redis.call('PERSIST', KEYS[2])
  redis.call('DEL', KEYS[1])
end
return 1
