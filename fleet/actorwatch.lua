#!lua name=actorwatch
-- actorwatch fleet counting: every proxy's counted responses, merged per actor, decided here
-- atomically, once for the whole fleet. Loaded with FUNCTION LOAD REPLACE (the `actorwatch front`
-- does it at start). Every key of one call shares the actor's hash tag, so it runs on Redis
-- Cluster; the block log is its own key, written and read in calls of its own.

local VERSION = '2'

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- HDEL over lists longer than Lua's stack takes at once.
local CHUNK = 1000
local function hdel_all(key, fields)
  for s = 1, #fields, CHUNK do
    redis.call('HDEL', key, unpack(fields, s, math.min(s + CHUNK - 1, #fields)))
  end
end

-- Counts of one (rule, api) window: a ZSET of bucket numbers (score = bucket), a HASH of their
-- counts, and a HASH of running totals (each bucket's total counts up to and including it, and
-- 'base': the total of the buckets trimmed away), so that a window's count is two lookups
-- whatever the window's length.
local function window_keys(base, rule_id, api)
  local suffix = rule_id .. ':' .. api
  return base .. ':wz:' .. suffix, base .. ':wc:' .. suffix, base .. ':cd:' .. suffix,
    base .. ':ws:' .. suffix
end

-- The running total up to and including the latest bucket at or before `b`.
local function total_at(zkey, skey, b)
  local r = redis.call('ZREVRANGEBYSCORE', zkey, b, '-inf', 'LIMIT', 0, 1)
  if #r == 0 then
    return tonumber(redis.call('HGET', skey, 'base') or '0')
  end
  return tonumber(redis.call('HGET', skey, r[1]) or '0')
end

-- Adds `count` to `bucket`: its count, its running total and those of the buckets after it
-- (a few at most: only a batch from a proxy behind the others lands before the newest).
local function add_count(zkey, ckey, skey, bucket, count)
  if tonumber(redis.call('HINCRBY', ckey, bucket, count)) == count then
    local before = total_at(zkey, skey, bucket - 1)
    redis.call('ZADD', zkey, bucket, bucket)
    redis.call('HSET', skey, bucket, before + count)
  else
    redis.call('HINCRBY', skey, bucket, count)
  end
  local later = redis.call('ZRANGEBYSCORE', zkey, '(' .. bucket, '+inf')
  for _, b in ipairs(later) do
    redis.call('HINCRBY', skey, b, count)
  end
end

-- aw_apply KEYS[1] = aw:{<actor>}
-- ARGV: instance seq grace_ms bucket_ms
--       R, then R x (rule_id window_ms threshold cooldown_ms block_ms block_status)
--       E, then E x (rule_index api bucket count)       rule_index is 1-based
--       C, then C x (rule_index api cooldown_left_ms)     cooldowns claimed by local events
-- Returns { status, late, block_until_ms, block_status, flags }, status 'ok' or 'dup';
-- flags: { rule_index, api, fired, count, at_ms, cooldown_left_ms } per window that is over
-- its threshold or in its cooldown.
local function apply(keys, args)
  local base = keys[1]
  local instance, seq = args[1], tonumber(args[2])
  local grace_ms, bucket_ms = tonumber(args[3]), tonumber(args[4])
  if not seq or not grace_ms or not bucket_ms or bucket_ms < 1 then
    return redis.error_reply('ERR aw_apply: bad header arguments')
  end
  local seen_key = base .. ':seq'
  local reply_key = base .. ':reply:' .. instance
  local last = tonumber(redis.call('HGET', seen_key, instance) or '-1')
  if seq <= last then
    -- A retried batch: no counting again; the same answer if it is the latest one.
    local stored = redis.call('GET', reply_key)
    if seq == last and stored then
      local r = cjson.decode(stored)
      r[1] = 'dup'
      return r
    end
    return { 'dup', 0, 0, 0, {} }
  end

  local now = now_ms()
  local i = 5
  local r_count = tonumber(args[i]); i = i + 1
  local rules = {}
  local max_keep_ms = 0
  for r = 1, r_count do
    local rule = {
      id = args[i], window_ms = tonumber(args[i + 1]), threshold = tonumber(args[i + 2]),
      cooldown_ms = tonumber(args[i + 3]), block_ms = tonumber(args[i + 4]),
      block_status = tonumber(args[i + 5]),
    }
    rules[r] = rule
    max_keep_ms = math.max(max_keep_ms, rule.window_ms + grace_ms + bucket_ms)
    i = i + 6
  end

  -- Counts in: per (rule, api) the buckets touched.
  local late = 0
  local touched = {}
  local order = {}
  local e_count = tonumber(args[i]); i = i + 1
  for _ = 1, e_count do
    local ri, api = tonumber(args[i]), args[i + 1]
    local bucket, count = tonumber(args[i + 2]), tonumber(args[i + 3])
    i = i + 4
    local rule = rules[ri]
    if rule and bucket and count and count > 0 then
      if (bucket + 1) * bucket_ms + grace_ms < now then
        late = late + count
      else
        local zkey, ckey, _, skey = window_keys(base, rule.id, api)
        add_count(zkey, ckey, skey, bucket, count)
        local id = ri .. '\0' .. api
        local t = touched[id]
        if not t then
          t = { ri = ri, api = api, lo = bucket, hi = bucket }
          touched[id] = t
          order[#order + 1] = id
        else
          t.lo = math.min(t.lo, bucket)
          t.hi = math.max(t.hi, bucket)
        end
      end
    end
  end

  -- Cooldowns claimed for events a proxy raised on its own while Redis was out of reach.
  local c_count = tonumber(args[i] or '0'); i = i + 1
  for _ = 1, c_count do
    local ri, api, left = tonumber(args[i]), args[i + 1], tonumber(args[i + 2])
    i = i + 3
    local rule = rules[ri]
    if rule and left and left > 0 then
      local _, _, cdkey = window_keys(base, rule.id, api)
      redis.call('SET', cdkey, instance, 'NX', 'PX', left)
      local id = ri .. '\0' .. api
      if not touched[id] then
        touched[id] = { ri = ri, api = api }
        order[#order + 1] = id
      end
    end
  end

  local flags = {}
  local block_until, block_status = 0, 0
  local block_key = base .. ':block'
  for _, id in ipairs(order) do
    local t = touched[id]
    local rule = rules[t.ri]
    local zkey, ckey, cdkey, skey = window_keys(base, rule.id, t.api)
    local wb = math.max(1, math.floor(rule.window_ms / bucket_ms))
    local fired, count, at_ms = 0, 0, 0
    if t.lo then
      -- Trim what left every window (its total becomes the base), then find the first window
      -- ending at a bucket from the earliest touched one on whose count reaches the threshold:
      -- a window's count is the running total at its end minus the one before its start.
      local floor = math.floor((now - rule.window_ms - grace_ms) / bucket_ms) - 1
      local old = redis.call('ZRANGEBYSCORE', zkey, '-inf', '(' .. floor)
      if #old > 0 then
        local base_total = redis.call('HGET', skey, old[#old])
        if base_total then
          redis.call('HSET', skey, 'base', base_total)
        end
        redis.call('ZREMRANGEBYSCORE', zkey, '-inf', '(' .. floor)
        hdel_all(ckey, old)
        hdel_all(skey, old)
      end
      local ends = redis.call('ZRANGEBYSCORE', zkey, t.lo, t.hi + wb - 1)
      for j = 1, #ends do
        local e = tonumber(ends[j])
        local sum = tonumber(redis.call('HGET', skey, ends[j]) or '0') - total_at(zkey, skey, e - wb)
        if sum >= rule.threshold then
          count = sum
          at_ms = e * bucket_ms
          break
        end
      end
      redis.call('PEXPIRE', zkey, max_keep_ms)
      redis.call('PEXPIRE', ckey, max_keep_ms)
      redis.call('PEXPIRE', skey, max_keep_ms)
      if at_ms > 0 then
        if rule.cooldown_ms <= 0 then
          fired = 1
        elseif redis.call('SET', cdkey, instance, 'NX', 'PX', rule.cooldown_ms) then
          fired = 1
        end
        if rule.block_ms > 0 then
          local until_ms = now + rule.block_ms
          local current = tonumber(redis.call('HGET', block_key, 'until') or '0')
          if until_ms > current then
            redis.call('HSET', block_key, 'until', until_ms, 'status', rule.block_status)
            redis.call('PEXPIREAT', block_key, until_ms)
          end
        end
      end
    end
    local left = 0
    if rule.cooldown_ms > 0 then
      left = math.max(0, redis.call('PTTL', cdkey))
    end
    if at_ms > 0 or left > 0 then
      flags[#flags + 1] = { t.ri, t.api, fired, count, at_ms, left }
    end
  end
  local blk = redis.call('HMGET', block_key, 'until', 'status')
  if blk[1] and tonumber(blk[1]) > now then
    block_until, block_status = tonumber(blk[1]), tonumber(blk[2] or '0')
  end

  local reply = { 'ok', late, block_until, block_status, flags }
  redis.call('HSET', seen_key, instance, seq)
  redis.call('PEXPIRE', seen_key, math.max(max_keep_ms, 60000))
  -- A proxy retries a batch within its grace period: keep the answers worth repeating that long
  -- (a late count too: the retry's answer must say it was not counted).
  if #flags > 0 or block_until > 0 or late > 0 then
    redis.call('SET', reply_key, cjson.encode(reply), 'PX', math.max(grace_ms * 2, 60000))
  else
    -- An older batch's answer must not be repeated for this one's retry.
    redis.call('DEL', reply_key)
  end
  return reply
end

-- aw_block_log KEYS[1] = aw:blocks; ARGV: actor until_ms status max_block_ms
-- Notes a block for every proxy to read (scored by when it was set, in Redis time).
local function block_log(keys, args)
  local now = now_ms()
  redis.call('ZADD', keys[1], now, args[1] .. ' ' .. args[2] .. ' ' .. args[3])
  redis.call('ZREMRANGEBYSCORE', keys[1], '-inf', '(' .. (now - tonumber(args[4])))
  redis.call('PEXPIRE', keys[1], tonumber(args[4]))
  return now
end

-- aw_blocks KEYS[1] = aw:blocks; ARGV: since_ms
-- Returns { now_ms, entries set at or after since_ms ('actor until status') }.
local function blocks(keys, args)
  local now = now_ms()
  return { now, redis.call('ZRANGEBYSCORE', keys[1], args[1], '+inf') }
end

redis.register_function('aw_apply', apply)
redis.register_function('aw_block_log', block_log)
redis.register_function{ function_name = 'aw_blocks', callback = blocks, flags = { 'no-writes' } }
redis.register_function{
  function_name = 'aw_version',
  callback = function() return VERSION end,
  flags = { 'no-writes' },
}
