/**
 * Roles granted through a Slack user group while Slack fails: the last list read still grants
 * them up to access.groups.maxStale, then the group grants nothing (fail closed, with a message
 * that says why); a failed read is not repeated within access.groups.negativeCache. The real bot
 * behind Bolt's HTTP receiver, the Slack emulator failing usergroups.users.list, an injected clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPS, USERS, startTestBot, type TestBot } from '../harness/bot.ts';

let t: TestBot;
// The bot's clock, moved by this test (requests are still signed and checked with the wall clock).
let nowMs = Date.now();
const advance = (seconds: number) => {
  nowMs += seconds * 1000;
};

beforeAll(async () => {
  t = await startTestBot({
    // USERS.approver2 is an approver only through the user group S0LEADS.
    config: { access: { groups: { refresh: '30s', maxStale: '2m', negativeCache: '20s' } } },
    overrides: { clock: { now: () => new Date(nowMs) } },
  });
});
afterAll(() => t?.stop());

const lookups = () => t.emulator.calls('usergroups.users.list').length;

/** Runs `audit` (approver only) as the group member; true when it was allowed. */
async function auditAllowed(): Promise<boolean> {
  const before = t.ephemeralTexts(USERS.approver2).length;
  await t.command(USERS.approver2, 'audit 1', OPS);
  const answers = t.ephemeralTexts(USERS.approver2).slice(before);
  expect(answers).toHaveLength(1);
  return !answers[0]!.includes('You are not allowed');
}

describe('user group roles while Slack fails', () => {
  it('keeps the last list up to maxStale, then fails closed with a clear message, and asks Slack at most once per negativeCache', async () => {
    expect(await auditAllowed()).toBe(true);
    expect(lookups()).toBe(1);
    // Within refresh: no call at all.
    advance(10);
    expect(await auditAllowed()).toBe(true);
    expect(lookups()).toBe(1);

    // Slack fails from now on (500s).
    t.emulator.failNext('usergroups.users.list', { status: 500 }, 100);
    advance(50); // the list is 60 s old: refresh is due, the read fails, the list (< 2m) still counts
    expect(await auditAllowed()).toBe(true);
    expect(lookups()).toBe(2);
    // Within the negative cache: no further call, however many commands.
    advance(5);
    expect(await auditAllowed()).toBe(true);
    expect(await auditAllowed()).toBe(true);
    expect(lookups()).toBe(2);

    // 125 s after the last good read (past maxStale 2m) and past the negative cache.
    advance(70);
    expect(await auditAllowed()).toBe(false);
    expect(lookups()).toBe(3);
    const denial = t.ephemeralTexts(USERS.approver2).at(-1)!;
    expect(denial).toContain('You are not allowed to run `audit`: it needs the approver role and you have no AutoStack role.');
    expect(denial).toContain('Slack did not answer for user group S0LEADS (approver), last read 2 min ago');
    expect(denial).toContain('longer ago than 2m (access.groups.maxStale) grants no role until Slack answers again');
    const audit = await t.bot.audit.latest(3);
    expect(audit.find((e) => e.action === 'audit' && e.result === 'denied')?.detail).toContain('S0LEADS');

    // Slack answers again; after the negative cache the group grants its role once more.
    t.emulator.clearFaults();
    advance(5);
    expect(await auditAllowed()).toBe(false);
    expect(lookups()).toBe(3);
    advance(20);
    expect(await auditAllowed()).toBe(true);
    expect(lookups()).toBe(4);
  });
});
