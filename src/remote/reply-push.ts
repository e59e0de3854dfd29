/**
 * How a worker writes to a producer's reply list: one Lua script that pushes the entry and, when
 * the push created the list, gives it its expiry. One command, so a list never exists without
 * its expiry (a worker dying between a push and a separate expiry would leave it forever), and
 * one write and one answer per reply instead of two for a list's first entry.
 */
import type { Redis } from 'ioredis';

const PUSH_REPLY = `local length = redis.call('RPUSH', KEYS[1], ARGV[2])
if length == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return length`;

interface WithReplyPush {
  offloadPushReply(list: string, ttlMs: number, entry: Buffer): Promise<number>;
}

/**
 * Defines the script on `redis` (ioredis loads it once and falls back to sending it whole after a
 * Redis restart) and returns the push: `(list, entry)` resolves once Redis has the entry.
 */
export function replyPusher(redis: Redis, ttlMs: number): (list: string, entry: Buffer) => Promise<number> {
  redis.defineCommand('offloadPushReply', { numberOfKeys: 1, lua: PUSH_REPLY });
  const client = redis as Redis & WithReplyPush;
  return (list, entry) => client.offloadPushReply(list, ttlMs, entry);
}
