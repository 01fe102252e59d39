/**
 * End-to-end harness: the real bot (Bolt's HTTP receiver, dispatcher, BullMQ workers) against the
 * Slack emulator and the test Redis, driven with correctly signed requests.
 * Start it in beforeAll and stop it in afterAll: `afterAll(() => testBot.stop())`.
 */
import { pino, type Logger } from 'pino';
import { expect } from 'vitest';
import type { CommandModule, JobDefinition } from '../../src/core/types.ts';
import { parseConfig, type Config } from '../../src/config.ts';
import { createBot, type Bot } from '../../src/bot.ts';
import { randomSecretKey } from '../../src/core/secrets.ts';
import { freePort } from '../../dev/local-redis.ts';
import type { ClientOverrides } from '../../src/clients.ts';
import { SlackEmulator, messageToText, type EmulatedMessage, type EphemeralMessage, type SignedResponse } from '../../dev/slack-emulator/index.ts';
import { testServices, uniqueName } from './env.ts';

export const USERS = {
  viewer: 'U0VIEWER',
  operator: 'U0OPERATOR',
  approver: 'U0APPROVER1',
  approver2: 'U0APPROVER2',
  stranger: 'U0STRANGER',
} as const;
export const OPS = 'C0OPS';
export const INCIDENT = 'C0INCIDENT';

export interface TestBotOptions {
  /** Area modules to load (the bot's own verbs are always there). Default: none. */
  modules?: CommandModule[];
  /** Job processors (default: every job in jobs/). */
  jobs?: JobDefinition<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Raw configuration merged over the test defaults (YAML-shaped). */
  config?: Record<string, unknown>;
  overrides?: ClientOverrides;
  runWorkers?: boolean;
  jobTiming?: { lockMs?: number; stalledCheckMs?: number; slackGiveUpMs?: number };
  /** Share another test bot's Slack (a second replica); it is then not closed by this bot's stop(). */
  emulator?: SlackEmulator;
  /** The bot's logger (e.g. one writing into an array, to inspect log lines); default silent. */
  log?: Logger;
}

export interface TestBot {
  bot: Bot;
  emulator: SlackEmulator;
  config: Config;
  url: string;
  secretKey: string;
  /** Sends `/autostack <text>` as `user` in `channel`; resolves with the HTTP answer (the ack). */
  command(user: string, text: string, channel?: string): Promise<SignedResponse>;
  /** Clicks the button whose label matches in a message (or ephemeral) and waits for the handling. */
  click(user: string, message: { channel: string; ts: string }, label: string | RegExp): Promise<SignedResponse>;
  /** Ephemeral messages shown to `user`, as text, oldest first. */
  ephemeralTexts(user: string): string[];
  lastEphemeral(user: string): EphemeralMessage | undefined;
  /** Top-level messages in a channel, oldest first. */
  messages(channel?: string): EmulatedMessage[];
  text(message: { text?: string; blocks?: unknown }): string;
  /** Opens `user`'s App Home tab (an app_home_opened event) and resolves with the view the bot publishes, as text. */
  openHome(user: string): Promise<string>;
  /** Waits until the dispatcher has finished deferred work and `predicate` holds. */
  eventually<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object' && !Array.isArray(current) ? deepMerge(current as Record<string, unknown>, value as Record<string, unknown>) : value;
  }
  return out;
}

export async function startTestBot(options: TestBotOptions = {}): Promise<TestBot> {
  const emulator = options.emulator ?? new SlackEmulator({
    users: Object.entries(USERS).map(([name, id]) => ({ id, name })),
    channels: [
      { id: OPS, name: 'ops' },
      { id: INCIDENT, name: 'incident' },
    ],
    usergroups: { S0LEADS: [USERS.approver2] },
  });
  if (!options.emulator) await emulator.start();
  const raw = deepMerge(
    {
      slack: { apiUrl: emulator.apiUrl, botToken: emulator.botToken, signingSecret: emulator.signingSecret },
      redis: { url: testServices().redisUrl, prefix: uniqueName('bot') },
      access: {
        viewer: { users: [USERS.viewer] },
        operator: { users: [USERS.operator] },
        approver: { users: [USERS.approver], usergroups: ['S0LEADS'] },
      },
      channels: { ops: OPS, incident: INCIDENT },
      aws: { endpoint: testServices().awsEndpoint, region: 'us-east-1', s3ForcePathStyle: true },
    },
    options.config ?? {},
  );
  const config = parseConfig(raw, {});
  const secretKey = randomSecretKey();
  const bot = await createBot({
    config,
    receiver: { kind: 'http', signingSecret: emulator.signingSecret },
    redisUrl: config.redis.url!,
    secretKey,
    log: options.log ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    modules: options.modules ?? [],
    jobs: options.jobs,
    runWorkers: options.runWorkers ?? true,
    overrides: options.overrides,
    jobTiming: options.jobTiming,
  });
  const port = await freePort();
  await bot.start(port);
  const url = `http://127.0.0.1:${port}/slack/events`;
  const text = (message: { text?: string; blocks?: unknown }) => messageToText(message as never);

  const testBot: TestBot = {
    bot,
    emulator,
    config,
    url,
    secretKey,
    async command(user, commandText, channel = OPS) {
      const request = emulator.slashCommand({ user, channel, text: commandText });
      const response = await emulator.deliver(url, request.body);
      await bot.dispatcher.settled();
      return response;
    },
    async click(user, message, label) {
      const candidates = [...emulator.ephemerals(), ...emulator.channelMessages(message.channel, { includeReplies: true })].filter((m) => m.ts === message.ts);
      const target = candidates[candidates.length - 1];
      if (!target) throw new Error(`no message ${message.ts} in ${message.channel}`);
      const button = buttonsOf(target.blocks).find((b) => (typeof label === 'string' ? b.label === label : label.test(b.label)));
      if (!button) throw new Error(`no button ${String(label)} in message: ${text(target)}`);
      const request = emulator.blockAction({ user, actionId: button.actionId, channel: message.channel, messageTs: message.ts, action: { value: button.value } });
      const response = await emulator.deliver(url, request.body);
      await bot.dispatcher.settled();
      return response;
    },
    ephemeralTexts: (user) => emulator.ephemerals(user).map((e) => text(e)),
    lastEphemeral: (user) => emulator.ephemerals(user).at(-1),
    messages: (channel = OPS) => emulator.channelMessages(channel),
    text,
    async openHome(user) {
      const body = JSON.stringify({
        token: 'unused',
        team_id: emulator.teamId,
        api_app_id: emulator.appId,
        type: 'event_callback',
        event_id: `Ev${uniqueName('e')}`,
        event_time: Math.floor(Date.now() / 1000),
        event: { type: 'app_home_opened', user, channel: 'D0HOME', tab: 'home', event_ts: `${Date.now() / 1000}` },
      });
      const response = await emulator.deliver(url, body, { contentType: 'application/json' });
      expect(response.status).toBe(200);
      // eventually() waits for the dispatcher to finish the event (views.publish) first.
      return testBot.eventually(() => {
        const view = emulator.home(user);
        return view && text({ blocks: view.blocks });
      }, 'home tab');
    },
    async eventually(probe, what, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await bot.dispatcher.settled();
        const value = await probe();
        if (value !== undefined && value !== false) return value as never;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      await bot.stop();
      if (!options.emulator) await emulator.close();
    },
  };
  return testBot;
}

export function buttonsOf(blocks: unknown): Array<{ actionId: string; value: string; label: string }> {
  const found: Array<{ actionId: string; value: string; label: string }> = [];
  for (const block of (blocks as Array<Record<string, unknown>> | undefined) ?? []) {
    if (block.type !== 'actions' || !Array.isArray(block.elements)) continue;
    for (const element of block.elements as Array<Record<string, unknown>>) {
      if (element.type === 'button') found.push({ actionId: String(element.action_id), value: String(element.value ?? ''), label: (element.text as { text: string }).text });
    }
  }
  return found;
}
