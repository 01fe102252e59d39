/**
 * A lock in Redis shared by every replica of the bot: SET NX PX with a random token, released with
 * compare-and-delete so a holder whose lease ran out never frees the next holder's lock.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** Runs `work` while holding `key`; waits up to `waitMs` for another holder, undefined if it could not. */
export async function withRedisLock<T>(redis: Redis, key: string, work: () => Promise<T>, options: { ttlMs?: number; waitMs?: number } = {}): Promise<{ value: T } | undefined> {
  const token = randomUUID();
  const deadline = Date.now() + (options.waitMs ?? 5000);
  while ((await redis.set(key, token, 'PX', options.ttlMs ?? 30_000, 'NX')) !== 'OK') {
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  try {
    return { value: await work() };
  } finally {
    await redis.eval(RELEASE, 1, key, token);
  }
}
