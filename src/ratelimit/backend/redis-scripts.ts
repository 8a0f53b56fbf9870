/**
 * Lua run inside Redis, so each counter update is atomic across every service replica.
 * Time comes from Redis's own TIME (replicas on different hosts agree); token counts are
 * returned as text because Redis truncates Lua numbers to integers.
 */

/** Token bucket step for KEYS[i] with capacity, tokens per ms and cost from ARGV. */
const TOKEN_BUCKET_STEP = `
local function bucket(key, capacity, per_ms, cost, now)
  local s = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(s[1])
  local at = tonumber(s[2])
  if tokens == nil or at == nil then
    tokens = capacity
    at = now
  end
  if tokens > capacity then tokens = capacity end
  if now > at then
    tokens = math.min(capacity, tokens + (now - at) * per_ms)
    at = now
  end
  if tokens >= cost then
    tokens = tokens - cost
    local to_full = math.ceil((capacity - tokens) / per_ms)
    if to_full > 0 then
      redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(at))
      redis.call('PEXPIRE', key, to_full)
    else
      redis.call('DEL', key)
    end
    return 1, tostring(tokens), to_full
  end
  return 0, tostring(tokens), math.ceil((cost - tokens) / per_ms)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** One token bucket: KEYS[1]; ARGV capacity, tokens per ms, cost. Returns {allowed, tokens, reset_ms}. */
export const TOKEN_BUCKET_LUA = `${TOKEN_BUCKET_STEP}
local a, tokens, reset = bucket(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), now)
return {a, tokens, reset}
`;

/**
 * Many counters in one call (every check of every request that arrived in the same tick).
 * Four ARGV per key: kind ('t' token bucket | 'w' fixed window), then for 't' capacity,
 * tokens per ms, cost; for 'w' ttl ms, unused, hits. Returns three values per key:
 * 't' {allowed, tokens, reset_ms}; 'w' {count, '', 0}.
 */
export const BATCH_LUA = `${TOKEN_BUCKET_STEP}
local out = {}
for i = 1, #KEYS do
  local b = (i - 1) * 4
  if ARGV[b + 1] == 'w' then
    local count = redis.call('INCRBY', KEYS[i], tonumber(ARGV[b + 4]))
    redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[b + 2]))
    out[#out + 1] = count
    out[#out + 1] = ''
    out[#out + 1] = 0
  else
    local a, tokens, reset = bucket(KEYS[i], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]), now)
    out[#out + 1] = a
    out[#out + 1] = tokens
    out[#out + 1] = reset
  end
end
return out
`;

export type ScriptReply = [number, string, number];

export interface TrellisScripts {
  trellisTokenBucket(key: string, capacity: number, perMs: string, cost: number): Promise<ScriptReply>;
  trellisBatch(numKeys: number, ...keysThenArgs: (string | number)[]): Promise<(number | string)[]>;
}
