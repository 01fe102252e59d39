/**
 * `npm start` as a process (dev/start.ts: console mode without a Slack token, else the runtime's
 * entry point src/main.ts): mode selection, configuration errors, graceful stop on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/local-redis.ts';
import { randomSecretKey } from '../../src/core/secrets.ts';
import { SlackEmulator } from '../../dev/slack-emulator/index.ts';
import { testServices, uniqueName } from '../harness/env.ts';

function start(env: Record<string, string>, args: string[] = [], entry = 'dev/start.ts', input?: string): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_REGION: 'us-east-1', LOG_LEVEL: 'info', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  if (input !== undefined) child.stdin!.end(input);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function until(probe: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('npm start', () => {
  const emulator = new SlackEmulator();
  beforeAll(async () => {
    await emulator.start();
  });
  afterAll(() => emulator.close());

  it('exits with the key and what is wrong on a bad configuration', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autostack-config-'));
    const file = join(dir, 'autostack.yaml');
    writeFileSync(file, 'approvals:\n  ttl: whenever\n');
    const run = start({ AUTOSTACK_CONFIG: file });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/approvals\.ttl: must be a duration/);
    const missing = start({ AUTOSTACK_CONFIG: join(dir, 'missing.yaml') });
    expect(await missing.exited).toBe(1);
    expect(missing.output()).toMatch(/missing\.yaml: file not found \(AUTOSTACK_CONFIG\)/);
  });

  it('runs console mode when no Slack setting is given', async () => {
    const run = start({ REDIS_URL: testServices().redisUrl }, [], 'dev/start.ts', '/autostack ping\n');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('AutoStack ChatOps console');
    expect(run.output()).toContain('pong');
  });

  it('leaves console mode out of the runtime entry point: without a Slack token it refuses and says where the console is', async () => {
    const run = start({}, [], 'src/main.ts', '/autostack ping\n');
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/no Slack token: HTTP mode needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET.*Console mode \(no token\) is a development tool: run `npm start`/);
    expect(run.output()).not.toContain('pong');
  });

  it('refuses half-set Slack settings instead of guessing a mode', async () => {
    const run = start({ SLACK_BOT_TOKEN: 'xoxb-only' });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/HTTP mode needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET/);
  });

  it('serves Slack over HTTP with health, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'autostack-config-'));
    const file = join(dir, 'autostack.yaml');
    writeFileSync(file, `redis:\n  prefix: ${uniqueName('main')}\n`);
    const http = start({
      SLACK_BOT_TOKEN: emulator.botToken,
      SLACK_SIGNING_SECRET: emulator.signingSecret,
      SLACK_API_URL: emulator.apiUrl,
      REDIS_URL: testServices().redisUrl,
      AUTOSTACK_SECRET_KEY: randomSecretKey(),
      PORT: String(port),
      AUTOSTACK_CONFIG: file,
    });
    await until(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200, 'health');
    const unsigned = await fetch(`http://127.0.0.1:${port}/slack/events`, { method: 'POST', body: 'command=%2Fautostack&text=help', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(unsigned.status).toBe(401);
    http.child.kill('SIGTERM');
    expect(await http.exited).toBe(0);
    expect(http.output()).toMatch(/"mode":"http"/);
  });

  it('runs workers alone with --worker-only', async () => {
    const port = await freePort();
    const refused = start({ REDIS_URL: testServices().redisUrl, AUTOSTACK_SECRET_KEY: randomSecretKey() }, ['--worker-only']);
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toMatch(/--worker-only needs SLACK_BOT_TOKEN/);
    const run = start({ REDIS_URL: testServices().redisUrl, AUTOSTACK_SECRET_KEY: randomSecretKey(), PORT: String(port), SLACK_API_URL: emulator.apiUrl, SLACK_BOT_TOKEN: emulator.botToken }, ['--worker-only']);
    await until(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200, 'health');
    expect(await (await fetch(`http://127.0.0.1:${port}/health`)).json()).toMatchObject({ workers: 'running' });
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});
