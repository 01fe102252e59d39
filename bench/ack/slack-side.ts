/**
 * The Slack side of the ack benchmark, in its own process as Slack is in real life: the Web API
 * emulator the bot calls, and the load generator sending signed slash commands on schedule.
 */
import { SlackEmulator, signSlackRequest } from '../../src/slack-emulator/index.ts';

export const BENCH_USER = 'U0BENCH';
export const BENCH_CHANNEL = 'C0BENCH';

export type ParentMessage = { kind: 'command'; url: string; text: string } | { kind: 'burst'; url: string; requests: number; rate: number; text: string } | { kind: 'stop' };
export type ChildMessage = { kind: 'ready'; apiUrl: string; botToken: string; signingSecret: string } | { kind: 'done'; latencies: number[] } | { kind: 'error'; message: string };

const emulator = new SlackEmulator({ users: [{ id: BENCH_USER, name: 'bench' }], channels: [{ id: BENCH_CHANNEL, name: 'bench' }], responseUrlMaxUses: 1_000_000 });

function send(message: ChildMessage): void {
  process.send!(message);
}

async function signedPost(url: string, text: string): Promise<number> {
  const { body } = emulator.slashCommand({ user: BENCH_USER, channel: BENCH_CHANNEL, text });
  const headers = { 'content-type': 'application/x-www-form-urlencoded', ...signSlackRequest(emulator.signingSecret, body, Math.floor(Date.now() / 1000)) };
  const sent = performance.now();
  const response = await fetch(url, { method: 'POST', headers, body });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`HTTP ${response.status} from ${url}`);
  return performance.now() - sent;
}

/** Open loop: requests leave on schedule whether or not earlier ones were answered. */
async function burst(url: string, requests: number, rate: number, text: string): Promise<number[]> {
  const latencies: Promise<number>[] = [];
  const start = performance.now();
  for (let i = 0; i < requests; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    latencies.push(signedPost(url, text));
  }
  return Promise.all(latencies);
}

process.on('message', (message: ParentMessage) => {
  const work = async () => {
    if (message.kind === 'command') {
      await signedPost(message.url, message.text);
      send({ kind: 'done', latencies: [] });
    } else if (message.kind === 'burst') {
      send({ kind: 'done', latencies: await burst(message.url, message.requests, message.rate, message.text) });
    } else {
      await emulator.close();
      process.exit(0);
    }
  };
  work().catch((error: Error) => send({ kind: 'error', message: error.message }));
});

await emulator.start();
send({ kind: 'ready', apiUrl: emulator.apiUrl, botToken: emulator.botToken, signingSecret: emulator.signingSecret });
