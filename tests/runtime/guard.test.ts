/**
 * The process guard: an error that escapes one job's code (an 'error' event nobody listens to, a
 * rejection nobody awaits) fails that job, in its thread and the audit log, and the process keeps
 * serving the others. Outside a job it is still a bug that ends the process.
 */
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installProcessGuard } from '../../src/core/guard.ts';
import type { JobDefinition } from '../../src/core/types.ts';
import { reply } from '../../src/core/result.ts';
import { allJobs } from '../../jobs/index.ts';
import { OPS, USERS, startTestBot, type TestBot } from '../harness/bot.ts';

type Escape = 'event' | 'rejection';

/** A job whose code loses an error, then waits for what that error would have ended. */
function faultyJob(): JobDefinition<{ escape: Escape }> {
  const faulty: JobDefinition<{ escape: Escape }> = {
    name: 'faulty',
    title: (data) => `Faulty (${data.escape})`,
    cancellable: false,
    async process(run) {
      await run.step('started');
      if (run.data.escape === 'event') {
        const source = new PassThrough();
        setTimeout(() => source.destroy(new Error('socket hang up')), 10);
      } else {
        setTimeout(() => void Promise.reject(new Error('nobody awaited this')), 10);
      }
      await new Promise<void>((resolve) => run.signal.addEventListener('abort', () => resolve(), { once: true }));
      return reply('the job ended on its own');
    },
  };
  return faulty;
}

describe('the process guard', () => {
  let t: TestBot;
  let remove: () => void;
  const exits: number[] = [];
  // In production nothing listens for 'unhandledRejection', so Node raises it as an uncaught
  // exception; the test runner's own listener is set aside to keep that true here.
  const runnerListeners = process.listeners('unhandledRejection');
  beforeAll(async () => {
    process.removeAllListeners('unhandledRejection');
    remove = installProcessGuard(pino({ level: 'silent' }), (code) => exits.push(code));
    t = await startTestBot({ modules: [], jobs: [...allJobs, faultyJob()] });
  });
  afterAll(async () => {
    remove?.();
    for (const listener of runnerListeners) process.on('unhandledRejection', listener);
    await t?.stop();
  });

  const pingsDone = () => t.messages(OPS).filter((m) => t.text(m).includes('Ping with 3 steps') && t.text(m).includes('Succeeded')).length;

  it.each<[Escape, string]>([
    ['event', 'socket hang up'],
    ['rejection', 'nobody awaited this'],
  ])('an unhandled %s in one job fails that job in its thread and the audit; a job beside it finishes', async (escape, message) => {
    const before = pingsDone();
    await t.command(USERS.viewer, 'ping --slow 3');
    const ref = await t.bot.jobs.start('faulty', { escape }, { channel: OPS, requestedBy: USERS.operator });
    const parent = await t.eventually(() => {
      const text = t.text(t.emulator.message(OPS, ref.threadTs!)!);
      return text.includes('Failed') && text;
    }, 'the faulty job failing');
    expect(parent).toContain(`Stopped by an unexpected error in its own work (a bug; the bot keeps running): ${message}`);
    expect(parent).not.toContain('the job ended on its own');
    const audited = (await t.bot.audit.latest(20)).find((entry) => entry.action === 'job faulty' && entry.detail?.startsWith(`${ref.id}:`));
    expect(audited).toMatchObject({ result: 'failed', detail: expect.stringContaining(message) });
    await t.eventually(() => pingsDone() > before, 'the ping job beside it finishing');
    expect(exits).toEqual([]);
  });

  it('an error outside any job is still a bug: the process exits', async () => {
    setTimeout(() => {
      throw new Error('outside any job');
    }, 0);
    await t.eventually(() => exits.length > 0, 'the guard ending the process');
    expect(exits).toEqual([1]);
  });
});
