/**
 * Signed requests sent again, or dated in the future: Bolt's real HTTP receiver behind the
 * bot's request guard, two replicas sharing the test Redis, the Slack emulator signing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPS, USERS, startTestBot, type TestBot } from '../harness/bot.ts';
import { uniqueName } from '../harness/env.ts';

let a: TestBot;
let b: TestBot;

beforeAll(async () => {
  const prefix = uniqueName('replay');
  a = await startTestBot({ config: { redis: { prefix } } });
  b = await startTestBot({ config: { redis: { prefix } }, emulator: a.emulator });
});
afterAll(async () => {
  await b?.stop();
  await a?.stop();
});

async function pingJobs(): Promise<number> {
  const jobs = await a.bot.jobs.queue.getJobs(['active', 'waiting', 'delayed', 'completed', 'failed']);
  return jobs.filter((job) => job?.name === 'ping').length;
}

const now = () => Math.floor(Date.now() / 1000);
const answered = () => a.emulator.calls('response_url').length;
/** Slack writes of any kind (replies, posts, edits, DMs, modals), both replicas (one emulator). */
const slackWrites = () => a.emulator.calls().filter((call) => call.method === 'response_url' || /^(chat|views|conversations\.open|files)\./.test(call.method)).length;
const replaysAudited = async () => (await a.bot.audit.latest(50)).filter((entry) => entry.action === 'slack replay' && entry.result === 'refused');

describe('replayed and future-dated Slack requests', () => {
  it('runs a signed slash command once: again to the same replica gets 401; to another replica it is acknowledged, runs nothing and is audited', async () => {
    const jobsBefore = await pingJobs();
    const { body } = a.emulator.slashCommand({ user: USERS.viewer, channel: OPS, text: 'ping --slow 1' });
    const timestamp = now();
    expect((await a.emulator.deliver(a.url, body, { timestamp })).status).toBe(200);
    await a.eventually(async () => (await pingJobs()) === jobsBefore + 1, 'the ping job');
    await a.eventually(async () => answered() > 0 && (await a.bot.jobs.queue.getJobs(['completed'])).some((job) => job?.name === 'ping'), 'the first request answered and its job done');
    await a.bot.dispatcher.settled();
    const auditedBefore = (await replaysAudited()).length;
    const writesBefore = slackWrites();

    // The same replica remembers the signature before acknowledging.
    expect((await a.emulator.deliver(a.url, body, { timestamp })).status).toBe(401);
    // Another replica learns it from Redis only after its acknowledgement: 200, then nothing runs.
    expect((await a.emulator.deliver(b.url, body, { timestamp })).status).toBe(200);
    const audited = await a.eventually(async () => ((await replaysAudited()).length > auditedBefore ? (await replaysAudited())[0] : undefined), 'the replay audited');
    expect(audited).toMatchObject({ actor: USERS.viewer, channel: OPS });
    expect(audited.detail).toContain('/autostack ping --slow 1');
    // Now both replicas remember it: 401 everywhere.
    const replays = [await a.emulator.deliver(a.url, body, { timestamp }), await a.emulator.deliver(b.url, body, { timestamp })];
    expect(replays.map((r) => r.status)).toEqual([401, 401]);
    await a.bot.dispatcher.settled();
    await b.bot.dispatcher.settled();
    expect(await pingJobs()).toBe(jobsBefore + 1);
    expect(slackWrites()).toBe(writesBefore);
    expect((await replaysAudited()).length).toBe(auditedBefore + 1);
  });

  it('refuses a replayed button click (401) and keeps serving new ones', async () => {
    // Long enough that its Cancel button is still there when the click is made.
    await a.command(USERS.viewer, 'ping --slow 10');
    const parent = await a.eventually(
      () => a.messages(OPS).filter((m) => a.text(m).includes('Ping with 10 steps') && JSON.stringify(m.blocks).includes('"job.cancel"')).at(-1),
      'the job message with its Cancel button',
    );
    const click = a.emulator.blockAction({ user: USERS.viewer, actionId: 'job.cancel', channel: OPS, messageTs: parent.ts, action: { value: 'no-such-job' } });
    const answersAtClick = answered();
    const timestamp = now();
    expect((await a.emulator.deliver(a.url, click.body, { timestamp })).status).toBe(200);
    await a.eventually(() => answered() > answersAtClick, 'the click answered');
    await a.bot.dispatcher.settled();
    const answersBefore = answered();
    const auditedBefore = (await replaysAudited()).length;
    expect((await a.emulator.deliver(a.url, click.body, { timestamp })).status).toBe(401);
    // The other replica acknowledges it, then runs nothing: no answer, one audit entry.
    expect((await a.emulator.deliver(b.url, click.body, { timestamp })).status).toBe(200);
    await a.eventually(async () => (await replaysAudited()).length > auditedBefore, 'the replayed click audited');
    await b.bot.dispatcher.settled();
    expect((await replaysAudited())[0]?.detail).toContain('button job.cancel');
    expect(answered()).toBe(answersBefore);
    // A new request (its own trigger ID, so its own signature) is served.
    expect((await a.command(USERS.viewer, 'ping')).status).toBe(200);
  });

  it('refuses a timestamp more than 5 minutes in the future (401); a small clock skew passes', async () => {
    const before = answered();
    const jobsBefore = await pingJobs();
    const ahead = await a.emulator.deliver(a.url, a.emulator.slashCommand({ user: USERS.viewer, channel: OPS, text: 'ping --slow 1' }).body, { timestamp: now() + 3600 });
    expect(ahead.status).toBe(401);
    const justOver = await a.emulator.deliver(a.url, a.emulator.slashCommand({ user: USERS.viewer, channel: OPS, text: 'ping --slow 1' }).body, { timestamp: now() + 6 * 60 });
    expect(justOver.status).toBe(401);
    await a.bot.dispatcher.settled();
    expect(answered()).toBe(before);
    expect(await pingJobs()).toBe(jobsBefore);

    const skewed = await a.emulator.deliver(a.url, a.emulator.slashCommand({ user: USERS.viewer, channel: OPS, text: 'ping' }).body, { timestamp: now() + 60 });
    expect(skewed.status).toBe(200);
    await a.eventually(() => answered() === before + 1 && a.ephemeralTexts(USERS.viewer).at(-1) === 'pong', 'the answer to the skewed request');
  });

  it('keeps the seen signatures in Redis with an expiry, under the bot prefix', async () => {
    const keys = await a.bot.deps.clients.redis.keys(`${a.config.redis.prefix}:slack:seen:*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const ttl = await a.bot.deps.clients.redis.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(600);
    }
  });
});
