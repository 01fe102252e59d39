/**
 * Console mode, like Hubot's shell adapter: a REPL where a person types `/autostack ...`, sees
 * messages, threads and buttons as text, clicks a button by its number, fills modals field by
 * field, and can act as another user. Slack is the in-process emulator; the bot is the real one.
 */
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../../src/config.ts';
import { createBot, type Bot } from '../../src/bot.ts';
import { randomSecretKey } from '../../src/core/secrets.ts';
import { ROLES, type Role } from '../../src/core/types.ts';
import { startLocalRedis, freePort, type LocalRedis } from '../local-redis.ts';
import { SlackEmulator, messageToText } from '../slack-emulator/index.ts';
import type { Block } from '../slack-emulator/index.ts';
import { ConsoleReceiver } from './receiver.ts';
import { plainFromMrkdwn } from '../../src/render/text.ts';

export const CONSOLE_CHANNEL = { id: 'C0CONSOLE', name: 'ops' };

/** Demo people used when the configuration grants no roles at all. */
export const DEMO_USERS: Array<{ id: string; name: string; role: Role }> = [
  { id: 'U0ALICE', name: 'alice', role: 'approver' },
  { id: 'U0BOB', name: 'bob', role: 'operator' },
  { id: 'U0CAROL', name: 'carol', role: 'approver' },
  { id: 'U0DAVE', name: 'dave', role: 'viewer' },
];

export interface ConsoleOptions {
  config: Config;
  log: Logger;
  input: Readable;
  output: Writable;
  /** Modules to load instead of every runbook area (the playground passes its own config). */
  bot?: Partial<Parameters<typeof createBot>[0]>;
  /** Called once the console is ready (tests, playground). */
  onReady?: (session: ConsoleSession) => void;
}

interface NumberedButton {
  channel: string;
  messageTs: string;
  actionId: string;
  value: string;
  label: string;
}

export interface ConsoleSession {
  emulator: SlackEmulator;
  bot: Bot;
  /** The user the console acts as. */
  currentUser(): string;
}

function usersFrom(config: Config): Array<{ id: string; name: string; role: Role }> {
  const users: Array<{ id: string; name: string; role: Role }> = [];
  for (const role of ROLES) for (const id of config.access[role].users) users.push({ id, name: id.toLowerCase(), role });
  return users;
}

export async function runConsole(options: ConsoleOptions): Promise<void> {
  const { log, output } = options;
  const write = (text: string) => output.write(`${text}\n`);
  const configured = usersFrom(options.config);
  const people = configured.length ? configured : DEMO_USERS;
  const config: Config = structuredClone(options.config);
  if (!configured.length) {
    for (const person of DEMO_USERS) config.access[person.role].users.push(person.id);
  }

  const emulator = new SlackEmulator({
    users: people.map((p) => ({ id: p.id, name: p.name, realName: p.name })),
    channels: [CONSOLE_CHANNEL, ...(config.channels.incident ? [{ id: config.channels.incident, name: 'incident' }] : []), ...(config.channels.audit ? [{ id: config.channels.audit, name: 'audit' }] : [])],
    autoCreateChannels: true,
    // A person typing into a form needs longer than Slack's 3 seconds between prompt and modal.
    triggerTtlMs: 60_000,
  });
  await emulator.start();
  config.slack.apiUrl = emulator.apiUrl;
  config.slack.botToken = emulator.botToken;
  config.channels.ops ??= CONSOLE_CHANNEL.id;

  let localRedis: LocalRedis | undefined;
  const redisUrl = config.redis.url ?? (localRedis = await startLocalRedis()).url;
  const receiver = new ConsoleReceiver();
  const bot = await createBot({ config, log, receiver: { kind: 'custom', receiver }, redisUrl, secretKey: config.secrets.key ?? randomSecretKey(), ...options.bot });
  const port = process.env.PORT ? config.slack.port : await freePort();
  await bot.start(port);

  let user = people[0]!.id;
  let channel = CONSOLE_CHANNEL.id;
  const buttons: NumberedButton[] = [];
  const lines = new LineReader(createInterface({ input: options.input, terminal: false }));
  const modalQueue: string[] = [];

  function nameOf(id: string): string {
    return people.find((p) => p.id === id)?.name ?? (id === emulator.botUserId ? 'autostack' : id);
  }

  function show(prefix: string, channelId: string, ts: string, text: string, blocks: readonly Block[] | undefined): void {
    const body = plainFromMrkdwn(messageToText({ text, blocks }).replace(/<@([A-Z0-9]+)>/g, (_m, id: string) => `@${nameOf(id)}`));
    // The prefix opens the message; its other lines align under it (thread lines keep their bar).
    const continuation = prefix.includes('│') ? prefix : ' '.repeat(Math.min(prefix.length, 8));
    write(body.split('\n').map((line, i) => `${i === 0 ? prefix : continuation}${line}`).join('\n'));
    for (const element of buttonsIn(blocks)) {
      buttons.push({ channel: channelId, messageTs: ts, actionId: element.actionId, value: element.value, label: element.label });
      write(`${prefix}  [${buttons.length}] ${element.label}`);
    }
  }

  emulator.on('message', (m) => show(m.thread_ts && m.thread_ts !== m.ts ? '    │ ' : `#${channelName(m.channel)} @${nameOf(m.user)}: `, m.channel, m.ts, m.text, m.blocks));
  emulator.on('message_updated', (m) => show(m.thread_ts && m.thread_ts !== m.ts ? '    │ (edited) ' : `#${channelName(m.channel)} (edited): `, m.channel, m.ts, m.text, m.blocks));
  emulator.on('ephemeral', (e) => {
    if (!e.deleted) show(`(only @${nameOf(e.user)}) `, e.channel, e.ts, e.text, e.blocks);
  });
  emulator.on('file_shared', (f) => {
    for (const file of f.files) {
      // An image cannot be shown in a terminal: its alt text says what it shows.
      const body = file.mimetype.startsWith('image/') ? (file.alt_text ?? '') : (file.content?.toString('utf8') ?? '');
      write(`    │ 📎 ${file.name} (${file.size} bytes)\n${body.split('\n').slice(0, 40).map((l) => `    │   ${l}`).join('\n')}`);
    }
  });
  emulator.on('view_opened', (v) => {
    if (v.view.type === 'modal') modalQueue.push(v.view.id);
  });

  function channelName(id: string): string {
    return emulator.listChannels().find((c) => c.id === id)?.name ?? id;
  }

  async function fillModals(): Promise<void> {
    while (modalQueue.length) {
      const viewId = modalQueue.shift()!;
      const view = emulator.view(viewId);
      if (!view) continue;
      write(`┌ ${view.title?.text ?? 'Form'}`);
      const values: Record<string, Record<string, unknown>> = {};
      for (const block of view.blocks) {
        if (block.type === 'section') write(`│ ${messageToText({ blocks: [block] })}`);
      }
      for (;;) {
        for (const block of view.blocks) {
          if (block.type !== 'input') continue;
          const label = (block.label as { text: string }).text;
          const element = block.element as { action_id: string; initial_value?: string; options?: Array<{ value: string }> };
          if (values[block.block_id as string] && !view.errors?.[block.block_id as string]) continue;
          // A select is answered by typing one of its values.
          if (element.options) write(`│ ${label}: one of ${element.options.map((o) => o.value).join(', ')}`);
          const suffix = element.initial_value ? ` [${element.initial_value}]` : block.optional ? ' (optional)' : '';
          output.write(`│ ${label}${suffix}: `);
          const answer = ((await lines.next()) ?? '').trim();
          values[block.block_id as string] = { [element.action_id]: answer || element.initial_value || '' };
        }
        const request = emulator.viewSubmission({ viewId, user, values });
        const answer = (await receiver.deliver(request.payload)) as { response_action?: string; errors?: Record<string, string> } | undefined;
        if (answer?.response_action === 'errors' && answer.errors) {
          view.errors = answer.errors;
          for (const [field, message] of Object.entries(answer.errors)) write(`│ ✗ ${field}: ${message}`);
          continue;
        }
        emulator.closeView(viewId);
        write('└ submitted');
        break;
      }
      await bot.dispatcher.settled();
    }
  }

  async function handle(line: string): Promise<boolean> {
    if (line === '') return true;
    if (line === '/quit' || line === '/exit') return false;
    if (line === '/help') {
      write('Type /autostack <command> (try /autostack help). A number clicks that button. /as <name> acts as another user; /users lists them; /channel <name> switches channel; /quit leaves.');
      return true;
    }
    if (line === '/users') {
      for (const p of people) write(`${p.id === user ? '*' : ' '} ${p.name} (${p.id}) ${configured.length ? '' : p.role}`);
      return true;
    }
    if (line.startsWith('/as ')) {
      const who = line.slice(4).trim().replace(/^@/, '');
      const person = people.find((p) => p.name === who || p.id === who);
      if (!person) write(`No such user: ${who}. /users lists them.`);
      else {
        user = person.id;
        write(`Now acting as @${person.name}.`);
      }
      return true;
    }
    if (line.startsWith('/channel ')) {
      const name = line.slice(9).trim().replace(/^#/, '');
      const found = emulator.listChannels().find((c) => c.name === name || c.id === name);
      if (!found) emulator.addChannel(name.toUpperCase().startsWith('C') ? name.toUpperCase() : `C0${name.toUpperCase().replace(/[^A-Z0-9]/g, '')}`, name);
      channel = emulator.listChannels().find((c) => c.name === name || c.id === name)!.id;
      write(`Now in #${channelName(channel)}.`);
      return true;
    }
    if (/^\d+$/.test(line)) {
      const button = buttons[Number(line) - 1];
      if (!button) {
        write(`No button ${line}.`);
        return true;
      }
      write(`(@${nameOf(user)} clicks "${button.label}")`);
      const request = emulator.blockAction({ user, actionId: button.actionId, channel: button.channel, messageTs: button.messageTs, action: { value: button.value } });
      await receiver.deliver(request.payload);
      await fillModals();
      return true;
    }
    if (line.startsWith('/autostack')) {
      const request = emulator.slashCommand({ user, channel, text: line.slice('/autostack'.length).trim() });
      await receiver.deliver(request.fields);
      await fillModals();
      return true;
    }
    write('Commands start with /autostack (type /help for console commands).');
    return true;
  }

  write(`AutoStack ChatOps console — Slack is emulated locally; you are @${nameOf(user)} in #${channelName(channel)}.`);
  if (!configured.length) write(`No roles are configured, so demo users are granted: ${DEMO_USERS.map((p) => `${p.name}=${p.role}`).join(', ')}.`);
  write('Type /autostack help, or /help for console commands.');
  options.onReady?.({ emulator, bot, currentUser: () => user });

  try {
    for (;;) {
      output.write(`${nameOf(user)}@#${channelName(channel)}> `);
      const next = await lines.next();
      if (next === undefined) break; // input closed
      const line = next.trim();
      try {
        if (!(await handle(line))) break;
      } catch (error) {
        write(`error: ${(error as Error).message}`);
      }
    }
  } finally {
    lines.close();
    await bot.stop();
    await emulator.close();
    await localRedis?.stop();
  }
}

function buttonsIn(blocks: readonly Block[] | undefined): Array<{ actionId: string; value: string; label: string }> {
  const found: Array<{ actionId: string; value: string; label: string }> = [];
  for (const block of blocks ?? []) {
    if (block.type !== 'actions' || !Array.isArray(block.elements)) continue;
    for (const element of block.elements as Array<Record<string, unknown>>) {
      if (element.type === 'button' && !element.url) {
        found.push({ actionId: String(element.action_id), value: String(element.value ?? ''), label: (element.text as { text: string }).text });
      }
    }
  }
  return found;
}

/** Queues input lines so none is lost while a command is still running (piped input arrives at once). */
class LineReader {
  private readonly queue: string[] = [];
  private waiting?: (line: string | undefined) => void;
  private closed = false;

  constructor(private readonly rl: Interface) {
    rl.on('line', (line) => {
      if (this.waiting) {
        const resolve = this.waiting;
        this.waiting = undefined;
        resolve(line);
      } else this.queue.push(line);
    });
    rl.on('close', () => {
      this.closed = true;
      this.waiting?.(undefined);
    });
  }

  next(): Promise<string | undefined> {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  close(): void {
    this.rl.close();
  }
}
