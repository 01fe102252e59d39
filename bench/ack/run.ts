/**
 * Slash-command acknowledgement latency under a burst: 1,000 signed requests at 100 per second
 * while the demo job runs, against the bot and, in the same run, a bare Bolt app answering the
 * same requests. Slack (the emulator, and the load generator) run in processes of their own, as in real life.
 * Prints p50/p99 beside the targets (p99 < 25 ms, within 1.5x of bare Bolt).
 *
 *   npx tsx bench/ack/run.ts [--requests 1000] [--rate 100]
 */
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { pino } from 'pino';
import { parseConfig } from '../../src/config.ts';
import { createBot } from '../../src/bot.ts';
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

  const redis = await startLocalRedis();
  const config = parseConfig({
    slack: { apiUrl: ready.apiUrl, botToken: ready.botToken, signingSecret: ready.signingSecret },
    redis: { url: redis.url, prefix: 'bench' },
    access: { approver: { users: ['U0BENCH'] } },
  });
  const bot = await createBot({ config, receiver: { kind: 'http', signingSecret: ready.signingSecret }, redisUrl: redis.url, secretKey: randomSecretKey(), log: pino({ level: 'silent' }) });
  const botUrl = `http://127.0.0.1:${await freePort()}/slack/events`;
  await bot.start(Number(new URL(botUrl).port));

  const bare = new App({ token: ready.botToken, receiver: new HTTPReceiver({ signingSecret: ready.signingSecret, processBeforeResponse: false, logLevel: LogLevel.ERROR }), logLevel: LogLevel.ERROR, clientOptions: { slackApiUrl: ready.apiUrl } });
  bare.command('/autostack', async ({ ack }) => {
    await ack();
  });
  const bareUrl = `http://127.0.0.1:${await freePort()}/slack/events`;
  await bare.start(Number(new URL(bareUrl).port));

  // The demo job runs throughout; a short warm-up keeps JIT and connection set-up out of the numbers.
  await load.ask({ kind: 'burst', url: botUrl, bodies: await bodies(1, `ping --slow ${Math.ceil((2 * REQUESTS) / RATE) + 10}`), rate: RATE, signingSecret: ready.signingSecret });
  await burst(botUrl, 200);
  await burst(bareUrl, 200);

  const botLatencies = await burst(botUrl, REQUESTS);
  const bareLatencies = await burst(bareUrl, REQUESTS);
  await bot.dispatcher.settled();

  const row = (name: string, l: number[]) => `${name.padEnd(12)} ${percentile(l, 50).toFixed(2).padStart(8)} ${percentile(l, 99).toFixed(2).padStart(8)} ${l[l.length - 1]!.toFixed(2).padStart(8)}`;
  const botP99 = percentile(botLatencies, 99);
  const bareP99 = percentile(bareLatencies, 99);
  console.log(`ack latency, ${REQUESTS} signed slash commands at ${RATE}/s each, demo job running (ms); load average ${loadavg()[0]!.toFixed(2)}`);
  console.log(`${''.padEnd(12)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}`);
  console.log(row('autostack', botLatencies));
  console.log(row('bare Bolt', bareLatencies));
  console.log(`p99 ratio autostack/bare: ${(botP99 / bareP99).toFixed(2)}x   (target: p99 < 25 ms and within 1.5x of bare Bolt)`);
  console.log(`verdict: p99 ${botP99 < 25 ? 'meets' : 'misses'} 25 ms; ratio ${botP99 / bareP99 <= 1.5 ? 'meets' : 'misses'} 1.5x`);

  await slack.ask({ kind: 'stop' });
  await load.ask({ kind: 'stop' });
  await bare.stop();
  await bot.stop();
  await redis.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
