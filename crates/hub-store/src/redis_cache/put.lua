-- Stores a cache entry unless its key or one of its tags was invalidated at or after
-- the moment the read that produced it began (the no-resurrection rule).
-- KEYS[1] entry, KEYS[2] the key's invalidation mark, then per tag: its mark, its set.
-- ARGV[1] fetched_at_ms, ARGV[2] stale_until_ms (the entry's expiry), ARGV[3] the entry.
local fetched = tonumber(ARGV[1])
local function invalidated_since(mark_key)
  local mark = redis.call('GET', mark_key)
  return mark and tonumber(mark) >= fetched
end
if invalidated_since(KEYS[2]) then
  return 0
end
for i = 3, #KEYS, 2 do
  if invalidated_since(KEYS[i]) then
    return 0
  end
end
local until_ms = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[3], 'PXAT', ARGV[2])
for i = 4, #KEYS, 2 do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PEXPIRETIME', KEYS[i]) < until_ms then
    redis.call('PEXPIREAT', KEYS[i], ARGV[2])
  end
end
return 1
