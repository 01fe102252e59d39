/**
 * One backup or restore per database at a time, across replicas: a Redis key with a short TTL,
 * renewed while the work runs, released only by its owner.
 */
import type { Redis } from 'ioredis';
import { UserFacingError } from '../../src/core/types.ts';

const TTL_MS = 60_000;
const RENEW_MS = 20_000;

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

/** Another backup or restore of the database holds the lock. */
export class LockHeldError extends UserFacingError {
  constructor(
    readonly database: string,
    readonly running: string,
    readonly holder: string,
  ) {
    super(`another ${running} of ${database} is running; try again when it has finished`);
  }
}

/** `prefix` is the configured redis.prefix. */
export function lockKey(prefix: string, database: string): string {
  return `${prefix}:backup:lock:${database}`;
}

/** Runs `work` holding the database's lock; fails at once when another job holds it. */
export async function withDatabaseLock<T>(
  redis: Redis,
  lock: { prefix: string; database: string },
  owner: string,
  what: string,
  work: () => Promise<T>,
): Promise<T> {
  const { database } = lock;
  const key = lockKey(lock.prefix, database);
  const value = `${owner}|${what}`;
  const ok = await redis.set(key, value, 'PX', TTL_MS, 'NX');
  if (ok !== 'OK') {
    const held = (await redis.get(key)) ?? '';
    const [holder = '', running = 'backup or restore'] = held.split('|');
    throw new LockHeldError(database, running, holder);
  }
  const timer = setInterval(() => {
    void redis.eval(RENEW, 1, key, value, String(TTL_MS)).catch(() => undefined);
  }, RENEW_MS);
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
    await redis.eval(RELEASE, 1, key, value).catch(() => undefined);
  }
}
