/**
 * Progress lines survive Slack outages and never hold a job up: with Slack answering 500 or
 * refusing connections, the job runs to its end, and every line arrives in the thread, in order,
 * once Slack accepts them again. An answer no retry changes (the parent message is gone) is not
 * retried.
 */
import { WebClient } from '@slack/web-api';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobDefinition } from '../../src/core/types.ts';
import { reply } from '../../src/core/result.ts';
import { StatusThread } from '../../src/core/thread.ts';
import { OPS, USERS, startTestBot, type TestBot } from '../harness/bot.ts';
import { slackNotifier } from '../../src/slack/notifier.ts';

const STEPS = 6;

const threadTextsOf = (t: TestBot, ts: string) => t.emulator.thread(OPS, ts).map((m) => t.text(m));

/** Posts one step, waits for the test's go, posts the rest and marks in Redis that its work is done. */
function stepperJob(): JobDefinition<{ key: string }> {
  const stepper: JobDefinition<{ key: string }> = {
    name: 'stepper',
    title: () => 'Stepper',
    cancellable: false,
    async process(run) {
      await run.step('line 1');
      while (!(await run.clients.redis.get(`${run.data.key}:go`))) await new Promise((r) => setTimeout(r, 20));
      for (let i = 2; i <= STEPS; i++) await run.step(`line ${i}`);
      await run.clients.redis.set(`${run.data.key}:done`, '1');
      return reply('stepper done');
    },
  };
  return stepper;
}

describe('thread delivery while Slack fails', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot({ modules: [], jobs: [stepperJob()] });
  });
  afterAll(() => t?.stop());

  const threadTexts = (ts: string) => threadTextsOf(t, ts);
  const redis = () => t.bot.deps.clients.redis;

  async function run(outage: { start(): Promise<void> | void; end(): Promise<void> | void }): Promise<string> {
    const key = `stepper-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const ref = await t.bot.jobs.start('stepper', { key }, { channel: OPS, requestedBy: USERS.operator });
    await t.eventually(() => threadTexts(ref.threadTs!).some((m) => m.includes('line 1')), 'line 1 in the thread');
    await outage.start();
    await redis().set(`${key}:go`, '1');
    // The job finishes its steps while Slack does not take them: its progress never waits on Slack.
    await t.eventually(async () => (await redis().get(`${key}:done`)) === '1', 'the job finishing its steps during the outage', 30_000);
    await outage.end();
    const parent = await t.eventually(() => {
      const text = t.text(t.emulator.message(OPS, ref.threadTs!)!);
      return text.includes('Succeeded') && text;
    }, 'the job succeeding', 60_000);
    const lines = threadTexts(ref.threadTs!).join('\n').split('\n').filter((l) => /^line \d+$/.test(l));
    expect(lines).toEqual(Array.from({ length: STEPS }, (_, i) => `line ${i + 1}`));
    expect(parent).not.toContain('could not be posted');
    return parent;
  }

  it('Slack answering 500 for a while', async () => {
    await run({ start: () => t.emulator.failNext('chat.postMessage', { status: 500 }, 6), end: () => undefined });
  });

  it('Slack refusing connections for a while', async () => {
    await run({ start: () => t.emulator.refuseConnections(), end: () => t.emulator.acceptConnections() });
  });
});

describe('thread delivery when Slack stays away past the give-up time', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot({ modules: [], jobs: [stepperJob()], jobTiming: { slackGiveUpMs: 1500 } });
  });
  afterAll(async () => {
    await t?.emulator.acceptConnections().catch(() => undefined);
    await t?.stop();
  });

  it("lists the lines Slack never accepted in the job's record", async () => {
    const redis = t.bot.deps.clients.redis;
    const key = `stepper-${Date.now()}`;
    const ref = await t.bot.jobs.start('stepper', { key }, { channel: OPS, requestedBy: USERS.operator });
    await t.eventually(() => t.emulator.thread(OPS, ref.threadTs!).some((m) => t.text(m).includes('line 1')), 'line 1 in the thread');
    await t.emulator.refuseConnections();
    await redis.set(`${key}:go`, '1');
    const record = await t.eventually(async () => {
      const job = await t.bot.jobs.queue.getJob(ref.id);
      const data = job?.data as { undeliveredLines?: string[] } | undefined;
      return data?.undeliveredLines;
    }, "the job's record listing what was not posted", 60_000);
    expect(record.join('\n').split('\n').filter((l) => /^line \d+$/.test(l))).toEqual(['line 2', 'line 3', 'line 4', 'line 5', 'line 6']);
  });
});

describe('a write Slack refuses for good', () => {
  it('is given up at once (message_not_found), not retried until the give-up time', async () => {
    const calls: string[] = [];
    const refused = Object.assign(new Error('An API error occurred: message_not_found'), { code: 'slack_webapi_platform_error', data: { ok: false, error: 'message_not_found' } });
    const slack = {
      chat: {
        update: async () => {
          calls.push('update');
          throw refused;
        },
        postMessage: async () => {
          calls.push('postMessage');
          throw refused;
        },
      },
    } as unknown as WebClient;
    const thread = new StatusThread(slackNotifier(slack), OPS, '1700000000.000100', pino({ level: 'silent' }));
    await thread.updateParent({ summary: 'Running', parts: [] });
    thread.step('line 1');
    await thread.flush();
    expect(calls).toEqual(['update', 'postMessage']);
    expect(thread.undelivered).toEqual(['line 1']);
  });
});

describe('a thread whose parent message was deleted in Slack', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot({ modules: [], jobs: [stepperJob()] });
  });
  afterAll(() => t?.stop());

  it('runs the job to its end: Slack refusing a write for good (message_not_found) is not retried for 15 minutes', async () => {
    const key = `stepper-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const ref = await t.bot.jobs.start('stepper', { key }, { channel: OPS, requestedBy: USERS.operator });
    await t.eventually(() => threadTextsOf(t, ref.threadTs!).some((m) => m.includes('line 1')), 'line 1 in the thread');
    await new WebClient(t.emulator.botToken, { slackApiUrl: t.emulator.apiUrl }).chat.delete({ channel: OPS, ts: ref.threadTs! });
    await t.bot.deps.clients.redis.set(`${key}:go`, '1');
    const job = await t.eventually(async () => {
      const found = await t.bot.jobs.queue.getJob(ref.id);
      return found?.finishedOn !== undefined && found;
    }, 'the job finishing although its parent message is gone', 30_000);
    expect(await job.getState()).toBe('completed');
  });
});

describe('replies to interactive requests while Slack fails', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot();
  });
  afterAll(() => t?.stop());

  it('posts the reply again through its response_url until Slack accepts it', async () => {
    const before = t.ephemeralTexts(USERS.operator).length;
    // The first answer and the first background retry fail; the next one is accepted.
    t.emulator.failNext('response_url', { status: 500 }, 2);
    await t.command(USERS.operator, 'help');
    expect(t.ephemeralTexts(USERS.operator)).toHaveLength(before);
    const texts = await t.eventually(() => {
      const all = t.ephemeralTexts(USERS.operator);
      return all.length > before && all;
    }, 'the help reply arriving after Slack recovered', 30_000);
    expect(texts).toHaveLength(before + 1);
    expect(texts.at(-1)).toContain('/autostack help');
  });

  it('does not retry a response_url Slack refuses for good (404)', async () => {
    const before = t.ephemeralTexts(USERS.operator).length;
    t.emulator.failNext('response_url', { status: 404 }, 1);
    await t.command(USERS.operator, 'help');
    // A second identical command proves the first reply was not posted late by a retry.
    await t.command(USERS.operator, 'help');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const after = t.ephemeralTexts(USERS.operator).slice(before);
    // The person is told the first answer failed; the help text arrives once, for the second command.
    expect(after.filter((text) => text.includes('`help` failed') && text.includes('404'))).toHaveLength(1);
    expect(after.filter((text) => text.includes('/autostack help'))).toHaveLength(1);
  });
});
