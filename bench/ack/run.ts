/**
 * Slash-command acknowledgement latency under a burst: 1,000 signed requests at 100 per second
 * while the demo job runs, against the bot and, in the same run, a bare Bolt app answering the
 * same requests. Slack (emulator and load generator) runs in a separate process, as in real life.
 * Prints p50/p99 beside the targets (p99 < 25 ms, within 1.5x of bare Bolt).
 *
 *   npx tsx bench/ack/run.ts [--requests 1000] [--rate 100]
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { pino } from 'pino';
import { parseConfig } from '../../src/config.ts';
import { createBot } from '../../src/bot.ts';
import { randomSecretKey } from '../../src/core/secrets.ts';
import { freePort, startLocalRedis } from '../../src/local-redis.ts';
import type { ChildMessage, ParentMessage } from './slack-side.ts';

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

async function main(): Promise<void> {
  const slackSide = fork(fileURLToPath(new URL('./slack-side.ts', import.meta.url)), { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () => new Promise<ChildMessage>((resolve) => slackSide.once('message', (m: ChildMessage) => resolve(m)));
  const ask = async (message: ParentMessage): Promise<number[]> => {
    const answer = next();
    slackSide.send(message);
    const result = await answer;
    if (result.kind === 'error') throw new Error(result.message);
    return result.kind === 'done' ? result.latencies : [];
  };
  const ready = await next();
  if (ready.kind !== 'ready') throw new Error('the Slack side did not start');

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
  await ask({ kind: 'command', url: botUrl, text: 'ping --slow 20' });
  await ask({ kind: 'burst', url: botUrl, requests: 200, rate: RATE, text: 'ping' });
  await ask({ kind: 'burst', url: bareUrl, requests: 200, rate: RATE, text: 'ping' });

  const botLatencies = (await ask({ kind: 'burst', url: botUrl, requests: REQUESTS, rate: RATE, text: 'ping' })).sort((a, b) => a - b);
  const bareLatencies = (await ask({ kind: 'burst', url: bareUrl, requests: REQUESTS, rate: RATE, text: 'ping' })).sort((a, b) => a - b);
  await bot.dispatcher.settled();

  const row = (name: string, l: number[]) => `${name.padEnd(12)} ${percentile(l, 50).toFixed(2).padStart(8)} ${percentile(l, 99).toFixed(2).padStart(8)} ${l[l.length - 1]!.toFixed(2).padStart(8)}`;
  const botP99 = percentile(botLatencies, 99);
  const bareP99 = percentile(bareLatencies, 99);
  console.log(`ack latency, ${REQUESTS} signed slash commands at ${RATE}/s each, demo job running (ms)`);
  console.log(`${''.padEnd(12)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}`);
  console.log(row('autostack', botLatencies));
  console.log(row('bare Bolt', bareLatencies));
  console.log(`p99 ratio autostack/bare: ${(botP99 / bareP99).toFixed(2)}x   (target: p99 < 25 ms and within 1.5x of bare Bolt)`);
  console.log(`verdict: p99 ${botP99 < 25 ? 'meets' : 'misses'} 25 ms; ratio ${botP99 / bareP99 <= 1.5 ? 'meets' : 'misses'} 1.5x`);

  await ask({ kind: 'stop' }).catch(() => undefined);
  await bare.stop();
  await bot.stop();
  await redis.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
