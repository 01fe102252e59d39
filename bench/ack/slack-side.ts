/**
 * Slack's side of the ack benchmark, out of the bot's process as Slack is in real life. Started
 * twice: `emulator` serves the Web API and response URLs the bot calls and prepares slash-command
 * bodies; `load` sends them signed, on schedule, and measures each acknowledgement. They are
 * separate processes so the emulator's work never delays the measurements.
 */
import { SlackEmulator, signSlackRequest } from '../../dev/slack-emulator/index.ts';

export const BENCH_USER = 'U0BENCH';
export const BENCH_CHANNEL = 'C0BENCH';

export type Request =
  | { kind: 'bodies'; count: number; text: string }
  | { kind: 'burst'; url: string; bodies: string[]; rate: number; signingSecret: string }
  | { kind: 'stop' };
export type Answer =
  | { kind: 'ready'; apiUrl: string; botToken: string; signingSecret: string }
  | { kind: 'bodies'; bodies: string[] }
  | { kind: 'latencies'; latencies: number[] }
  | { kind: 'error'; message: string };

function send(answer: Answer): void {
  process.send!(answer);
}

async function signedPost(url: string, body: string, signingSecret: string): Promise<number> {
  const headers = { 'content-type': 'application/x-www-form-urlencoded', ...signSlackRequest(signingSecret, body, Math.floor(Date.now() / 1000)) };
  const sent = performance.now();
  const response = await fetch(url, { method: 'POST', headers, body });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`HTTP ${response.status} from ${url}`);
  return performance.now() - sent;
}

/** Open loop: requests leave on schedule whether or not earlier ones were answered. */
async function burst(url: string, bodies: string[], rate: number, signingSecret: string): Promise<number[]> {
  const latencies: Promise<number>[] = [];
  const start = performance.now();
  for (const [i, body] of bodies.entries()) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    latencies.push(signedPost(url, body, signingSecret));
  }
  return Promise.all(latencies);
}

const role = process.argv[2];
const emulator = role === 'emulator' ? new SlackEmulator({ users: [{ id: BENCH_USER, name: 'bench' }], channels: [{ id: BENCH_CHANNEL, name: 'bench' }], responseUrlMaxUses: 1_000_000, triggerTtlMs: 3_600_000 }) : undefined;

process.on('message', (request: Request) => {
  const work = async () => {
    if (request.kind === 'bodies' && emulator) {
      send({ kind: 'bodies', bodies: Array.from({ length: request.count }, () => emulator.slashCommand({ user: BENCH_USER, channel: BENCH_CHANNEL, text: request.text }).body) });
    } else if (request.kind === 'burst') {
      send({ kind: 'latencies', latencies: await burst(request.url, request.bodies, request.rate, request.signingSecret) });
    } else if (request.kind === 'stop') {
      await emulator?.close();
      process.exit(0);
    }
  };
  work().catch((error: Error) => send({ kind: 'error', message: error.message }));
});

if (emulator) {
  await emulator.start();
  send({ kind: 'ready', apiUrl: emulator.apiUrl, botToken: emulator.botToken, signingSecret: emulator.signingSecret });
} else {
  send({ kind: 'ready', apiUrl: '', botToken: '', signingSecret: '' });
}
