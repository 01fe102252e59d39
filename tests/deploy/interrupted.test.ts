/** A deploy that never finishes (dead worker, cancelled while queued) frees its app at once. */
import { describe, expect, it } from 'vitest';
import { deployJob } from '../../jobs/deploy.ts';
import type { DeployParams } from '../../commands/deploy/apps.ts';
import { deployLock } from '../../commands/deploy/lock.ts';
import { testContext } from '../harness/context.ts';
import { uniqueName } from '../harness/env.ts';

describe('an interrupted deploy', () => {
  it('releases its own app lock and says where to look', async () => {
    const ctx = testContext({ config: { redis: { prefix: uniqueName('deploy') } } });
    const app = uniqueName('app');
    const lock = deployLock(ctx.clients.redis, ctx.config, app);
    const token = uniqueName('token');
    expect(await lock.acquire(token, { app, image: 'repo:2.0', requestedBy: 'U0OP', since: new Date().toISOString() })).toBe(true);
    const data = { app } as DeployParams;

    const said = await deployJob.onInterrupted!(data, ctx, token);
    expect(said).toContain(`The deploy lock on ${app} is released`);
    expect(said).toContain(`/autostack history ${app}`);
    expect(await lock.holder()).toBeUndefined();

    // Someone else's lock is never released by a stale token.
    const other = uniqueName('token');
    await lock.acquire(other, { app, image: 'repo:3.0', requestedBy: 'U0OTHER', since: new Date().toISOString() });
    await deployJob.onInterrupted!(data, ctx, token);
    expect((await lock.holder())?.token).toBe(other);
  });
});
