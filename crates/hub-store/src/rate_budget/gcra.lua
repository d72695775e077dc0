-- One admission, learning, pause or look at a rate budget: the GCRA of
-- hub_resilience::rate_budget::gcra, line for line, on Redis's own clock.
--
-- KEYS[1]  the budget's hash: tat, pause_until, quota_interval, quota_until,
--          window_interval, window_until (whole microseconds of Redis TIME).
-- ARGV     op, interval_us, burst, read_share, max_learned_us, learned_ttl_us, then
--   admit:    class ('read' | 'write'), max_wait_us       -> {admitted 0|1, wait_us}
--   learn:    quota_limit (0 = none), quota_window_us,
--             has_remaining (0|1), remaining, resets_us   -> {1}
--   pause:    for_us                                      -> {1}
--   snapshot:                                             -> {remaining, interval_us,
--             paused_for_us, quota_interval_us, window_interval_us, window_resets_us}
--             (-1 where nothing is learned)
-- Numbers stay below 2^53 (the caller clamps), so Lua's doubles are exact.

local key = KEYS[1]
local op = ARGV[1]
local interval_us = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local read_share = tonumber(ARGV[4])
local max_learned = tonumber(ARGV[5])
local learned_ttl = tonumber(ARGV[6])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

local fields = { 'tat', 'pause_until', 'quota_interval', 'quota_until', 'window_interval', 'window_until' }
local raw = redis.call('HMGET', key, unpack(fields))
local s = {}
for i, name in ipairs(fields) do
  s[name] = tonumber(raw[i]) or 0
end

local function interval()
  local t = interval_us
  if now < s.quota_until and s.quota_interval > t then t = s.quota_interval end
  if now < s.window_until and s.window_interval > t then t = s.window_interval end
  return t
end

local function capacity(t, class)
  local tau = (burst - 1) * t
  if class == 'read' then tau = math.floor(tau * read_share) end
  return t + tau
end

local function save()
  local args = {}
  local last = now
  for _, name in ipairs(fields) do
    table.insert(args, name)
    table.insert(args, string.format('%.0f', s[name]))
    if s[name] > last then last = s[name] end
  end
  redis.call('HSET', key, unpack(args))
  -- Kept while anything in it still matters, plus a second.
  redis.call('PEXPIRE', key, math.ceil((last - now) / 1000) + 1000)
end

local function pause(for_us)
  local pause_end = now + math.min(for_us, max_learned)
  if pause_end > s.pause_until then s.pause_until = pause_end end
  local t = interval()
  local floor = pause_end + capacity(t, 'write') - t
  if floor > s.tat then s.tat = floor end
end

if op == 'admit' then
  local class = ARGV[7]
  local max_wait = tonumber(ARGV[8])
  local t = interval()
  local new_tat = math.max(s.tat, now) + t
  local allow = math.max(new_tat - capacity(t, class), now, s.pause_until)
  local wait = allow - now
  if wait > max_wait then
    return { 0, wait }
  end
  s.tat = new_tat
  save()
  return { 1, wait }
elseif op == 'learn' then
  local limit = tonumber(ARGV[7])
  local window = math.min(tonumber(ARGV[8]), max_learned)
  if limit > 0 and window > 0 then
    s.quota_interval = math.ceil(window / limit)
    s.quota_until = now + learned_ttl
  end
  if ARGV[9] == '1' then
    local remaining = tonumber(ARGV[10])
    local reset = math.min(tonumber(ARGV[11]), max_learned)
    if reset > 0 then
      if remaining == 0 then
        pause(reset)
      else
        s.window_interval = math.ceil(reset / remaining)
        s.window_until = now + reset
        local t = interval()
        local floor = now + capacity(t, 'write') + reset - (remaining + 1) * t
        if floor > s.tat then s.tat = floor end
      end
    end
  end
  save()
  return { 1 }
elseif op == 'pause' then
  pause(tonumber(ARGV[7]))
  save()
  return { 1 }
elseif op == 'snapshot' then
  local t = interval()
  local paused_for = math.max(s.pause_until - now, 0)
  local remaining = 0
  if paused_for == 0 then
    remaining = math.floor(math.max(capacity(t, 'write') - math.max(s.tat - now, 0), 0) / t)
  end
  local quota, window, resets = -1, -1, -1
  if now < s.quota_until then quota = s.quota_interval end
  if now < s.window_until then
    window = s.window_interval
    resets = s.window_until - now
  end
  return { remaining, t, paused_for, quota, window, resets }
end
return redis.error_reply('unknown op ' .. tostring(op))
