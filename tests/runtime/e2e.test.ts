/**
 * The runtime end to end: signed requests into Bolt's real HTTP receiver, the Slack emulator as
 * Slack, real Redis and BullMQ workers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { guarded } from './fixtures.ts';
import { QUEUE_NAME } from '../../src/core/jobs.ts';
import { OPS, USERS, startTestBot, buttonsOf, type TestBot } from '../harness/bot.ts';
import { redisConnection } from '../harness/env.ts';

async function jobCount(t: TestBot): Promise<number> {
  const queue = new Queue(QUEUE_NAME, { connection: redisConnection(), prefix: `{${t.config.redis.prefix}}` });
  const counts = await queue.getJobCounts('active', 'waiting', 'delayed', 'completed', 'failed', 'prioritized');
  await queue.close();
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

async function pingJobs(t: TestBot): Promise<number> {
  const queue = new Queue(QUEUE_NAME, { connection: redisConnection(), prefix: `{${t.config.redis.prefix}}` });
  const jobs = await queue.getJobs(['active', 'waiting', 'delayed', 'completed', 'failed']);
  await queue.close();
  return jobs.filter((j) => j?.name === 'ping' || j?.name === 'test-op').length;
}

describe('runtime end to end', () => {
  let t: TestBot;
  const planKey = `plan-${Date.now()}`;

  beforeAll(async () => {
    t = await startTestBot({ ...guarded(planKey), config: { approvals: { ttl: '30m' } } });
  });
  afterAll(() => t.stop());

  it('answers help with the commands the asking user may run, grouped by runbook section', async () => {
    const response = await t.command(USERS.viewer, 'help');
    expect(response.status).toBe(200);
    const help = t.ephemeralTexts(USERS.viewer).at(-1)!;
    expect(help).toContain('/autostack ping');
    expect(help).toContain('/autostack jobs');
    expect(help).toContain('runbook:');
    expect(help).not.toContain('/autostack audit');
    expect(help).not.toContain('/autostack danger op');
    await t.command(USERS.approver, '');
    const full = t.ephemeralTexts(USERS.approver).at(-1)!;
    expect(full).toContain('/autostack audit');
    expect(full).toContain('/autostack danger op');
  });

  it('answers an unknown subcommand with the closest match, ephemerally', async () => {
    await t.command(USERS.viewer, 'pnig');
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/Unknown command `pnig`.*Did you mean `\/autostack ping`/s);
    expect(t.messages(OPS).some((m) => t.text(m).includes('pnig'))).toBe(false);
  });

  it('denies by default and audits the denial', async () => {
    await t.command(USERS.stranger, 'ping');
    expect(t.ephemeralTexts(USERS.stranger).at(-1)).toMatch(/not allowed to run `ping`.*no AutoStack role/);
    await t.command(USERS.viewer, 'audit');
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/not allowed to run `audit`: it needs the approver role and you are viewer/);
    const entries = await t.bot.audit.latest(20);
    expect(entries.some((e) => e.actor === USERS.stranger && e.action === 'ping' && e.result === 'denied')).toBe(true);
    expect(entries.some((e) => e.actor === USERS.viewer && e.action === 'audit' && e.result === 'denied')).toBe(true);
  });

  it('gives clear errors for bad input and enqueues nothing', async () => {
    const before = await jobCount(t);
    const cases: Array<[string, RegExp]> = [
      ['ping --slow 5 ' + 'x'.repeat(4001), /limit is 4000/],
      ['ping --slow \u0007 5', /control characters/],
      ['ping --slow "5', /unclosed " quote/],
      ['ping --fast 5', /unknown option --fast \(options: --slow\)/],
      ['ping --slow', /--slow needs a value/],
      ['ping extra', /expected 0 arguments, got 1/],
      ['ping --slow "5; rm -rf /"', /--slow must be a whole number, got "5; rm -rf \/"/],
      ['ping --slow $(reboot)', /--slow must be a whole number/],
      ['danger op', /expected 1 argument, got 0.*Usage: `\/autostack danger op <steps>`/s],
    ];
    for (const [text, expected] of cases) {
      const user = text.startsWith('danger') ? USERS.operator : USERS.viewer;
      await t.command(user, text);
      expect(t.ephemeralTexts(user).at(-1), text).toMatch(expected);
    }
    expect(await jobCount(t)).toBe(before);
  });

  it('runs the demo job in a thread: parent, five threaded steps, final status', async () => {
    await t.command(USERS.viewer, 'ping --slow 5');
    const parent = await t.eventually(() => t.messages(OPS).find((m) => t.text(m).includes('Ping with 5 steps')), 'parent message');
    const done = await t.eventually(() => {
      const current = t.emulator.message(OPS, parent.ts)!;
      return t.text(current).includes('Succeeded') && current;
    }, 'final status', 30_000);
    const thread = t.emulator.thread(OPS, parent.ts).map((m) => t.text(m));
    const steps = thread.flatMap((text) => text.split('\n')).filter((line) => /^Step \d\/5 done$/.test(line));
    expect(steps).toEqual(['Step 1/5 done', 'Step 2/5 done', 'Step 3/5 done', 'Step 4/5 done', 'Step 5/5 done']);
    expect(thread.at(-1)).toContain('pong after 5 steps');
    expect(t.text(done)).toMatch(/Succeeded in \d+(\.\d)?s/);
    expect(t.text(done)).toContain(`<@${USERS.viewer}>`);
    // No message was edited more than once a second on average (coalesced writes).
    const updates = t.emulator.calls('chat.update').filter((c) => c.args.ts === parent.ts);
    expect(updates.length).toBeLessThanOrEqual(3);
  });

  it('runs an approval: self-approval refused, an approver approves, the job runs once', async () => {
    await t.command(USERS.approver, 'danger op 2');
    const request = await t.eventually(() => t.messages(OPS).find((m) => t.text(m).includes('asks to run `danger op`') && buttonsOf(m.blocks).length), 'approval message');
    expect(t.text(request)).toContain('ping 2 on target-a');
    expect(t.ephemeralTexts(USERS.approver).at(-1)).toMatch(/Approval requested/);

    await t.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Approve');
    expect(t.ephemeralTexts(USERS.approver).at(-1)).toMatch(/cannot approve your own request/);
    await t.click(USERS.operator, { channel: OPS, ts: request.ts }, 'Approve');
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/needs the approver role/);
    const before = await pingJobs(t);

    // Approver 2 is an approver through the S0LEADS user group.
    await t.click(USERS.approver2, { channel: OPS, ts: request.ts }, 'Approve');
    const decided = t.emulator.message(OPS, request.ts)!;
    expect(t.text(decided)).toMatch(new RegExp(`Approved by <@${USERS.approver2}> at \\d\\d:\\d\\d UTC`));
    expect(buttonsOf(decided.blocks)).toHaveLength(0);
    expect(await pingJobs(t)).toBe(before + 1);
    await t.eventually(() => t.messages(OPS).find((m) => t.text(m).includes('Ping with 2 steps')), 'job parent');
  });

  it('enqueues exactly one job when two approvers click at the same moment, or one clicks twice', async () => {
    await t.command(USERS.operator, 'danger op 1');
    const request = await t.eventually(() => t.messages(OPS).filter((m) => t.text(m).includes(`<@${USERS.operator}> asks to run`) && buttonsOf(m.blocks).length).at(-1), 'approval message');
    const before = await pingJobs(t);
    const button = buttonsOf(request.blocks).find((b) => b.label === 'Approve')!;
    const click = (user: string) => {
      const req = t.emulator.blockAction({ user, actionId: button.actionId, channel: OPS, messageTs: request.ts, action: { value: button.value } });
      return t.emulator.deliver(t.url, req.body);
    };
    await Promise.all([click(USERS.approver), click(USERS.approver2), click(USERS.approver)]);
    await t.bot.dispatcher.settled();
    await t.eventually(async () => (await pingJobs(t)) > before, 'the job');
    expect(await pingJobs(t)).toBe(before + 1);
    const already = [...t.ephemeralTexts(USERS.approver), ...t.ephemeralTexts(USERS.approver2)].filter((text) => /already approved/.test(text));
    expect(already.length).toBeGreaterThanOrEqual(2);
  });

  it('asks again instead of running when the plan changed after the request', async () => {
    const redis = redisConnection();
    await redis.set(planKey, 'target-a');
    await t.command(USERS.operator, 'danger op 3');
    const request = await t.eventually(() => t.messages(OPS).filter((m) => t.text(m).includes('ping 3 on target-a') && buttonsOf(m.blocks).length).at(-1), 'approval');
    await redis.set(planKey, 'target-b');
    const before = await pingJobs(t);
    await t.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Approve');
    expect(t.text(t.emulator.message(OPS, request.ts)!)).toMatch(/Superseded: the plan changed/);
    const again = await t.eventually(() => t.messages(OPS).find((m) => t.text(m).includes('ping 3 on target-b') && buttonsOf(m.blocks).length), 'new request');
    expect(t.text(again)).toMatch(/changed since it was requested/);
    expect(await pingJobs(t)).toBe(before);
    await redis.del(planKey);
  });

  it('confirms a confirm-guarded command only for the requester', async () => {
    await t.command(USERS.operator, 'careful op 1');
    const confirm = t.lastEphemeral(USERS.operator)!;
    expect(t.text(confirm)).toContain('ping 1 on target-a');
    const before = await pingJobs(t);
    await t.click(USERS.operator, { channel: OPS, ts: confirm.ts }, 'Confirm');
    await t.eventually(async () => (await pingJobs(t)) === before + 1, 'confirmed job');
    await t.click(USERS.operator, { channel: OPS, ts: confirm.ts }, 'Confirm');
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/already approved/);
    expect(await pingJobs(t)).toBe(before + 1);
  });

  it('lets a button request a guarded verb for the person who clicks, under their role', async () => {
    await t.command(USERS.viewer, 'offer op');
    const offer = await t.eventually(() => t.messages(OPS).filter((m) => t.text(m).includes('Request danger op')).at(-1), 'offer');
    await t.click(USERS.viewer, { channel: OPS, ts: offer.ts }, 'Request danger op');
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/not allowed to run `danger op`: it needs the operator role/);
    await t.click(USERS.operator, { channel: OPS, ts: offer.ts }, 'Request danger op');
    const request = await t.eventually(() => t.messages(OPS).filter((m) => t.text(m).includes(`<@${USERS.operator}> asks to run \`danger op\``) && t.text(m).includes('ping 2 on')).at(-1), 'approval request');
    expect(buttonsOf(request.blocks).map((b) => b.label)).toEqual(['Approve', 'Reject']);
  });

  it('rejects requests with a bad signature (401) or a stale timestamp', async () => {
    const answered = () => t.emulator.calls('response_url').length;
    const before = answered();
    const request = t.emulator.slashCommand({ user: USERS.viewer, channel: OPS, text: 'ping' });
    const bad = await t.emulator.deliver(t.url, request.body, { badSignature: true });
    expect(bad.status).toBe(401);
    const stale = await t.emulator.deliver(t.url, t.emulator.slashCommand({ user: USERS.viewer, channel: OPS, text: 'ping' }).body, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect(stale.status).toBe(401);
    await t.bot.dispatcher.settled();
    expect(answered()).toBe(before);
  });

  it('lists jobs with links to their threads and shows the audit trail to approvers', async () => {
    await t.command(USERS.viewer, 'jobs');
    const jobs = t.ephemeralTexts(USERS.viewer).at(-1)!;
    expect(jobs).toMatch(/Ping with 5 steps/);
    expect(jobs).toMatch(/archives\/C0OPS\/p\d+/);
    await t.command(USERS.approver, 'audit 50');
    const audit = t.ephemeralTexts(USERS.approver).at(-1)!;
    expect(audit).toContain('approve danger op');
    expect(audit).toContain('job ping');
  });
});

describe('approval expiry', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot({ ...guarded(`expiry-${Date.now()}`), config: { approvals: { ttl: '1s' } } });
  });
  afterAll(() => t.stop());

  it('marks the request expired when nobody decides, and refuses a late approval', async () => {
    await t.command(USERS.operator, 'danger op 1');
    const request = await t.eventually(() => t.messages(OPS).find((m) => t.text(m).includes('asks to run')), 'approval');
    expect(t.text(request)).toMatch(/expires at \d\d:\d\d UTC/);
    await t.eventually(() => t.text(t.emulator.message(OPS, request.ts)!).includes('Expired'), 'expired message', 20_000);
    expect(buttonsOf(t.emulator.message(OPS, request.ts)!.blocks)).toHaveLength(0);
    const before = await pingJobs(t);
    const decided = t.emulator.message(OPS, request.ts)!;
    expect(decided.history.length).toBeGreaterThan(0);
    // A click on the original message (as a client that has not refreshed) is refused.
    const approve = buttonsOf(decided.history[0]!.blocks).find((b) => b.label === 'Approve')!;
    const redis = redisConnection();
    expect(await redis.hget(`${t.config.redis.prefix}:pending:${approve.value}`, 'status')).toBe('expired');
    expect(await pingJobs(t)).toBe(before);
  });
});

describe('App Home', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot();
  });
  afterAll(() => t.stop());

  it('shows running jobs and the commands this user may run', async () => {
    await t.command(USERS.viewer, 'ping --slow 3');
    const home = await t.openHome(USERS.viewer);
    expect(home).toMatch(/Running jobs[\s\S]*Ping with 3 steps/);
    expect(home).toContain('/autostack ping [--slow N]');
    expect(home).not.toContain('/autostack audit');
    const approverHome = await t.openHome(USERS.approver);
    expect(approverHome).toContain('/autostack audit [n]');
  });

  it('tells someone without a role how roles are granted', async () => {
    expect(await t.openHome(USERS.stranger)).toMatch(/no AutoStack role/);
  });
});

describe('channel limits and cancellation', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot({ config: { access: { channels: { audit: ['C0INCIDENT'] } } } });
  });
  afterAll(() => t.stop());

  it('refuses a command outside its configured channels', async () => {
    await t.command(USERS.approver, 'audit', OPS);
    expect(t.ephemeralTexts(USERS.approver).at(-1)).toMatch(/`audit` can only be run in <#C0INCIDENT>/);
    await t.command(USERS.approver, 'audit', 'C0INCIDENT');
    expect(t.ephemeralTexts(USERS.approver).at(-1)).toMatch(/\d+ audit entries|when \(UTC\)/);
  });

  it('cancels a running job from its Cancel button', async () => {
    await t.command(USERS.viewer, 'ping --slow 20');
    const parent = await t.eventually(() => {
      const message = t.messages(OPS).find((m) => t.text(m).includes('Ping with 20 steps'));
      return message && buttonsOf(t.emulator.message(OPS, message.ts)!.blocks).some((b) => b.label === 'Cancel') && message;
    }, 'running job with a Cancel button');
    await t.click(USERS.stranger, { channel: OPS, ts: parent.ts }, 'Cancel');
    expect(t.ephemeralTexts(USERS.stranger).at(-1)).toMatch(/not allowed/);
    await t.click(USERS.viewer, { channel: OPS, ts: parent.ts }, 'Cancel');
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/Cancelling/);
    await t.eventually(() => t.text(t.emulator.message(OPS, parent.ts)!).includes('Cancelled'), 'cancelled parent', 20_000);
    const steps = t.emulator.thread(OPS, parent.ts).flatMap((m) => t.text(m).split('\n')).filter((l) => /^Step \d+\/20 done$/.test(l));
    expect(steps.length).toBeLessThan(20);
    const entries = await t.bot.audit.latest(20);
    expect(entries.some((e) => e.action === 'job ping' && e.result === 'cancelled')).toBe(true);
  });
});

describe('audit channel', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot({ config: { channels: { audit: 'C0INCIDENT' } } });
  });
  afterAll(() => t.stop());

  it('mirrors every audit entry to the audit channel, secrets redacted', async () => {
    await t.command(USERS.stranger, 'audit');
    await t.command(USERS.viewer, 'ping');
    const mirrored = t.messages('C0INCIDENT').map((m) => t.text(m));
    expect(mirrored).toEqual(expect.arrayContaining([`<@${USERS.stranger}> \`audit\` → denied (needs approver, has no role)`, `<@${USERS.viewer}> \`ping\` → ok`]));
  });
});

describe('buttons under the channel limits of the verb they stand for', () => {
  let t: TestBot;
  const planKey = `plan-limits-${Date.now()}`;
  beforeAll(async () => {
    t = await startTestBot({ ...guarded(planKey), config: { access: { channels: { 'danger op': ['C0INCIDENT'] } } } });
  });
  afterAll(() => t.stop());

  it('refuses a button that requests the verb, or is a step of it, outside its channels: nothing asked, nothing done', async () => {
    await t.command(USERS.viewer, 'offer op', OPS);
    const offer = await t.eventually(() => t.messages(OPS).filter((m) => t.text(m).includes('Request danger op')).at(-1), 'offer');
    await t.click(USERS.operator, { channel: OPS, ts: offer.ts }, 'Request danger op');
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/`danger op` can only be run in <#C0INCIDENT>/);
    await t.click(USERS.operator, { channel: OPS, ts: offer.ts }, 'Step of danger op');
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/`danger op` can only be run in <#C0INCIDENT>/);
    expect(await t.bot.deps.clients.redis.get(`${planKey}:step`)).toBeNull();
    expect(t.messages(OPS).filter((m) => t.text(m).includes('asks to run'))).toEqual([]);
    expect(await jobCount(t)).toBe(0);
  });
});
