import { describe, expect, it } from 'vitest';
import { LockHeldError, lockKey, withDatabaseLock } from '../../commands/backup/lock.ts';
import { redisConnection, uniqueName } from '../harness/env.ts';

describe('one backup or restore per database at a time', () => {
  it('refuses a second holder, names what runs, and releases afterwards', async () => {
    const redis = redisConnection();
    const other = redisConnection();
    const database = uniqueName('db');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = withDatabaseLock(redis, { prefix: 'autostack', database }, 'job-1', 'restore', () => held.then(() => 'done'));
    await expect.poll(() => redis.get(lockKey('autostack', database))).toBe('job-1|restore');

    const second = await withDatabaseLock(other, { prefix: 'autostack', database }, 'job-2', 'backup', async () => 'ran').catch((e: unknown) => e);
    expect(second).toBeInstanceOf(LockHeldError);
    expect(second).toMatchObject({ running: 'restore', holder: 'job-1', message: `another restore of ${database} is running; try again when it has finished` });

    release();
    expect(await first).toBe('done');
    expect(await redis.get(lockKey('autostack', database))).toBeNull();
    expect(await withDatabaseLock(other, { prefix: 'autostack', database }, 'job-3', 'backup', async () => 'ran')).toBe('ran');
  });

  it('releases the lock when the work fails, and never releases a lock it does not own', async () => {
    const redis = redisConnection();
    const database = uniqueName('db');
    await expect(withDatabaseLock(redis, { prefix: 'autostack', database }, 'job-1', 'backup', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await redis.get(lockKey('autostack', database))).toBeNull();

    await expect(
      withDatabaseLock(redis, { prefix: 'autostack', database }, 'job-2', 'backup', async () => {
        // Someone else's lock replaced ours (ours expired): leaving must not delete theirs.
        await redis.set(lockKey('autostack', database), 'job-9|restore');
      }),
    ).resolves.toBeUndefined();
    expect(await redis.get(lockKey('autostack', database))).toBe('job-9|restore');
  });
});
