/**
 * Every reply of the playground's script, as Slack receives it, read on a phone: the banner's
 * "Try:" commands typed in order (and the rollback it suggests, as bob, confirmed with its button),
 * then each message, update and ephemeral reply the bot sent is checked as Block Kit: no line of a
 * code block over 80 characters, and no person shown as a raw user ID instead of a mention.
 */
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startPlayground, PLAYGROUND_SCRIPT } from './playground.ts';
import type { Playground } from './playground.ts';
import { BACKEND, PEOPLE } from './playground/world.ts';
import { codeBlockLines, rawUserIds } from './phone.ts';

const silent = pino({ level: 'silent' });

function terminal() {
  const input = new PassThrough();
  const output = new PassThrough();
  let seen = '';
  output.on('data', (chunk: Buffer) => (seen += chunk.toString('utf8')));
  return {
    input,
    output,
    type(line: string): number {
      const mark = seen.length;
      input.write(`${line}\n`);
      return mark;
    },
    async expectOutput(pattern: RegExp, from: number, timeoutMs = 60_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(seen.slice(from))) {
        if (Date.now() > deadline) throw new Error(`the console never printed ${pattern}; it printed:\n${seen.slice(from)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return seen.slice(from);
    },
  };
}

/** The Block Kit of every message the bot wrote, with what it was written for. */
function botMessages(playground: Playground): Array<{ call: string; blocks: unknown[]; text: string }> {
  const methods = new Set(['chat.postMessage', 'chat.update', 'chat.postEphemeral', 'response_url']);
  return playground.session.emulator
    .calls()
    .filter((c) => methods.has(c.method) && c.status === 200)
    .map((c) => ({ call: `${c.method} #${c.seq}`, blocks: (c.args.blocks as unknown[] | undefined) ?? [], text: String(c.args.text ?? '') }));
}

describe('the playground script read on a phone', () => {
  const term = terminal();
  let playground: Playground;

  beforeAll(async () => {
    playground = await startPlayground({ input: term.input, output: term.output, log: silent, trafficEveryMs: 0 });
    await term.expectOutput(/Type \/autostack help/, 0);
  }, 120_000);

  afterAll(async () => {
    if (!playground) return;
    term.input.end();
    await playground.finished;
  });

  it('runs every command of the script, then the rollback it suggests', async () => {
    for (const [command] of PLAYGROUND_SCRIPT) {
      if (!command.startsWith('/autostack')) continue;
      const from = term.type(command);
      await term.expectOutput(/alice@#ops> $/, from);
    }
    let from = term.type('/as bob');
    await term.expectOutput(/Now acting as @bob/, from);
    from = term.type(`/autostack rollback ${BACKEND.deployment} oauth_state errors since 1.4.2`);
    const plan = await term.expectOutput(/\[(\d+)\] Confirm/, from);
    const confirm = [...plan.matchAll(/\[(\d+)\] Confirm/g)].at(-1)![1]!;
    from = term.type(confirm);
    await term.expectOutput(/Succeeded|Failed|not finished/, from, 120_000);
    from = term.type(`/autostack history ${BACKEND.deployment}`);
    await term.expectOutput(/Live: revision 3/, from);
    from = term.type('/autostack status');
    await term.expectOutput(/bob@#ops> $/, from);
  }, 300_000);

  it('has no code-block line over 80 characters in any reply', () => {
    const messages = botMessages(playground);
    expect(messages.length).toBeGreaterThan(15);
    const wide = messages.flatMap((m) => codeBlockLines(m.blocks).filter((line) => line.length > 80).map((line) => `${m.call}: ${line.length} ${line}`));
    expect(wide).toEqual([]);
    // The check sees code blocks at all: the script's tables are in them.
    expect(messages.some((m) => codeBlockLines(m.blocks).length > 0)).toBe(true);
  });

  it('shows people as mentions, never as raw user IDs', () => {
    const messages = botMessages(playground);
    const raw = messages.flatMap((m) => rawUserIds([m.text, JSON.stringify(m.blocks)].join('\n'), Object.values(PEOPLE)).map((hit) => `${m.call}: ${hit}`));
    expect(raw).toEqual([]);
    // bob's rollback is in the replies, as a mention.
    expect(messages.some((m) => JSON.stringify(m.blocks).includes(`<@${PEOPLE.bob}>`))).toBe(true);
  });
});
