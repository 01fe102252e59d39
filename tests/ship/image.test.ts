/**
 * The container image: the Dockerfile's steps, performed in a clean directory by
 * scripts/image-rehearsal.ts (no Docker engine here), give a folder with production dependencies
 * only that runs the compiled bot: HTTP mode answering the HEALTHCHECK and `npm run worker`.
 * Development tools (dev/: console mode, the Slack emulator) stay out of it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDockerfile, rehearse, type Rehearsal } from '../../scripts/image-rehearsal.ts';
import { freePort } from '../../dev/local-redis.ts';
import { randomSecretKey } from '../../src/core/secrets.ts';
import { SlackEmulator } from '../../dev/slack-emulator/index.ts';
import { testServices, uniqueName } from '../harness/env.ts';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string }; scripts: Record<string, string> };
const nodeMajor = /(\d+)/.exec(pkg.engines.node)![1];
const dockerfile = parseDockerfile(readFileSync('Dockerfile', 'utf8'));

let image: Rehearsal;
const children: ChildProcess[] = [];

function run(command: string[], env: Record<string, string>, input?: string): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let output = '';
  // Its own process group, so that `npm run worker` and the node it starts stop together.
  const child = spawn(command[0]!, command.slice(1), { cwd: image.dir, env: { ...image.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  children.push(child);
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  if (input !== undefined) child.stdin!.end(input);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function until(probe: () => Promise<boolean>, what: string, output: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; output:\n${output()}`);
}

describe('Dockerfile', () => {
  it('builds on the supported Node.js LTS in every stage, as a non-root user, with a configurable PostgreSQL client', () => {
    const froms = dockerfile.filter((i) => i.op === 'FROM').map((i) => i.args.split(/\s+/)[0]);
    expect(froms.length).toBe(3);
    for (const from of froms) expect(from).toBe(`node:${nodeMajor}-bookworm-slim`);
    expect(dockerfile.find((i) => i.op === 'ARG')?.args).toMatch(/^PG_MAJOR=\d+$/);
    const runs = dockerfile.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => r.includes('"postgresql-client-${PG_MAJOR}"'))).toBe(true);
    expect(dockerfile.find((i) => i.op === 'ENV')?.args).toContain('PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:$PATH');
    expect(dockerfile.find((i) => i.op === 'USER')?.args).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    expect(dockerfile.find((i) => i.op === 'HEALTHCHECK')?.args).toContain('/health');
    expect(JSON.parse(dockerfile.find((i) => i.op === 'CMD')!.args)).toEqual(['node', 'dist/src/main.js']);
    // `npm run worker` is the image's alternative command: it must run the compiled build.
    expect(pkg.scripts.worker).toBe('node dist/src/main.js --worker-only');
  });
});

describe('image rehearsal', () => {
  const emulator = new SlackEmulator();

  beforeAll(async () => {
    await emulator.start();
    image = rehearse({ root: mkdtempSync(join(tmpdir(), 'autostack-image-')) });
  }, 900_000);

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
    await emulator.close();
  });

  it('performs every step of the Dockerfile but the operating system ones', () => {
    const runs = dockerfile.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect([...image.ran, ...image.skipped].sort()).toEqual([...runs].sort());
    expect(image.skipped.map((s) => s.split(' ')[0])).toEqual(['apt-get', 'groupadd']);
    expect(image.ran).toEqual(['npm ci --no-audit --no-fund', 'npm run build', 'npm ci --omit=dev --no-audit --no-fund']);
    expect(image.stages.map((s) => s.name)).toEqual(['build', 'deps', 'image']);
  });

  it('holds production dependencies only: no TypeScript loader, no test tools, no sources', () => {
    for (const dev of ['tsx', 'vitest', 'eslint', 'esbuild', 'node', 'playwright-core']) expect(existsSync(join(image.dir, 'node_modules', dev)), dev).toBe(false);
    for (const runtime of ['@slack/bolt', 'bullmq', 'pg']) expect(existsSync(join(image.dir, 'node_modules', runtime)), runtime).toBe(true);
    expect(existsSync(join(image.dir, 'src'))).toBe(false);
    expect(existsSync(join(image.dir, 'dist/src/main.js'))).toBe(true);
    expect(existsSync(join(image.dir, 'dist/dev'))).toBe(false);
    expect(existsSync(join(image.dir, 'policies/minimal-policy.json'))).toBe(true);
    expect(existsSync(join(image.dir, 'alerts/autostack-rules.yml'))).toBe(true);
    expect(existsSync(join(image.dir, 'fonts/DejaVuSans.ttf'))).toBe(true);
  });

  it('draws a chart from the compiled build with the native renderer for linux-x64 and the bundled font', () => {
    const chart = { title: 'image check', yTitle: 'n', series: [{ name: 'n', points: [{ at: 0, value: 1 }, { at: 60_000, value: 2 }] }], alt: 'n' };
    const script = `import('./dist/src/render/chart.js').then(async (m) => process.stdout.write(String((await m.renderChartPng(${JSON.stringify(chart)})).length)))`;
    const drawn = spawnSync('node', ['-e', script], { cwd: image.dir, env: image.env, encoding: 'utf8' });
    expect(drawn.stderr).toBe('');
    expect(Number(drawn.stdout)).toBeGreaterThan(1000);
  });

  it('refuses to start without a Slack token and says console mode is a development tool', async () => {
    const session = run(image.cmd, {}, '/autostack ping\n');
    expect(await session.exited).toBe(1);
    expect(session.output()).toContain('no Slack token');
    expect(session.output()).toContain('Console mode (no token) is a development tool: run `npm start` in a checkout');
    expect(session.output()).not.toContain('pong');
  });

  it('serves HTTP mode and passes its HEALTHCHECK; the check fails once the bot is gone', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'autostack-config-'));
    writeFileSync(join(dir, 'autostack.yaml'), `redis:\n  prefix: ${uniqueName('image')}\n`);
    const env = {
      SLACK_BOT_TOKEN: emulator.botToken,
      SLACK_SIGNING_SECRET: emulator.signingSecret,
      SLACK_API_URL: emulator.apiUrl,
      REDIS_URL: testServices().redisUrl,
      AUTOSTACK_SECRET_KEY: randomSecretKey(),
      AUTOSTACK_CONFIG: join(dir, 'autostack.yaml'),
      AWS_REGION: 'us-east-1',
      PORT: String(port),
    };
    const bot = run(image.cmd, env);
    await until(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200, 'health', bot.output);
    const check = () => spawnSync(image.healthcheck[0]!, image.healthcheck.slice(1), { cwd: image.dir, env: { ...image.env, PORT: String(port) } }).status;
    expect(check()).toBe(0);
    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
    expect(check()).toBe(1);

    const worker = run(['npm', 'run', 'worker'], env);
    await until(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200, 'worker health', worker.output);
    expect(await (await fetch(`http://127.0.0.1:${port}/health`)).json()).toMatchObject({ workers: 'running' });
    expect(check()).toBe(0);
    // npm and the bot both get the signal: npm ends by it, the bot stops cleanly.
    process.kill(-worker.child.pid!, 'SIGTERM');
    await worker.exited;
    await until(async () => check() === 1, 'the worker to stop', worker.output);
  });
});
