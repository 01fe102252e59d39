/** The bot's own HTTP endpoints: health, metrics, the job dashboard; and Slack 429 handling. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { freePort } from '../../dev/local-redis.ts';
import { createBot } from '../../src/bot.ts';
import { ConsoleReceiver } from '../../dev/console/receiver.ts';
import { parseConfig } from '../../src/config.ts';
import { randomSecretKey } from '../../src/core/secrets.ts';
import { SlackEmulator } from '../../dev/slack-emulator/index.ts';
import { testServices, uniqueName } from '../harness/env.ts';
import { OPS, USERS, startTestBot, type TestBot } from '../harness/bot.ts';

describe('health, metrics and the job dashboard', () => {
  let t: TestBot;
  let boardPort: number;
  beforeAll(async () => {
    boardPort = await freePort();
    t = await startTestBot({ config: { http: { bullBoard: { enabled: true, password: 'board-pass', port: boardPort } } } });
  });
  afterAll(() => t.stop());
  const base = () => t.url.replace('/slack/events', '');

  it('reports healthy while Redis answers and workers run', async () => {
    const response = await fetch(`${base()}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', redis: 'ok', workers: 'running' });
  });

  it('exports Prometheus metrics for commands, denials and jobs', async () => {
    await t.command(USERS.viewer, 'ping');
    await t.command(USERS.stranger, 'ping');
    const text = await (await fetch(`${base()}/metrics`)).text();
    expect(text).toMatch(/autostack_commands_total\{verb="ping",result="ok"\} [1-9]/);
    expect(text).toMatch(/autostack_denials_total\{verb="ping"\} [1-9]/);
    expect(text).toContain('# TYPE autostack_job_duration_seconds histogram');
  });

  it('serves the job dashboard only with the password', async () => {
    const url = `http://127.0.0.1:${boardPort}/`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` } })).status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: `Basic ${Buffer.from('admin:board-pass').toString('base64')}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/bull/i);
  });
});

describe('Slack rate limits', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot();
  });
  afterAll(() => t.stop());

  it('retries a job thread post after Retry-After and loses no step', async () => {
    t.emulator.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 1 }, 2);
    await t.command(USERS.viewer, 'ping --slow 2');
    const parent = await t.eventually(() => t.messages(OPS).find((m) => t.text(m).includes('Ping with 2 steps')), 'parent', 20_000);
    await t.eventually(() => t.text(t.emulator.message(OPS, parent.ts)!).includes('Succeeded'), 'final status', 20_000);
    const lines = t.emulator.thread(OPS, parent.ts).flatMap((m) => t.text(m).split('\n'));
    expect(lines).toEqual(expect.arrayContaining(['Step 1/2 done', 'Step 2/2 done']));
    expect(t.emulator.calls('chat.postMessage').filter((c) => c.status === 429).length).toBe(2);
  });

  it('retries a rate-limited reply once, shortly', async () => {
    const before = t.emulator.calls('response_url').length;
    t.emulator.failNext('response_url', { status: 429, retryAfterSeconds: 1 }, 1);
    await t.command(USERS.viewer, 'ping');
    expect(t.emulator.calls('response_url').slice(before).map((c) => c.status)).toEqual([429, 200]);
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toBe('pong');
  });

  it('does not hold an interactive path for a long Retry-After: it tells the person at once', async () => {
    const posts = () => t.emulator.calls('chat.postMessage').length;
    const before = posts();
    t.emulator.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 60 }, 1);
    await t.command(USERS.viewer, 'ping --slow 1');
    expect(t.emulator.calls('chat.postMessage')[before]?.status).toBe(429);
    // The answer came at once (the command did not wait out the 60 s): the job is queued and will report.
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/^Started a 1-step ping job/);
    // The job was queued before its parent message, so nothing is lost: its worker posts the parent itself.
    await t.eventually(() => t.emulator.calls('chat.postMessage').slice(before + 1).some((c) => c.status === 200 && c.args.thread_ts === undefined), 'the worker posting the parent');
    expect(posts()).toBeGreaterThan(before + 1);
  });
});

describe('module routes outside HTTP mode', () => {
  it('serves routes with path parameters in console mode too', async () => {
    const emulator = await new SlackEmulator().start();
    const config = parseConfig({ slack: { apiUrl: emulator.apiUrl, botToken: emulator.botToken }, redis: { url: testServices().redisUrl, prefix: uniqueName('routes') } });
    const bot = await createBot({
      config,
      receiver: { kind: 'custom', receiver: new ConsoleReceiver() },
      redisUrl: config.redis.url!,
      secretKey: randomSecretKey(),
      log: pino({ level: 'silent' }),
      runWorkers: false,
      modules: [{ area: 'routes', verbs: [], routes: [{ method: 'GET', path: '/things/:id', handle: async (req, res) => void res.end(`thing ${req.url}`) }] }],
    });
    const port = await freePort();
    await bot.start(port);
    try {
      const found = await fetch(`http://127.0.0.1:${port}/things/abc123?x=1`);
      expect(found.status).toBe(200);
      expect(await found.text()).toBe('thing /things/abc123?x=1');
      expect((await fetch(`http://127.0.0.1:${port}/things/abc/deeper`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    } finally {
      await bot.stop();
      await emulator.close();
    }
  });
});
