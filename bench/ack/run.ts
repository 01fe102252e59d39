/**
 * Slash-command acknowledgement latency under a burst: 1,000 signed requests at 100 per second
 * while the demo job runs, against the bot and, in the same run, a bare Bolt app answering the
 * same requests. Slack (the emulator, and the load generator) run in processes of their own, as in real life.
 * Prints p50/p99 beside the targets (p99 < 25 ms, within 1.5x of bare Bolt).
 *
 *   npx tsx bench/ack/run.ts [--requests 1000] [--rate 100] [--rounds 5]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomSecretKey } from '../../src/core/secrets.ts';
import { freePort, startLocalRedis } from '../../src/local-redis.ts';
import type { Answer, Request } from './slack-side.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const REQUESTS = option('requests', 1000);
const RATE = option('rate', 100);
const ROUNDS = option('rounds', 5);

/** Node flags of `npm start` (package.json), so the bot is measured as it runs in production. */
const START_FLAGS = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/).slice(1, -1);

async function until(url: string, status: number): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const answered = await fetch(url, { method: status === 401 ? 'POST' : 'GET' }).then((r) => r.status === status, () => false);
    if (answered) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered ${status}`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

type Side = { ask(request: Request): Promise<Answer>; ready: Promise<Answer> };

function startSide(role: 'emulator' | 'load'): Side {
  const child = fork(fileURLToPath(new URL('./slack-side.ts', import.meta.url)), [role], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () => new Promise<Answer>((resolve) => child.once('message', (m: Answer) => resolve(m)));
  const ready = next();
  return {
    ready,
    async ask(request) {
      const answer = next();
      child.send(request);
      if (request.kind === 'stop') return { kind: 'latencies', latencies: [] };
      const result = await answer;
      if (result.kind === 'error') throw new Error(result.message);
      return result;
    },
  };
}

async function main(): Promise<void> {
  const slack = startSide('emulator');
  const load = startSide('load');
  const ready = await slack.ready;
  await load.ready;
  if (ready.kind !== 'ready') throw new Error('the Slack side did not start');
  const bodies = async (count: number, text: string) => ((await slack.ask({ kind: 'bodies', count, text })) as { bodies: string[] }).bodies;
  const burst = async (url: string, count: number) =>
    ((await load.ask({ kind: 'burst', url, bodies: await bodies(count, 'ping'), rate: RATE, signingSecret: ready.signingSecret })) as { latencies: number[] }).latencies.sort((a, b) => a - b);

  // The bot runs exactly as `npm start` runs it (HTTP mode), and bare Bolt in a process of its own.
  const redis = await startLocalRedis();
  const dir = mkdtempSync(join(tmpdir(), 'autostack-bench-'));
  const configFile = join(dir, 'autostack.yaml');
  writeFileSync(configFile, `redis:\n  prefix: bench\naccess:\n  approver:\n    users: [U0BENCH]\n`);
  const slackEnv = { SLACK_BOT_TOKEN: ready.botToken, SLACK_SIGNING_SECRET: ready.signingSecret, SLACK_API_URL: ready.apiUrl };
  const botPort = await freePort();
  const bot = spawn(process.execPath, [...START_FLAGS, 'src/main.ts'], {
    env: { ...process.env, ...slackEnv, REDIS_URL: redis.url, AUTOSTACK_SECRET_KEY: randomSecretKey(), AUTOSTACK_CONFIG: configFile, PORT: String(botPort), LOG_LEVEL: 'warn', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const barePort = await freePort();
  const bare = fork(fileURLToPath(new URL('./bare.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...slackEnv, PORT: String(barePort) }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const botUrl = `http://127.0.0.1:${botPort}/slack/events`;
  const bareUrl = `http://127.0.0.1:${barePort}/slack/events`;
  await Promise.all([until(`http://127.0.0.1:${botPort}/health`, 200), until(bareUrl, 401)]);

  // A demo job runs throughout each round (ping's 20 one-second steps outlast a round's two bursts).
  const demoJob = async () => load.ask({ kind: 'burst', url: botUrl, bodies: await bodies(1, 'ping --slow 20'), rate: RATE, signingSecret: ready.signingSecret });
  // A short warm-up keeps JIT and connection set-up out of the numbers.
  await burst(botUrl, 200);
  await burst(bareUrl, 200);

  // Rounds alternate the two so both see the same machine; the verdict uses the median round.
  const rounds: Array<{ bot: number[]; bare: number[] }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    await demoJob();
    rounds.push({ bot: await burst(botUrl, REQUESTS), bare: await burst(bareUrl, REQUESTS) });
  }

  const row = (name: string, l: number[]) => `${name.padEnd(16)} ${percentile(l, 50).toFixed(2).padStart(8)} ${percentile(l, 99).toFixed(2).padStart(8)} ${l[l.length - 1]!.toFixed(2).padStart(8)}`;
  console.log(`ack latency, ${REQUESTS} signed slash commands at ${RATE}/s per burst, demo job running (ms); load average ${loadavg()[0]!.toFixed(2)}`);
  console.log(`${''.padEnd(16)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}`);
  rounds.forEach((r, i) => {
    console.log(row(`autostack #${i + 1}`, r.bot));
    console.log(row(`bare Bolt #${i + 1}`, r.bare));
  });
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const botP99 = median(rounds.map((r) => percentile(r.bot, 99)));
  const ratio = median(rounds.map((r) => percentile(r.bot, 99) / percentile(r.bare, 99)));
  console.log(`median of ${ROUNDS} rounds: autostack p99 ${botP99.toFixed(2)} ms, p99 ratio autostack/bare ${ratio.toFixed(2)}x   (target: p99 < 25 ms and within 1.5x of bare Bolt)`);
  console.log(`verdict: p99 ${botP99 < 25 ? 'meets' : 'misses'} 25 ms; ratio ${ratio <= 1.5 ? 'meets' : 'misses'} 1.5x`);

  await slack.ask({ kind: 'stop' });
  await load.ask({ kind: 'stop' });
  const exited = (child: ChildProcess) => new Promise((resolve) => child.once('exit', resolve));
  await Promise.all([exited(bot), exited(bare), bot.kill('SIGTERM'), bare.kill('SIGTERM')]);
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
