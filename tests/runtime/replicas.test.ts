/** Several replicas on one Redis: a job whose worker dies is not run again; its thread says so. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERRUPTED } from '../../src/core/jobs.ts';
import type { JobDefinition } from '../../src/core/types.ts';
import { reply } from '../../src/core/result.ts';
import { allJobs } from '../../jobs/index.ts';
import { OPS, USERS, startTestBot, type TestBot } from '../harness/bot.ts';
import { uniqueName } from '../harness/env.ts';

/** A job that holds a Redis key while it runs, and gives it back when interrupted. */
function holderJob(): JobDefinition<{ key: string }> {
  const holder: JobDefinition<{ key: string }> = {
    name: 'holder',
    title: (data) => `Hold ${data.key}`,
    cancellable: true,
    async process(run) {
      await run.clients.redis.set(run.data.key, 'held');
      await run.step('holding');
      await new Promise((resolve) => setTimeout(resolve, 60_000));
      return reply('done');
    },
    async onInterrupted(data, deps) {
      await deps.clients.redis.del(data.key);
      return `Released ${data.key}.`;
    },
  };
  return holder;
}

describe('a worker that dies mid-job', () => {
  let a: TestBot;
  let b: TestBot;
  const timing = { lockMs: 1000, stalledCheckMs: 300 };
  beforeAll(async () => {
    const prefix = uniqueName('replica');
    a = await startTestBot({ config: { redis: { prefix } }, jobTiming: timing, jobs: [...allJobs, holderJob()] });
    b = await startTestBot({ config: { redis: { prefix } }, jobTiming: timing, emulator: a.emulator, runWorkers: false, jobs: [...allJobs, holderJob()] });
  });
  afterAll(async () => {
    await b.stop();
    await a.stop();
  });

  it('fails the job instead of running it twice, and says what is known', async () => {
    await a.command(USERS.viewer, 'ping --slow 20');
    const parent = await a.eventually(() => {
      const message = a.messages(OPS).find((m) => a.text(m).includes('Ping with 20 steps'));
      return message && a.emulator.thread(OPS, message.ts).some((m) => a.text(m).includes('Step 1/20 done')) && message;
    }, 'the job running on replica A');
    await a.bot.jobs.abandonWorkers();
    await b.bot.jobs.runWorkers();
    const failed = await b.eventually(() => {
      const text = b.text(b.emulator.message(OPS, parent.ts)!);
      return text.includes('Failed') && text;
    }, 'the interrupted job reported', 20_000);
    expect(failed).toContain(INTERRUPTED);
    // It ran at least one 1-second step before its worker died: its duration counts from its own start.
    expect(Number(/Failed in ([\d.]+)s/.exec(failed)?.[1])).toBeGreaterThanOrEqual(1);
    const [job] = await b.bot.jobs.queue.getJobs(['failed']);
    expect(job?.name).toBe('ping');
    expect(await b.bot.jobs.queue.getJobCounts('active', 'wait', 'completed')).toEqual({ active: 0, wait: 0, completed: 0 });
  });
});

describe('an interrupted job gives back what it held', () => {
  let a: TestBot;
  let b: TestBot;
  const timing = { lockMs: 1000, stalledCheckMs: 300 };
  beforeAll(async () => {
    const prefix = uniqueName('holder');
    a = await startTestBot({ config: { redis: { prefix } }, jobTiming: timing, jobs: [...allJobs, holderJob()] });
    b = await startTestBot({ config: { redis: { prefix } }, jobTiming: timing, emulator: a.emulator, runWorkers: false, jobs: [...allJobs, holderJob()] });
  });
  afterAll(async () => {
    await b.stop();
    await a.stop();
  });

  it('after its worker died', async () => {
    const redis = b.bot.deps.clients.redis;
    const key = `held-${Date.now()}`;
    const running = await a.bot.jobs.start('holder', { key }, { channel: OPS, requestedBy: USERS.operator });
    await a.eventually(async () => (await redis.get(key)) === 'held', 'the job holding its key on replica A');
    await a.bot.jobs.abandonWorkers();
    await b.bot.jobs.runWorkers();
    await b.eventually(() => b.text(b.emulator.message(OPS, running.threadTs!)!).includes(`Released ${key}.`), 'the interruption reported', 20_000);
    expect(b.text(b.emulator.message(OPS, running.threadTs!)!)).toContain(INTERRUPTED);
    expect(await redis.get(key)).toBeNull();
  });

  it('when cancelled before it started', async () => {
    const redis = b.bot.deps.clients.redis;
    const key = `queued-${Date.now()}`;
    await redis.set(key, 'held');
    const queued = await b.bot.jobs.start('holder', { key }, { channel: OPS, requestedBy: USERS.operator, delayMs: 60_000 });
    expect(await b.bot.jobs.cancel(queued.id)).toBe('removed');
    expect(await redis.get(key)).toBeNull();
    expect(b.text(b.emulator.message(OPS, queued.threadTs!)!)).toMatch(new RegExp(`Cancelled[\\s\\S]*Cancelled before it started\\. Released ${key}\\.`));
  });
});

describe('a job that cannot be queued', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot();
  });
  afterAll(() => t.stop());

  it('posts no parent message saying queued', async () => {
    // BullMQ refuses integer-like custom job IDs: the add fails, and the parent is only posted after it.
    await expect(t.bot.jobs.start('ping', { steps: 1 }, { channel: OPS, requestedBy: USERS.viewer, jobId: '42' })).rejects.toThrow();
    await t.bot.jobs.start('ping', { steps: 1 }, { channel: OPS, requestedBy: USERS.viewer });
    expect(t.messages(OPS).filter((m) => t.text(m).includes('Ping with 1 steps'))).toHaveLength(1);
  });
});
