/**
 * Approvals that reach people: the approvers are mentioned and DMed, a decision in either place
 * updates both, escalation fires once after its delay, and a request whose target vanished is
 * closed for everyone. Signed requests into the real bot; the Slack emulator; real Redis/BullMQ.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guarded } from './fixtures.ts';
import { OPS, USERS, startTestBot, buttonsOf, type TestBot } from '../harness/bot.ts';
import { redisConnection } from '../harness/env.ts';

const dmOf = (user: string) => `D${user.slice(1)}`;

describe('approvals that reach the approvers', () => {
  let t: TestBot;
  const planKey = `paging-${Date.now()}`;

  beforeAll(async () => {
    t = await startTestBot({
      ...guarded(planKey),
      config: {
        approvals: { ttl: '30m', escalation: { usergroups: ['S0ONCALL'] }, verbs: { 'danger op': { dm: true } } },
      },
    });
  });
  afterAll(() => t.stop());

  async function requestDanger(steps: number): Promise<{ ts: string; id: string }> {
    await t.command(USERS.operator, `danger op ${steps}`);
    const message = await t.eventually(() => t.messages(OPS).filter((m) => t.text(m).includes(`ping ${steps} on`) && buttonsOf(m.blocks).length).at(-1), 'approval message');
    return { ts: message.ts, id: buttonsOf(message.blocks).find((b) => b.label === 'Approve')!.value };
  }

  const dmFor = (user: string, id: string) => t.emulator.channelMessages(dmOf(user)).find((m) => m.blocks && JSON.stringify(m.blocks).includes(id));
  const testJobs = async () => (await t.bot.jobs.queue.getJobs(['active', 'waiting', 'delayed', 'completed', 'failed'])).filter((j) => j?.name === 'test-op').length;

  it('mentions the approver group and users, DMs each approver, and tells the requester who was asked', async () => {
    const { ts, id } = await requestDanger(1);
    const text = t.text(t.emulator.message(OPS, ts)!);
    expect(text).toContain('<!subteam^S0LEADS>');
    expect(text).toContain(`<@${USERS.approver}>`);
    expect(text).toMatch(/by DM: .*<@U0APPROVER/);
    // Approver 1 is listed by ID, approver 2 through the S0LEADS user group: both get a DM with the buttons.
    for (const user of [USERS.approver, USERS.approver2]) {
      const dm = dmFor(user, id);
      expect(dm, `DM to ${user}`).toBeDefined();
      expect(buttonsOf(dm!.blocks).map((b) => b.label)).toEqual(['Approve', 'Reject']);
      expect(t.text(dm!)).toContain(`<#${OPS}>`);
    }
    // The requester is never DMed their own request.
    expect(t.emulator.calls('conversations.open').filter((c) => c.args.users === USERS.operator)).toHaveLength(0);
    const told = t.ephemeralTexts(USERS.operator).at(-1)!;
    expect(told).toMatch(/Approval requested: asked <!subteam\^S0LEADS>, <@U0APPROVER1> in <#C0OPS> and by DM/);
    expect(told).toContain(`<@${USERS.approver2}>`);
    expect(told).toMatch(/<!subteam\^S0ONCALL> is mentioned in its thread/);
  });

  it('a DM approval runs the job once and updates the channel message and every DM', async () => {
    const { ts, id } = await requestDanger(2);
    const before = await testJobs();
    const dm = dmFor(USERS.approver2, id)!;
    await t.click(USERS.approver2, { channel: dmOf(USERS.approver2), ts: dm.ts }, 'Approve');
    const channelMessage = t.emulator.message(OPS, ts)!;
    expect(t.text(channelMessage)).toMatch(new RegExp(`Approved by <@${USERS.approver2}>`));
    expect(buttonsOf(channelMessage.blocks)).toHaveLength(0);
    for (const user of [USERS.approver, USERS.approver2]) {
      const updated = dmFor(user, id)!;
      expect(t.text(updated)).toMatch(/Approved by/);
      expect(buttonsOf(updated.blocks)).toHaveLength(0);
    }
    expect(await testJobs()).toBe(before + 1);
    expect(await testJobs()).toBe(before + 1);
  });

  it('a rejection in the channel removes the buttons from the DMs', async () => {
    const { ts, id } = await requestDanger(3);
    await t.click(USERS.approver, { channel: OPS, ts }, 'Reject');
    const dm = dmFor(USERS.approver2, id)!;
    expect(t.text(dm)).toMatch(new RegExp(`Rejected by <@${USERS.approver}>`));
    expect(buttonsOf(dm.blocks)).toHaveLength(0);
  });

  it('escalates once, in the thread, when nobody decides within escalateAfter; the message says so', async () => {
    const { ts, id } = await requestDanger(4);
    const job = (await t.bot.jobs.queue.getJob(`escalate-${id}`))!;
    expect(job).toBeDefined();
    // approvals.escalateAfter (default 5m) is the job's delay; promoting it stands in for the 5 minutes.
    expect(job.opts.delay).toBe(5 * 60_000);
    expect(await job.getState()).toBe('delayed');
    expect(t.emulator.thread(OPS, ts).filter((m) => m.text.includes('S0ONCALL'))).toHaveLength(0);
    await job.promote();
    const escalation = await t.eventually(() => t.emulator.thread(OPS, ts).find((m) => m.text.includes('<!subteam^S0ONCALL>')), 'escalation in the thread');
    expect(escalation.text).toMatch(/Nobody has decided on `danger op` requested by <@U0OPERATOR> \d+ min ago \(asked: <!subteam\^S0LEADS>, <@U0APPROVER1>\)/);
    await t.eventually(() => t.text(t.emulator.message(OPS, ts)!).includes('escalated at'), 'message shows the escalation');
    expect(buttonsOf(t.emulator.message(OPS, ts)!.blocks).map((b) => b.label)).toEqual(['Approve', 'Reject']);
    // A second firing (a retried or duplicated job) does not mention anyone again.
    await t.bot.dispatcher.escalate(id);
    expect(t.emulator.thread(OPS, ts).filter((m) => m.text.includes('S0ONCALL'))).toHaveLength(1);
    await t.command(USERS.approver, 'audit 20');
    expect(t.ephemeralTexts(USERS.approver).at(-1)).toContain('approval escalated');
  });

  it('does not escalate a request that was decided', async () => {
    const { ts, id } = await requestDanger(5);
    await t.click(USERS.approver, { channel: OPS, ts }, 'Approve');
    const job = (await t.bot.jobs.queue.getJob(`escalate-${id}`))!;
    await job.promote();
    await t.eventually(async () => (await job.getState()) === 'completed', 'the escalation job ran');
    expect(t.emulator.thread(OPS, ts).filter((m) => m.text.includes('S0ONCALL'))).toHaveLength(0);
    expect(t.text(t.emulator.message(OPS, ts)!)).not.toContain('escalated at');
  });

  it('closes a request whose target vanished, for everyone, and tells the requester in the thread', async () => {
    const redis = redisConnection();
    await redis.set(planKey, 'target-a');
    const { ts, id } = await requestDanger(1);
    const before = await testJobs();
    await redis.set(planKey, 'gone');
    await t.click(USERS.approver2, { channel: dmOf(USERS.approver2), ts: dmFor(USERS.approver2, id)!.ts }, 'Approve');
    const closed = t.emulator.message(OPS, ts)!;
    expect(t.text(closed)).toMatch(/Closed: it can no longer run \(The target is gone/);
    expect(t.text(closed)).toMatch(new RegExp(`found when <@${USERS.approver2}> clicked`));
    expect(buttonsOf(closed.blocks)).toHaveLength(0);
    expect(buttonsOf(dmFor(USERS.approver, id)!.blocks)).toHaveLength(0);
    const notice = t.emulator.thread(OPS, ts).find((m) => m.text.includes('can no longer run'));
    expect(notice?.text).toContain(`<@${USERS.operator}>`);
    expect(t.ephemeralTexts(USERS.approver2).at(-1)).toMatch(/Closed `danger op`: The target is gone/);
    expect(await testJobs()).toBe(before);
    expect(await redis.hget(`${t.config.redis.prefix}:pending:${id}`, 'status')).toBe('closed');
    await redis.del(planKey);
  });

  it('a request asked again because its plan changed says AutoStack asked, not the approver', async () => {
    const redis = redisConnection();
    await redis.set(planKey, 'target-a');
    const { ts } = await requestDanger(2);
    await redis.set(planKey, 'target-b');
    await t.click(USERS.approver, { channel: OPS, ts }, 'Approve');
    expect(t.text(t.emulator.message(OPS, ts)!)).toMatch(/Superseded: the plan changed, so AutoStack asked again/);
    const again = await t.eventually(() => t.messages(OPS).find((m) => t.text(m).includes('ping 2 on target-b') && buttonsOf(m.blocks).length), 'asked again');
    expect(t.text(again)).toMatch(/AutoStack asked again on behalf of <@U0OPERATOR>: what `danger op` would do changed since it was requested \(noticed when <@U0APPROVER1> clicked\)/);
    expect(t.text(again)).not.toContain(`<@${USERS.approver}> asks`);
    await redis.del(planKey);
  });
});
