-- Records an invalidation (keeping the latest time) and removes what it covers.
-- KEYS[1] the invalidation mark, KEYS[2] the entry (by key) or the tag's set (by tag).
-- ARGV[1] now_ms, ARGV[2] how long to remember the mark (ms), ARGV[3] 'key' or 'tag'.
local now = tonumber(ARGV[1])
local mark = tonumber(redis.call('GET', KEYS[1]) or '0')
if now > mark then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if ARGV[3] == 'tag' then
  local members = redis.call('SMEMBERS', KEYS[2])
  for _, entry in ipairs(members) do
    redis.call('DEL', entry)
  end
  redis.call('DEL', KEYS[2])
  return #members
end
return redis.call('DEL', KEYS[2])
