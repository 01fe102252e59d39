/**
 * One deploy per app at a time: a Redis lock `SET <key> <token> NX PX <ttl>` taken by the verb
 * before the job is enqueued and held by the job until it has finished (released in `finally`
 * with a compare-and-delete script, so a lock that expired and was taken by someone else is never
 * removed). Beside it, an info key says which job holds it (its thread, who, what) so a refused
 * deploy can link to the running one. Both keys share a hash tag: one Redis Cluster slot.
 *
 * The TTL covers the longest a deploy can take (migration, rollout, checks, automatic rollback)
 * and the job extends it at every phase; a job that will never finish (its worker died, or it was
 * cancelled while queued) releases it through the job's onInterrupted, and the TTL is the last resort.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../../src/config.ts';
import { durationMs } from '../../src/core/durations.ts';

export interface LockInfo {
  app: string;
  image: string;
  requestedBy: string;
  /** ISO time the lock was taken. */
  since: string;
  jobId?: string;
  channel?: string;
  threadTs?: string;
}

export interface DeployLockKeys {
  lock: string;
  info: string;
}

export function lockKeys(prefix: string, app: string): DeployLockKeys {
  return { lock: `${prefix}:deploy:lock:{${app}}`, info: `${prefix}:deploy:lock:{${app}}:info` };
}

/** Long enough for a migration, the rollout, the checks and a rollback's rollout, plus a margin. */
export function lockTtlMs(config: Config): number {
  const rollout = durationMs(config.rollout.timeout);
  return 3 * rollout + 10 * 60_000;
}

// KEYS[1] lock, KEYS[2] info; ARGV[1] token, ARGV[2] info JSON, ARGV[3] ttl ms
const SET_INFO = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

// KEYS[1] lock, KEYS[2] info; ARGV[1] token, ARGV[2] ttl ms
const EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0`;

// KEYS[1] lock, KEYS[2] info; ARGV[1] token
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  return redis.call('DEL', KEYS[1])
end
return 0`;

export class DeployLock {
  readonly keys: DeployLockKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    readonly app: string,
    private readonly ttlMs: number,
  ) {
    this.keys = lockKeys(prefix, app);
  }

  /** Takes the lock with `token` if nobody holds it. */
  async acquire(token: string, info: LockInfo): Promise<boolean> {
    const taken = await this.redis.set(this.keys.lock, token, 'PX', this.ttlMs, 'NX');
    if (taken !== 'OK') return false;
    await this.describe(token, info);
    return true;
  }

  /** Updates who holds the lock (e.g. the job's thread once it exists), only while `token` holds it. */
  async describe(token: string, info: LockInfo): Promise<boolean> {
    return (await this.redis.eval(SET_INFO, 2, this.keys.lock, this.keys.info, token, JSON.stringify(info), this.ttlMs)) === 1;
  }

  /** Renews the TTL; false when `token` no longer holds the lock. */
  async extend(token: string): Promise<boolean> {
    return (await this.redis.eval(EXTEND, 2, this.keys.lock, this.keys.info, token, this.ttlMs)) === 1;
  }

  /** Removes the lock only if `token` still holds it. */
  async release(token: string): Promise<boolean> {
    return (await this.redis.eval(RELEASE, 2, this.keys.lock, this.keys.info, token)) === 1;
  }

  /** Who holds the lock, if anyone (info may be missing for a moment after the lock was taken). */
  async holder(): Promise<{ token: string; info?: LockInfo; ttlMs: number } | undefined> {
    const [[, token], [, raw], [, ttl]] = (await this.redis.multi().get(this.keys.lock).get(this.keys.info).pttl(this.keys.lock).exec()) as Array<[Error | null, unknown]> as [
      [Error | null, string | null],
      [Error | null, string | null],
      [Error | null, number],
    ];
    if (!token) return undefined;
    let info: LockInfo | undefined;
    try {
      info = raw ? (JSON.parse(raw) as LockInfo) : undefined;
    } catch {
      info = undefined;
    }
    return { token, info, ttlMs: ttl };
  }
}

export function deployLock(redis: Redis, config: Config, app: string): DeployLock {
  return new DeployLock(redis, config.redis.prefix, app, lockTtlMs(config));
}
