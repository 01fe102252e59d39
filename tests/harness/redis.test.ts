import { describe, expect, it } from 'vitest';
import { redisConnection, testServices, uniqueName } from './env.ts';

describe('test Redis', () => {
  it('has append-only persistence switched on', async () => {
    const redis = redisConnection();
    expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
  });

  it('is the private instance on loopback and stores data', async () => {
    const redis = redisConnection();
    const { redisUrl } = testServices();
    const url = new URL(redisUrl);
    expect(url.hostname).toBe('127.0.0.1');
    expect(await redis.config('GET', 'port')).toEqual(['port', url.port]);

    const key = `${uniqueName('k')}:counter`;
    expect(await redis.incr(key)).toBe(1);
    expect(await redis.incr(key)).toBe(2);
    const other = redisConnection();
    expect(await other.get(key)).toBe('2');
  });

  it('applies caller options over the defaults', async () => {
    const redis = redisConnection({ keyPrefix: `${uniqueName('p')}:` });
    expect(redis.options.maxRetriesPerRequest).toBeNull();
    await redis.set('x', 'y');
    const raw = redisConnection();
    expect(await raw.get(`${redis.options.keyPrefix}x`)).toBe('y');
  });
});
