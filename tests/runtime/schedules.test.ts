/** Schedules fire through BullMQ job schedulers; quiet ones post no status message per run. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandModule } from '../../src/core/types.ts';
import { OPS, startTestBot, type TestBot } from '../harness/bot.ts';

const everySecond = () => ({ pattern: '* * * * * *', tz: 'UTC' });

describe('schedules', () => {
  let t: TestBot;
  const module: CommandModule = {
    area: 'scheduled',
    verbs: [],
    schedules: [
      { name: 'loud-ping', cron: everySecond, job: 'ping', data: () => ({ steps: 1 }) },
      { name: 'quiet-ping', cron: everySecond, job: 'ping', data: () => ({ steps: 2 }), quiet: true },
    ],
  };
  beforeAll(async () => {
    t = await startTestBot({ modules: [module] });
  });
  afterAll(() => t.stop());

  it('runs scheduled jobs, with a status message only for loud schedules', async () => {
    await t.eventually(async () => (await t.bot.jobs.queue.getJobs(['completed'])).filter((j) => j?.data?.input?.steps === 2).length >= 2, 'two quiet runs', 20_000);
    await t.eventually(() => t.messages(OPS).filter((m) => t.text(m).includes('Ping with 1 steps') && t.text(m).includes('Succeeded')).length >= 1, 'a loud run reported', 20_000);
    expect(t.messages(OPS).some((m) => t.text(m).includes('Ping with 2 steps'))).toBe(false);
    const parent = t.messages(OPS).find((m) => t.text(m).includes('Ping with 1 steps'))!;
    expect(t.text(parent)).toContain('schedule');
  });
});
