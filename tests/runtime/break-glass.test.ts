/**
 * Break glass: off unless configured per verb, for the on-call group only; the requester runs the
 * same plan-bound job alone after typing a reason and the target's name; it is marked BREAK-GLASS
 * in the message, the audit trail and the audit channel, and its review is reminded until an
 * approver acknowledges it. Signed requests into the real bot; the Slack emulator; real Redis/BullMQ.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guarded } from './fixtures.ts';
import { INCIDENT, OPS, USERS, startTestBot, buttonsOf, type TestBot } from '../harness/bot.ts';

describe('break glass', () => {
  let t: TestBot;

  beforeAll(async () => {
    t = await startTestBot({
      ...guarded(`break-glass-${Date.now()}`),
      config: {
        approvals: { verbs: { 'danger op': { breakGlass: true } }, breakGlass: { oncall: { usergroups: ['S0ONCALL'] } } },
        // The incident channel stands in for the audit channel.
        channels: { audit: INCIDENT },
      },
    });
    t.emulator.setUsergroup('S0ONCALL', [USERS.operator]);
  });
  afterAll(() => t.stop());

  const testJobs = async () => (await t.bot.jobs.queue.getJobs(['active', 'waiting', 'delayed', 'completed', 'failed'])).filter((j) => j?.name === 'test-op').length;

  async function request(user: string, text: string): Promise<{ ts: string; id: string; labels: string[] }> {
    const before = t.messages(OPS).length;
    await t.command(user, text);
    const message = await t.eventually(() => t.messages(OPS).slice(before).find((m) => t.text(m).includes('asks to run') && buttonsOf(m.blocks).length), 'approval message');
    const buttons = buttonsOf(message.blocks);
    return { ts: message.ts, id: buttons.find((b) => b.label === 'Approve')!.value, labels: buttons.map((b) => b.label) };
  }

  it('is not offered on a verb that does not allow it, and a forged click is refused', async () => {
    const { ts, id, labels } = await request(USERS.operator, 'typed op 1');
    expect(labels).toEqual(['Approve', 'Reject']);
    const modals = t.emulator.calls('views.open').length;
    // Slack only sends actions a message has: the forged click carries this request's ID on another request's Break glass button.
    const offered = await request(USERS.operator, 'danger op 1');
    const forged = t.emulator.blockAction({ user: USERS.operator, actionId: 'approval.breakglass', channel: OPS, messageTs: offered.ts, action: { value: id } });
    await t.emulator.deliver(t.url, forged.body);
    await t.bot.dispatcher.settled();
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toContain('Break glass is not allowed for `typed op` (approvals.verbs."typed op".breakGlass is off): an approver must approve it.');
    expect(t.emulator.calls('views.open')).toHaveLength(modals);
    expect(buttonsOf(t.emulator.message(OPS, ts)!.blocks).map((b) => b.label)).toEqual(['Approve', 'Reject']);
  });

  it('is refused to a requester outside the on-call group, and to anyone but the requester', async () => {
    const modalsBefore = t.emulator.calls('views.open').length;
    const mine = await request(USERS.approver, 'danger op 1');
    expect(mine.labels).toEqual(['Approve', 'Reject', 'Break glass']);
    await t.click(USERS.approver, { channel: OPS, ts: mine.ts }, 'Break glass');
    expect(t.ephemeralTexts(USERS.approver).at(-1)).toMatch(/Only people on call can break glass \(approvals\.breakGlass\.oncall: <!subteam\^S0ONCALL>\)/);
    // The on-call operator cannot break glass on someone else's request.
    await t.click(USERS.operator, { channel: OPS, ts: mine.ts }, 'Break glass');
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/Only <@U0APPROVER1>, who asked, can break glass/);
    expect(t.emulator.calls('views.open').length).toBe(modalsBefore);
    expect(buttonsOf(t.emulator.message(OPS, mine.ts)!.blocks)).toHaveLength(3);
    await t.command(USERS.approver, 'audit 10');
    expect(t.ephemeralTexts(USERS.approver).at(-1)).toMatch(/break-glass danger op/);
  });

  it('runs once with a reason and the target typed, marked BREAK-GLASS, and reminds its review until acknowledged', async () => {
    const { ts, id } = await request(USERS.operator, 'danger op 3');
    const jobsBefore = await testJobs();
    await t.click(USERS.operator, { channel: OPS, ts }, 'Break glass');
    const modal = t.emulator.modalStack(USERS.operator).at(-1)!;
    expect(t.text({ blocks: modal.blocks })).toContain("Type the target's name: target-a");

    const short = await t.emulator.submitView(t.url, { viewId: modal.id, values: { reason: { value: 'now' }, target: { value: 'target-a' } } });
    expect(short.outcome).toBe('errors');
    expect(JSON.stringify(short.errors)).toMatch(/at least 10 characters/);
    const wrong = await t.emulator.submitView(t.url, { viewId: modal.id, values: { reason: { value: 'database down, no approver awake' }, target: { value: 'target-b' } } });
    expect(JSON.stringify(wrong.errors)).toMatch(/Type exactly target-a/);
    expect(await testJobs()).toBe(jobsBefore);

    const ok = await t.emulator.submitView(t.url, { viewId: modal.id, values: { reason: { value: 'database down, no approver awake' }, target: { value: 'target-a' } } });
    expect(ok.outcome).not.toBe('errors');
    await t.bot.dispatcher.settled();
    await t.eventually(async () => (await testJobs()) === jobsBefore + 1, 'the break-glass job');

    const message = t.emulator.message(OPS, ts)!;
    expect(t.text(message)).toMatch(/BREAK-GLASS.*<@U0OPERATOR> ran `danger op` without an approval\. Reason: database down, no approver awake/);
    expect(t.text(message)).toMatch(/BREAK-GLASS: run by the requester alone, review open by <@U0OPERATOR>/);
    expect(buttonsOf(message.blocks)).toHaveLength(0);

    const audited = await t.bot.audit.latest(30);
    const entry = audited.find((e) => e.action === 'break-glass danger op' && e.result.startsWith('BREAK-GLASS'));
    expect(entry?.actor).toBe(USERS.operator);
    expect(entry?.detail).toContain('reason: database down, no approver awake');
    expect(t.messages(INCIDENT).some((m) => m.text.includes('`break-glass danger op` → BREAK-GLASS'))).toBe(true);

    const review = await t.eventually(() => t.messages(OPS).find((m) => t.text(m).includes('BREAK-GLASS review') && t.text(m).includes(id)), 'review message');
    expect(t.text(review)).toContain('<!subteam^S0LEADS>');
    expect(buttonsOf(review.blocks).map((b) => b.label)).toEqual(['Acknowledge review']);

    // Reminders every approvals.breakGlass.remindEvery (default 24h): promoted here instead of waited for.
    const first = (await t.bot.jobs.queue.getJob(`bg-remind-${id}-1`))!;
    expect(first.opts.delay).toBe(24 * 3_600_000);
    await first.promote();
    await t.eventually(() => t.emulator.thread(OPS, review.ts).find((m) => m.text.includes('Reminder 1')), 'first reminder');
    const second = await t.eventually(() => t.bot.jobs.queue.getJob(`bg-remind-${id}-2`), 'second reminder scheduled');
    expect(await second.getState()).toBe('delayed');

    await t.click(USERS.operator, { channel: OPS, ts: review.ts }, 'Acknowledge review');
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/not allowed to run `acknowledge break-glass danger op`: it needs the approver role/);
    await t.click(USERS.approver2, { channel: OPS, ts: review.ts }, 'Acknowledge review');
    const acknowledged = t.emulator.message(OPS, review.ts)!;
    expect(t.text(acknowledged)).toMatch(/Reviewed: acknowledged by <@U0APPROVER2>/);
    expect(buttonsOf(acknowledged.blocks)).toHaveLength(0);

    await second.promote();
    await t.eventually(async () => (await second.getState()) === 'completed', 'second reminder ran');
    expect(t.emulator.thread(OPS, review.ts).filter((m) => m.text.includes('Reminder'))).toHaveLength(1);
    expect(await t.bot.jobs.queue.getJob(`bg-remind-${id}-3`)).toBeUndefined();

    await t.command(USERS.approver, 'audit --break-glass');
    const listed = t.ephemeralTexts(USERS.approver).at(-1)!;
    expect(listed).toMatch(/1 break-glass run, 0 not reviewed/);
    expect(listed).toContain('database down, no approver awake');
    expect(listed).toContain(`acknowledged by ${USERS.approver2}`);
    expect(await testJobs()).toBe(jobsBefore + 1);
  });
});
