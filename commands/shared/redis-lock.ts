/**
 * Locks in Redis shared by every replica of the bot: SET NX PX with a random token, released with
 * compare-and-delete so a holder whose lease ran out never frees the next holder's lock.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
const RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";

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

/**
 * A lease one replica holds while it does what only one may do (watch and post): taken when
 * free, kept by renewing it before `ttlMs` runs out, and free again `ttlMs` after its holder died.
 */
export class RedisLease {
  readonly #token = randomUUID();
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes the lease when it is free, renews it when this holder has it; false when another replica holds it. */
  async hold(): Promise<boolean> {
    if ((await this.redis.set(this.key, this.#token, 'PX', this.ttlMs, 'NX')) === 'OK') return true;
    return (await this.redis.eval(RENEW, 1, this.key, this.#token, String(this.ttlMs))) === 1;
  }

  /** Frees it, if this holder still has it. */
  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.#token);
  }
}
