/**
 * Whatever a person types comes back escaped: every command that echoes user text is sent a
 * value with a broadcast mention, a user mention, a link, formatting characters and 5,000
 * characters, and every payload the Slack emulator received (Web API calls and response_url
 * posts) is read: in the text Slack parses (top-level `text`, mrkdwn objects) the value never
 * forms a mention, a link or formatting, and every payload passed the emulator's Block Kit
 * validation (Slack's limits).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { areaModules } from '../../commands/index.ts';
import { OPS, USERS, startTestBot, type TestBot } from '../harness/bot.ts';

const MARKUP = '<!channel> <@U0EVIL999> <https://evil.example|click> *bold* `code` ~gone~ _it_ &';
/** A reason: under the 200 characters a backup reason may have, so it is read and echoed. */
const REASON = `${MARKUP} ${'A'.repeat(100)}`;
/** One argument (no spaces), for positional names. */
const TOKEN = '<!channel><@U0EVIL999><https://evil.example|click>*bold*`code`~gone~';
/** 5,000 characters: over a command's input limit (4,000), refused with a clear message. */
const TOO_LONG = `${MARKUP} ${'A'.repeat(5000)}`;

/** Every string Slack reads as mrkdwn in a call's arguments. */
function mrkdwnStrings(args: Record<string, unknown>): string[] {
  const found: string[] = [];
  if (typeof args.text === 'string') found.push(args.text);
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (!value || typeof value !== 'object') return;
    const obj = value as Record<string, unknown>;
    if (obj.type === 'mrkdwn' && typeof obj.text === 'string') found.push(obj.text);
    for (const [key, inner] of Object.entries(obj)) if (key !== 'text' || typeof inner === 'object') walk(inner);
  };
  walk(args.blocks);
  walk(args.view);
  return found;
}

let t: TestBot;
beforeAll(async () => {
  // Workers do not run: the job messages are what is checked, not the work.
  t = await startTestBot({ modules: areaModules, runWorkers: false, config: { database: { url: 'postgresql://autostack@127.0.0.1:9/autostack' }, backup: { bucket: 'escaping-test' } } });
});
afterAll(() => t?.stop());

const COMMANDS: Array<[user: string, text: string]> = [
  [USERS.operator, `backup now ${REASON}`],
  [USERS.operator, `ratelimit block 203.0.113.9 ${REASON}`],
  [USERS.operator, `deploy ${TOKEN} v1.2.3 ${REASON}`],
  [USERS.operator, `rollback ${TOKEN} ${REASON}`],
  [USERS.operator, `tf unlock ${TOKEN}`],
  [USERS.operator, `tf restore ${TOKEN}`],
  [USERS.operator, `rotate jwt --notify ${TOKEN}`],
  [USERS.operator, `backup verify ${TOKEN}`],
  [USERS.viewer, `logs ${TOKEN}`],
  [USERS.viewer, `history ${TOKEN}`],
  [USERS.viewer, `help ${TOKEN}`],
  [USERS.operator, `incident declare sev3 ${REASON}`],
  [USERS.operator, `alerts silence ${TOKEN}`],
  [USERS.operator, `restart ${TOKEN}`],
  [USERS.operator, `backup now ${TOO_LONG}`],
];

describe('user text in outgoing Slack messages', () => {
  it('is escaped in every payload of every command that echoes it: no mention, no link, no formatting, within Slack limits', async () => {
    const first = t.emulator.calls().length;
    for (const [user, text] of COMMANDS) {
      const before = t.emulator.calls().length;
      await t.command(user, text);
      // The answer (an ephemeral, a response_url post or a message) has arrived.
      await t.eventually(() => t.emulator.calls().slice(before).some((c) => /^chat\.|response_url/.test(c.method)), `an answer to ${text.slice(0, 30)}`);
    }
    const calls = t.emulator.calls().slice(first).filter((c) => /^chat\.|response_url|views\./.test(c.method));
    expect(calls.length).toBeGreaterThanOrEqual(COMMANDS.length);
    let echoed = 0;
    for (const call of calls) {
      // The emulator answers ok only for payloads within Slack's limits and schema.
      expect({ method: call.method, status: call.status, ok: call.response.ok }).toEqual({ method: call.method, status: 200, ok: call.method === 'response_url' ? call.response.ok : true });
      for (const text of mrkdwnStrings(call.args)) {
        expect(text).not.toContain('<!channel>');
        expect(text).not.toContain('<@U0EVIL999>');
        expect(text).not.toContain('<https://evil.example');
        // A reason is echoed through `md`: its formatting characters are fenced too.
        if (text.includes('A'.repeat(100))) expect(text).not.toMatch(/\*bold\*|`code`|~gone~|(^|\s)_it_(\s|$)/);
        if (text.includes('&lt;!channel&gt;') && text.includes('&lt;@U0EVIL999&gt;')) echoed++;
      }
    }
    // The value did reach Slack (escaped), in several commands' answers.
    expect(echoed).toBeGreaterThanOrEqual(5);
    // The 5,000-character one is refused, saying why.
    expect(calls.some((c) => String(c.args.text).includes('the limit is 4000'))).toBe(true);
    // The backup's job message carries the reason in its title, escaped.
    const parent = t.emulator.channelMessages(OPS).find((m) => JSON.stringify(m.blocks ?? '').includes('Database backup: &lt;!channel&gt;'));
    expect(parent).toBeDefined();
  });
});
