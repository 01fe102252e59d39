/**
 * Credential rotation end to end through the real bot: signed slash commands and clicks, the
 * one-time form on the bot's own HTTP server, lead approvals (approved, rejected, expired), the
 * jobs on BullMQ workers against the test control plane and the fake backend, and the reminder with
 * two bot replicas on one Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { QUEUE_NAME } from '../../src/core/jobs.ts';
import { RotationRecords } from '../../commands/rotate/records.ts';
import { fingerprint } from '../../commands/rotate/secret.ts';
import { readFormValues } from '../../commands/rotate/staged.ts';
import { ROTATION_REMINDER_JOB } from '../../commands/rotate/reminder.ts';

const ROTATE_JWT_JOB = 'rotate-jwt';
import { DEFAULT_BACKEND_ENV } from '../harness/fake-backend.ts';
import { INCIDENT, buttonsOf } from '../harness/bot.ts';
import { redisConnection, uniqueName } from '../harness/env.ts';
import { NEW_GITHUB, NEW_GOOGLE, STAGED, fastTiming, platform } from './helpers.ts';
import type { Platform } from './helpers.ts';
import { OPS, USERS, finishedJob, formIdFrom, linkFrom, pendingApproval, startRotationBot, submitForm } from './bot-helpers.ts';
import type { RotationBot } from './bot-helpers.ts';

let p: Platform;
let t: RotationBot;

beforeAll(async () => {
  fastTiming();
  p = await platform();
  t = await startRotationBot(p, { config: { approvals: { ttl: '30m' } } });
});
afterAll(() => t.stop());

describe('GitHub rotation through the one-time form', () => {
  it('link → form → apply request → lead approval → Secret, restart, OAuth check → revoke button → status', async () => {
    await t.command(USERS.viewer, 'rotate github');
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/not allowed to run `rotate github`: it needs the operator role/);

    await t.command(USERS.operator, 'rotate github');
    const link = linkFrom(t, USERS.operator);
    expect(link.startsWith(`${t.publicUrl}/rotate/form/`)).toBe(true);
    // Only the user who asked sees it.
    expect(t.messages(OPS).some((m) => t.text(m).includes('/rotate/form/'))).toBe(false);

    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await page.text();
    expect(html).toContain('type="password"');
    expect(html).toContain(`name="token" value="${link.split('/').at(-1)}"`);

    // A POST from another site is refused and leaves the link usable.
    const forged = await submitForm(link, NEW_GITHUB, { origin: 'https://evil.example' });
    expect(forged.status).toBe(403);
    // Invalid values come back with the problem, the link still usable, the secret never echoed.
    const invalid = await submitForm(link, { id: NEW_GITHUB.id, secret: 'short' });
    expect(invalid.status).toBe(422);
    expect(invalid.html).toContain('The client secret is only 5 characters');
    expect(invalid.html).not.toContain('value="short"');

    const submitted = await submitForm(link, NEW_GITHUB);
    expect(submitted.status).toBe(200);
    expect(submitted.headers.get('cache-control')).toBe('no-store');
    expect(submitted.html).toContain(fingerprint(NEW_GITHUB.secret));
    expect(submitted.html).not.toContain(NEW_GITHUB.secret);
    const formId = formIdFrom(submitted.html);
    expect(submitted.html).toContain('href="https://slack.com/app_redirect?channel=C0OPS"');
    // Privately in Slack, where the request is made: an Apply in Slack button.
    const notice = await t.eventually(() => t.emulator.ephemerals(USERS.operator).find((m) => t.text(m).includes(`rotate github apply --form ${formId}`)), 'the private notice');
    expect(buttonsOf(notice.blocks).map((b) => b.label)).toEqual(['Apply in Slack']);

    // Another operator cannot use these values.
    await t.command(USERS.approver, `rotate github apply --form ${formId}`);
    expect(t.ephemeralTexts(USERS.approver).at(-1)).toMatch(/given to another user: only <@U0OPERATOR>/);

    // The button requests the verb for whoever clicks: a viewer is refused as if typing it.
    await t.click(USERS.viewer, { channel: OPS, ts: notice.ts }, 'Apply in Slack');
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/not allowed to run `rotate github apply`: it needs the operator role/);
    await t.click(USERS.operator, { channel: OPS, ts: notice.ts }, 'Apply in Slack');
    const request = await pendingApproval(t, 'rotate github apply');
    const shown = t.text(request);
    expect(shown).toContain(`client ID ${DEFAULT_BACKEND_ENV.GITHUB_CLIENT_ID} → ${NEW_GITHUB.id}`);
    expect(shown).toContain(`secret ${fingerprint(NEW_GITHUB.secret)}`);
    expect(shown).not.toContain(NEW_GITHUB.secret);
    expect((await p.secretData())!.GITHUB_CLIENT_ID).toBe(DEFAULT_BACKEND_ENV.GITHUB_CLIENT_ID);

    await t.click(USERS.operator, { channel: OPS, ts: request.ts }, 'Approve');
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/needs the approver role/);
    await t.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Approve');
    const job = await finishedJob(t, 'GitHub OAuth credential rotation');
    expect(t.text(job.parent)).toMatch(/Succeeded/);
    expect(job.text).toContain(`✓ client_id ${NEW_GITHUB.id} matches the configured one`);
    expect(job.text).toContain(`✓ redirect_uri ${p.callback('github')} matches`);
    expect((await p.secretData())!).toMatchObject({ GITHUB_CLIENT_ID: NEW_GITHUB.id, GITHUB_CLIENT_SECRET: NEW_GITHUB.secret, PREVIOUS_GITHUB_CLIENT_ID: DEFAULT_BACKEND_ENV.GITHUB_CLIENT_ID });
    expect(await p.liveClientId('github')).toBe(NEW_GITHUB.id);
    expect(await readFormValues(t.bot.deps.clients.redis, t.config.redis.prefix, formId)).toBeUndefined();

    const manual = job.thread.find((m) => buttonsOf(m.blocks).some((b) => b.label === 'Old credentials revoked'))!;
    expect(t.text(manual)).toContain(`revoke the old GitHub credentials (client ID ${DEFAULT_BACKEND_ENV.GITHUB_CLIENT_ID})`);
    await t.click(USERS.operator, { channel: OPS, ts: manual.ts }, 'Old credentials revoked');
    await t.eventually(() => t.messages(OPS).some((m) => t.text(m).includes('<@U0OPERATOR> recorded that the old GitHub credentials')), 'revocation recorded');
    const audit = await t.bot.audit.latest(100);
    expect(audit.some((e) => e.action === 'rotate github revoke' && e.actor === USERS.operator)).toBe(true);
    expect(audit.some((e) => e.action === 'approve rotate github apply' && e.actor === USERS.approver)).toBe(true);

    await t.command(USERS.viewer, 'rotate status');
    const status = t.ephemeralTexts(USERS.viewer).at(-1)!;
    expect(status).toMatch(/GitHub OAuth\*: ok\n\s+last rotated \d{4}-\d\d-\d\d by <@U0OPERATOR> \(by the bot, values from the one-time form\)/);
    expect(status).toMatch(/Google OAuth\*: unknown/);
  });

  it('refuses a reused link', async () => {
    await t.command(USERS.operator, 'rotate github');
    const link = linkFrom(t, USERS.operator);
    expect((await submitForm(link, NEW_GITHUB)).status).toBe(200);
    const again = await submitForm(link, NEW_GITHUB);
    expect(again.status).toBe(410);
    expect(again.html).toContain('This link was already used');
    expect((await fetch(link)).status).toBe(410);
  });
});

describe('Google rotation from the staged Secret: rejected, expired, approved', () => {
  it('a rejected request changes nothing', async () => {
    await p.createSecret(STAGED, { GOOGLE_CLIENT_ID: NEW_GOOGLE.id, GOOGLE_CLIENT_SECRET: NEW_GOOGLE.secret });
    await t.command(USERS.operator, 'rotate google apply --staged');
    const request = await pendingApproval(t, 'rotate google apply');
    expect(t.text(request).replace(/\s+/g, ' ')).toContain(`from Secret ${p.ns}/${STAGED}`);
    await t.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Reject');
    expect(t.text(t.emulator.message(OPS, request.ts)!)).toMatch(/Rejected by <@U0APPROVER1>/);
    await t.bot.dispatcher.settled();
    expect(t.messages(OPS).some((m) => t.text(m).includes('Google OAuth credential rotation'))).toBe(false);
    expect((await p.secretData())!.GOOGLE_CLIENT_ID).toBe(DEFAULT_BACKEND_ENV.GOOGLE_CLIENT_ID);
    expect((await p.secretData(STAGED))?.GOOGLE_CLIENT_ID).toBe(NEW_GOOGLE.id);
  });

  it('an expired request cannot be approved any more', async () => {
    await t.command(USERS.operator, 'rotate google apply --staged');
    const request = await pendingApproval(t, 'rotate google apply');
    t.advance(31 * 60_000);
    try {
      await t.click(USERS.approver2, { channel: OPS, ts: request.ts }, 'Approve');
    } finally {
      t.resetClock();
    }
    expect(t.ephemeralTexts(USERS.approver2).at(-1)).toMatch(/This request expired; ask for it again/);
    expect(t.text(t.emulator.message(OPS, request.ts)!)).toMatch(/Expired/);
    expect((await p.secretData())!.GOOGLE_CLIENT_ID).toBe(DEFAULT_BACKEND_ENV.GOOGLE_CLIENT_ID);
  });

  it('an approved request rotates and empties the staged Secret', async () => {
    await t.command(USERS.operator, 'rotate google apply --staged');
    const request = await pendingApproval(t, 'rotate google apply');
    await t.click(USERS.approver2, { channel: OPS, ts: request.ts }, 'Approve');
    const job = await finishedJob(t, 'Google OAuth credential rotation');
    expect(t.text(job.parent)).toMatch(/Succeeded/);
    expect(await p.liveClientId('google')).toBe(NEW_GOOGLE.id);
    expect((await p.secretData(STAGED))).toEqual({});
    const record = await RotationRecords.of(t.bot.deps.clients.redis, t.config).get('google');
    expect(record).toMatchObject({ by: USERS.operator, method: 'staged-secret' });
  });
});

describe('JWT rotation', () => {
  it('warns that every session ends, notifies the channel first, rotates, and tells it when done', async () => {
    const before = (await p.secretData())!;
    await t.command(USERS.operator, `rotate jwt --notify ${INCIDENT}`);
    const request = await pendingApproval(t, 'rotate jwt');
    expect(t.text(request)).toMatch(/This ends every session: all users are signed out/);
    expect(t.messages(INCIDENT)).toHaveLength(0);
    await t.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Approve');
    const heads = t.messages(INCIDENT)[0];
    expect(heads && t.text(heads)).toMatch(/session secrets will be rotated in a few minutes/);
    const job = await finishedJob(t, 'JWT secret rotation');
    expect(t.text(job.parent)).toMatch(/Succeeded/);
    const after = (await p.secretData())!;
    expect(after.JWT_SECRET).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(after.JWT_SECRET).not.toBe(before.JWT_SECRET);
    expect(after.SECRET_KEY).not.toBe(before.SECRET_KEY);
    expect((await p.backend.currentEnv()).SECRET_KEY).toBe(after.SECRET_KEY);
    await t.eventually(() => t.messages(INCIDENT).some((m) => t.text(m).includes('everyone has been signed out')), 'done notice');
    // The notice came before the rotation's own messages.
    expect(Number(heads!.ts)).toBeLessThan(Number(job.parent.ts));
  });

  it('schedules a rotation at a set time as a delayed job', async () => {
    const at = new Date(Date.now() + 3 * 3_600_000);
    at.setUTCMilliseconds(0);
    const iso = at.toISOString().replace('.000Z', 'Z');
    await t.command(USERS.operator, `rotate jwt --at ${iso}`);
    const request = await pendingApproval(t, 'rotate jwt');
    expect(t.text(request)).toContain(`At ${iso} (UTC): generate new JWT_SECRET and SECRET_KEY`);
    await t.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Approve');
    await t.eventually(() => t.messages(OPS).some((m) => t.text(m).includes(`JWT rotation scheduled for ${iso}`)), 'scheduled');
    const queue = new Queue(QUEUE_NAME, { connection: redisConnection(), prefix: `{${t.config.redis.prefix}}` });
    try {
      const delayed = (await queue.getJobs(['delayed'])).filter((j) => j.name === ROTATE_JWT_JOB);
      expect(delayed).toHaveLength(1);
      const job = delayed[0]!;
      expect(job.timestamp + (job.opts.delay ?? 0)).toBeGreaterThan(at.getTime() - 60_000);
      expect(job.timestamp + (job.opts.delay ?? 0)).toBeLessThan(at.getTime() + 60_000);
      await job.remove();
    } finally {
      await queue.close();
    }
  });
});

describe('reminders with two bot replicas', () => {
  it('posts one reminder per day although both replicas run the job', async () => {
    const prefix = uniqueName('rem');
    const first = await startRotationBot(p, { redisPrefix: prefix });
    const second = await startRotationBot(p, { redisPrefix: prefix, config: {} });
    try {
      await RotationRecords.of(first.bot.deps.clients.redis, first.config).record('jwt', new Date(Date.now() - 200 * 86_400_000), USERS.operator, 'generated');
      // Each replica enqueues the reminder job itself (as a manual run or a schedule on each would).
      await first.bot.jobs.start(ROTATION_REMINDER_JOB, {}, { channel: OPS, requestedBy: 'schedule' });
      await second.bot.jobs.start(ROTATION_REMINDER_JOB, {}, { channel: OPS, requestedBy: 'schedule' });
      const queue = new Queue(QUEUE_NAME, { connection: redisConnection(), prefix: `{${prefix}}` });
      try {
        await first.eventually(async () => (await queue.getJobs(['completed'])).filter((j) => j.name === ROTATION_REMINDER_JOB).length === 2, 'both runs');
      } finally {
        await queue.close();
      }
      // Each replica has its own Slack emulator: count the posts both received.
      const posted = [first, second].flatMap((bot) => bot.emulator.calls('chat.postMessage')).filter((call) => call.ok && call.args.channel === OPS && String(call.args.text).includes('*Credential rotation reminder* (runbook'));
      expect(posted).toHaveLength(1);
      expect(String(posted[0]!.args.text)).toMatch(/JWT secrets: overdue by 20 days/);
    } finally {
      await first.stop();
      await second.stop();
    }
  });
});

describe('rotate status', () => {
  it('offers Start rotation for what is due or overdue, run for whoever clicks with its own role check', async () => {
    const prefix = uniqueName('start');
    const bot = await startRotationBot(p, { redisPrefix: prefix });
    try {
      const records = RotationRecords.of(bot.bot.deps.clients.redis, bot.config);
      await records.record('google', new Date(Date.now() - 100 * 86_400_000), USERS.operator, 'manual');
      await records.record('github', new Date(Date.now() - 10 * 86_400_000), USERS.operator, 'manual');
      await bot.command(USERS.viewer, 'rotate status');
      const status = bot.lastEphemeral(USERS.viewer)!;
      // Google is overdue, JWT has no record (unknown: nothing to start from), GitHub is fine.
      expect(buttonsOf(status.blocks).map((b) => b.label)).toEqual(['Start rotation: Google OAuth']);

      await bot.click(USERS.viewer, { channel: OPS, ts: status.ts }, 'Start rotation: Google OAuth');
      expect(bot.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/not allowed to run `rotate google`: it needs the operator role/);

      await bot.command(USERS.operator, 'rotate status');
      const mine = bot.lastEphemeral(USERS.operator)!;
      await bot.click(USERS.operator, { channel: OPS, ts: mine.ts }, 'Start rotation: Google OAuth');
      expect(linkFrom(bot, USERS.operator)).toMatch(/\/rotate\/form\//);
      expect(bot.ephemeralTexts(USERS.operator).at(-1)).toContain('Rotate the Google OAuth credentials');
    } finally {
      await bot.stop();
    }
  });
});
