/** Several replicas on one Redis: a job whose worker dies is not run again; its thread says so. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERRUPTED } from '../../src/core/jobs.ts';
import { OPS, USERS, startTestBot, type TestBot } from '../harness/bot.ts';
import { uniqueName } from '../harness/env.ts';

describe('a worker that dies mid-job', () => {
  let a: TestBot;
  let b: TestBot;
  const timing = { lockMs: 1000, stalledCheckMs: 300 };
  beforeAll(async () => {
    const prefix = uniqueName('replica');
    a = await startTestBot({ config: { redis: { prefix } }, jobTiming: timing });
    b = await startTestBot({ config: { redis: { prefix } }, jobTiming: timing, emulator: a.emulator, runWorkers: false });
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
    const [job] = await b.bot.jobs.queue.getJobs(['failed']);
    expect(job?.name).toBe('ping');
    expect(await b.bot.jobs.queue.getJobCounts('active', 'wait', 'completed')).toEqual({ active: 0, wait: 0, completed: 0 });
  });
});
