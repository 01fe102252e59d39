/**
 * A real bot (Bolt's HTTP receiver, dispatcher, BullMQ workers) with the rotation module, pointed
 * at a rotation platform (test control plane and fake backend), its one-time links served on the
 * bot's own port, a clock tests can move, and every log line kept.
 */
import { pino } from 'pino';
import { kubeClientsFrom } from '../../src/clients.ts';
import { rotateModule } from '../../commands/rotate/index.ts';
import { OPS, USERS, buttonsOf, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';
import type { EmulatedMessage } from '../../dev/slack-emulator/index.ts';
import type { Platform } from './helpers.ts';

export interface RotationBot extends TestBot {
  /** The bot's public base URL (its HTTP server). */
  publicUrl: string;
  logLines: string[];
  /** Moves the bot's clock (approvals, links, reminders) by `ms`. */
  advance(ms: number): void;
  resetClock(): void;
}

export async function startRotationBot(p: Platform, options: { config?: Record<string, unknown>; redisPrefix?: string } = {}): Promise<RotationBot> {
  const logLines: string[] = [];
  const log = pino({ level: 'trace' }, { write: (line: string) => void logLines.push(line) });
  let offset = 0;
  const kc = p.kns.bot;
  const t = await startTestBot({
    modules: [rotateModule],
    log,
    config: { ...p.config, ...(options.redisPrefix ? { redis: { prefix: options.redisPrefix } } : {}), ...options.config },
    overrides: { kube: () => kubeClientsFrom(kc), clock: { now: () => new Date(Date.now() + offset) } },
  });
  // The one-time links point at the bot's own HTTP server (the same port as /slack/events).
  const publicUrl = t.url.replace(/\/slack\/events$/, '');
  t.config.http.publicUrl = publicUrl;
  return Object.assign(t, {
    publicUrl,
    logLines,
    advance: (ms: number) => void (offset += ms),
    resetClock: () => void (offset = 0),
  });
}

/** The one-time link in the user's latest ephemeral answer. */
export function linkFrom(t: TestBot, user: string): string {
  const text = t.ephemeralTexts(user).at(-1) ?? '';
  const match = /(http:\/\/127\.0\.0\.1:\d+\/rotate\/form\/[A-Za-z0-9_-]{43})/.exec(text);
  if (!match) throw new Error(`no one-time link in: ${text}`);
  return match[1]!;
}

export async function submitForm(link: string, values: { id: string; secret: string }, options: { token?: string; origin?: string } = {}): Promise<{ status: number; html: string; headers: Headers }> {
  const token = options.token ?? link.split('/').at(-1)!;
  const response = await fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: options.origin ?? new URL(link).origin },
    body: new URLSearchParams({ token, client_id: values.id, client_secret: values.secret }).toString(),
  });
  return { status: response.status, html: await response.text(), headers: response.headers };
}

export function formIdFrom(html: string): string {
  const match = /apply --form ([a-f0-9]{12})/.exec(html);
  if (!match) throw new Error(`no form id in: ${html.slice(0, 500)}`);
  return match[1]!;
}

/** The newest approval request for `verb` that still has its buttons. */
export function pendingApproval(t: TestBot, verb: string, channel = OPS): Promise<EmulatedMessage> {
  return t.eventually(() => t.messages(channel).filter((m) => t.text(m).includes(`asks to run \`${verb}\``) && buttonsOf(m.blocks).length > 0).at(-1), `approval of ${verb}`);
}

/** Waits for the job parent titled `title` to finish; returns it and its thread's text. */
export async function finishedJob(t: TestBot, title: string, channel = OPS, after = 0): Promise<{ parent: EmulatedMessage; text: string; thread: EmulatedMessage[] }> {
  const parent = await t.eventually(() => t.messages(channel).filter((m) => t.text(m).includes(title) && Number(m.ts) > after).at(-1), `job ${title}`);
  const done = await t.eventually(() => {
    const current = t.emulator.message(channel, parent.ts)!;
    return /Succeeded|Failed/.test(t.text(current)) && current;
  }, `end of ${title}`, 30_000);
  const thread = t.emulator.thread(channel, parent.ts);
  return { parent: done, text: [t.text(done), ...thread.map((m) => t.text(m))].join('\n'), thread };
}

export { OPS, USERS };
