/**
 * The rotation verbs and the reminder, directly with real contexts: status states from the records,
 * rotate mark, input errors, the one-time link, the reminder (due, overdue, once per day), the
 * schedule, the App Home section and the "revoked" button.
 */
import { createHash } from 'node:crypto';
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import type { Clock, Verb } from '../../src/core/types.ts';
import { rotateModule, rotationReminderSchedule } from '../../commands/rotate/index.ts';
import { DAY_MS, RotationRecords, rotationKey } from '../../commands/rotate/records.ts';
import { remindedKey } from '../../commands/rotate/reminder.ts';
import { REVOKED_ACTION, revokedValue } from '../../commands/rotate/operations.ts';
import { rotationReminderJob } from '../../jobs/rotation-reminder.ts';
import { ROTATION_REMINDER_JOB } from '../../commands/rotate/reminder.ts';
import { SlackEmulator } from '../../dev/slack-emulator/index.ts';
import { runJob, testContext } from '../harness/context.ts';
import { checkAt, jwtPlan } from '../../commands/rotate/jwt.ts';
import type { TestContext } from '../harness/context.ts';
import { uniqueName } from '../harness/env.ts';
import { toMrkdwn } from '../../src/core/text.ts';

const OPS = 'C0OPS';
let slack: SlackEmulator;
beforeAll(async () => {
  slack = new SlackEmulator({ users: [{ id: 'U0OPERATOR', name: 'operator' }], channels: [{ id: OPS, name: 'ops' }] });
  await slack.start();
});
afterAll(() => slack.close());

function clockAt(iso: string): Clock & { set(iso: string): void; advance(ms: number): void } {
  let now = new Date(iso).getTime();
  return { now: () => new Date(now), set: (t) => void (now = new Date(t).getTime()), advance: (ms) => void (now += ms) };
}

function ctxWith(options: { clock?: Clock; config?: Record<string, unknown>; userId?: string; role?: 'viewer' | 'operator' | 'approver' } = {}): TestContext {
  return testContext({
    clock: options.clock,
    role: options.role ?? 'approver',
    userId: options.userId ?? 'U0APPROVER',
    slack: new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl }),
    config: { redis: { prefix: uniqueName('rot') }, channels: { ops: OPS }, ...options.config },
  });
}

const verb = (path: string) => rotateModule.verbs.find((v) => v.path.join(' ') === path)! as Verb<unknown>;
const args = (positional: string[], flags: Record<string, string | true> = {}) => ({ positional, flags });

async function run(path: string, ctx: TestContext, positional: string[] = [], flags: Record<string, string | true> = {}) {
  const v = verb(path);
  return v.execute!(v.parse(args(positional, flags), ctx), ctx);
}

function parseError(path: string, ctx: TestContext, positional: string[], flags: Record<string, string | true> = {}): string {
  try {
    verb(path).parse(args(positional, flags), ctx);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`${path} accepted ${positional.join(' ')}`);
}

const reminderPosts = (channel = OPS) => slack.channelMessages(channel).filter((m) => m.text.includes('Credential rotation reminder'));

describe('rotate status and rotate mark', () => {
  it('shows every credential as unknown until recorded, then ok, due soon and overdue from the dates', async () => {
    const clock = clockAt('2025-06-15T12:00:00Z');
    const ctx = ctxWith({ clock });
    const first = await run('rotate status', ctx);
    const text = JSON.stringify(first.parts);
    for (const c of ['github', 'google', 'jwt']) expect(text).toContain(`unknown — record it with \`/autostack rotate mark ${c} &lt;date&gt;\``);
    expect(first.summary).toMatch(/GitHub OAuth: unknown/);

    const mark = await run('rotate mark', ctx, ['github', '2025-06-01']);
    expect(mark.summary).toBe('GitHub OAuth recorded as rotated on 2025-06-01; next due 2025-08-30.');
    await run('rotate mark', ctx, ['google', '2025-03-20']); // due 2025-06-18: in 3 days
    await run('rotate mark', ctx, ['JWT', '2024-12-01']); // due 2025-05-30: overdue by 16 days
    const status = await run('rotate status', ctx);
    const lines = status.parts.flatMap((p) => (p.kind === 'text' ? toMrkdwn(p.text).split('\n') : []));
    expect(lines.slice(0, 6)).toEqual([
      ':white_check_mark: *GitHub OAuth*: ok',
      '      last rotated 2025-06-01 by <@U0APPROVER> (outside the bot, recorded with rotate mark); next due 2025-08-30 (every 90 days)',
      ':hourglass_flowing_sand: *Google OAuth*: due in 3 days',
      '      last rotated 2025-03-20 by <@U0APPROVER> (outside the bot, recorded with rotate mark); next due 2025-06-18 (every 90 days)',
      ':rotating_light: *JWT secrets*: overdue by 16 days',
      '      last rotated 2024-12-01 by <@U0APPROVER> (outside the bot, recorded with rotate mark); next due 2025-05-30 (every 180 days)',
    ]);
    expect(status.summary).toBe('Google OAuth: due in 3 days; JWT secrets: overdue by 16 days');
    // The record in Redis: ISO date, by, method.
    expect(await ctx.clients.redis.hgetall(rotationKey(ctx.config.redis.prefix, 'github'))).toEqual({ lastRotated: '2025-06-01T00:00:00.000Z', by: 'U0APPROVER', method: 'manual' });
    expect(ctx.audited.some((e) => e.action === 'rotate mark github' && e.detail === 'rotated on 2025-06-01')).toBe(true);
  });

  it('refuses unknown credentials, impossible and future dates', async () => {
    const ctx = ctxWith({ clock: clockAt('2025-06-15T12:00:00Z') });
    expect(parseError('rotate mark', ctx, ['slack', '2025-06-01'])).toBe('unknown credential "slack": one of github, google, jwt');
    expect(parseError('rotate mark', ctx, ['aws-role', '2025-06-01'])).toMatch(/IAM area/);
    expect(parseError('rotate mark', ctx, ['github', '2025-02-30'])).toBe('2025-02-30 is not a calendar date');
    expect(parseError('rotate mark', ctx, ['github', 'yesterday'])).toMatch(/must be YYYY-MM-DD/);
    await expect(run('rotate mark', ctx, ['github', '2025-07-01'])).rejects.toThrow(UserFacingError);
    expect(await RotationRecords.of(ctx.clients.redis, ctx.config).get('github')).toBeUndefined();
    expect(verb('rotate mark').minRole).toBe('approver');
    expect(verb('rotate status').minRole).toBe('viewer');
  });
});

describe('rotate github (the one-time link)', () => {
  it('answers privately with a link whose token is stored only as a hash, bound to the user, for 10 minutes', async () => {
    const ctx = ctxWith({ config: { http: { publicUrl: 'https://chatops.example.com/' } }, userId: 'U0OPERATOR', role: 'operator' });
    const answer = await run('rotate github', ctx);
    expect(answer.visibility).toBe('ephemeral');
    const text = JSON.stringify(answer.parts);
    const token = /https:\/\/chatops\.example\.com\/rotate\/form\/([A-Za-z0-9_-]{43})/.exec(text)?.[1];
    expect(token).toBeDefined();
    expect(text).toContain('rotate github apply --staged');
    const keys = await ctx.clients.redis.keys(`${ctx.config.redis.prefix}:rotation:link:*`);
    expect(keys).toEqual([`${ctx.config.redis.prefix}:rotation:link:${createHash('sha256').update(token!).digest('hex')}`]);
    const stored = JSON.parse((await ctx.clients.redis.get(keys[0]!))!) as Record<string, unknown>;
    expect(stored).toMatchObject({ user: 'U0OPERATOR', provider: 'github', channel: ctx.channel });
    const ttl = await ctx.clients.redis.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(9 * 60_000);
    expect(ttl).toBeLessThanOrEqual(10 * 60_000);
    expect(JSON.stringify(await ctx.clients.redis.keys(`${ctx.config.redis.prefix}:*`))).not.toContain(token);
  });

  it('without a public URL, points to the staged Secret instead; flags belong to apply', async () => {
    const ctx = ctxWith({ role: 'operator' });
    await expect(run('rotate google', ctx)).rejects.toThrow(/http\.publicUrl is not configured.*GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET.*rotate google apply --staged/);
    expect(parseError('rotate github', ctx, [], { staged: true })).toBe('to request the rotation, use `/autostack rotate github apply --staged` (an approver must approve it)');
    expect(parseError('rotate github apply', ctx, [])).toMatch(/--form <id>.*or --staged \(Secret autostack\/backend-env-next\)/);
    expect(parseError('rotate github apply', ctx, [], { staged: true, form: 'abcdefabcdef' })).toBe('give either --form <id> or --staged, not both');
    expect(parseError('rotate github apply', ctx, [], { form: '../../etc' })).toMatch(/12-character id/);
    expect(verb('rotate github apply').guard).toBe('approval');
    expect(verb('rotate google apply').guard).toBe('approval');
    expect(verb('rotate github').guard).toBe('none');
  });
});

describe('rotate jwt input', () => {
  it('needs a zoned ISO time and a channel ID, and refuses a time that has passed', async () => {
    const clock = clockAt('2025-06-15T12:00:00Z');
    const ctx = ctxWith({ clock, role: 'operator' });
    expect(parseError('rotate jwt', ctx, [], { at: '2025-06-15 22:00' })).toMatch(/ISO time with its zone/);
    expect(parseError('rotate jwt', ctx, [], { at: '2025-06-15T22:00' })).toMatch(/ISO time with its zone/);
    expect(parseError('rotate jwt', ctx, [], { notify: '#general' })).toMatch(/channel's ID/);
    const jwt = verb('rotate jwt');
    expect(jwt.parse(args([], { at: '2025-06-16T00:00+02:00', notify: '<#C0ANNOUNCE|announce>' }), ctx)).toEqual({ at: '2025-06-15T22:00:00.000Z', notify: 'C0ANNOUNCE' });
    const plan = jwtPlan(ctx.config, { at: '2025-06-15T22:00:00.000Z', notify: 'C0ANNOUNCE' }, 'JWT_SECRET (none), SECRET_KEY (none)');
    expect(plan.steps[0]).toBe('On approval: post a notice in <#C0ANNOUNCE> that every session ends at 2025-06-15T22:00:00Z (UTC)');
    expect(plan.steps[1]).toMatch(/^At 2025-06-15T22:00:00Z \(UTC\): generate new JWT_SECRET and SECRET_KEY \(32 random bytes each/);
    expect(() => checkAt({ at: '2025-06-15T11:00:00.000Z' }, clock.now())).toThrow(/has passed; nothing was scheduled/);
  });
});

describe('rotation reminder', () => {
  it('posts once per day when something is due soon or overdue, even when it runs twice; again the next day', async () => {
    const clock = clockAt('2025-06-15T09:00:00Z');
    const ctx = ctxWith({ clock });
    const records = RotationRecords.of(ctx.clients.redis, ctx.config);
    const before = reminderPosts().length;
    // Nothing recorded: nothing due, nothing posted.
    const idle = await runJob(rotationReminderJob, {}, ctx);
    expect(idle.reply.summary).toMatch(/^Nothing due within 14 days \(never recorded: GitHub OAuth, Google OAuth, JWT secrets\)/);
    await records.record('github', new Date('2025-03-10T00:00:00Z'), 'U0OPERATOR', 'form'); // due 06-08: overdue by 7 days
    await records.record('google', new Date('2025-03-25T00:00:00Z'), 'U0OPERATOR', 'form'); // due 06-23: due in 8 days
    await records.record('jwt', new Date('2025-05-01T00:00:00Z'), 'U0OPERATOR', 'generated'); // due 10-28: ok

    const first = await runJob(rotationReminderJob, {}, ctx);
    const second = await runJob(rotationReminderJob, {}, ctx);
    expect(first.reply.summary).toBe(`Reminder posted to #${OPS}: GitHub OAuth, Google OAuth.`);
    expect(second.reply.summary).toBe('The reminder for 2025-06-15 was already posted; not posted again.');
    const posts = reminderPosts();
    expect(posts.length).toBe(before + 1);
    const text = posts.at(-1)!.text;
    expect(text).toContain('GitHub OAuth: overdue by 7 days (due 2025-06-08, last rotated 2025-03-10 by <@U0OPERATOR>; every 90 days) → `/autostack rotate github`');
    expect(text).toContain('Google OAuth: due in 8 days (due 2025-06-23');
    expect(text).not.toContain('JWT');
    expect(await ctx.clients.redis.exists(remindedKey(ctx.config.redis.prefix, '2025-06-15'))).toBe(1);

    clock.advance(DAY_MS);
    const nextDay = await runJob(rotationReminderJob, {}, ctx);
    expect(nextDay.reply.summary).toMatch(/^Reminder posted/);
    expect(reminderPosts().length).toBe(before + 2);
    expect(reminderPosts().at(-1)!.text).toContain('GitHub OAuth: overdue by 8 days');
  });

  it('counts the day in the configured time zone, and gives the day back when posting fails', async () => {
    const clock = clockAt('2025-06-15T23:30:00Z');
    const ctx = ctxWith({ clock, config: { rotation: { timezone: 'Europe/Berlin' } } });
    await RotationRecords.of(ctx.clients.redis, ctx.config).record('jwt', new Date('2024-11-01T00:00:00Z'), 'U0OPERATOR', 'generated');
    slack.failNext('chat.postMessage', { error: 'fatal_error' });
    await expect(runJob(rotationReminderJob, {}, ctx)).rejects.toThrow(/Posting the rotation reminder to #C0OPS failed/);
    // 23:30 UTC is already the 16th in Berlin; the failed post did not use the day up.
    expect(await ctx.clients.redis.exists(remindedKey(ctx.config.redis.prefix, '2025-06-16'))).toBe(0);
    const retry = await runJob(rotationReminderJob, {}, ctx);
    expect(retry.reply.summary).toMatch(/^Reminder posted/);
    expect(await ctx.clients.redis.exists(remindedKey(ctx.config.redis.prefix, '2025-06-16'))).toBe(1);
  });

  it('is scheduled from rotation.reminderCron in rotation.timezone, only with an ops channel', () => {
    const ctx = ctxWith({ config: { rotation: { reminderCron: '30 8 * * 1-5', timezone: 'Europe/Berlin' } } });
    expect(rotationReminderSchedule.job).toBe(ROTATION_REMINDER_JOB);
    expect(rotationReminderSchedule.cron(ctx.config)).toEqual({ pattern: '30 8 * * 1-5', tz: 'Europe/Berlin' });
    expect(rotationReminderSchedule.cron({ ...ctx.config, channels: {} })).toBeUndefined();
    expect(rotateModule.schedules).toContain(rotationReminderSchedule);
  });
});

describe('App Home and the revoked button', () => {
  it('lists the credentials that need attention in the Home section', async () => {
    const clock = clockAt('2025-06-15T09:00:00Z');
    const ctx = ctxWith({ clock });
    await RotationRecords.of(ctx.clients.redis, ctx.config).record('github', new Date('2025-03-01T00:00:00Z'), 'U0OPERATOR', 'form');
    const parts = await rotateModule.home!(ctx);
    const text = JSON.stringify(parts);
    expect(text).toContain('*GitHub OAuth*: overdue by 16 days (due 2025-05-30) → `/autostack rotate github`');
    expect(text).toContain('*JWT secrets*: unknown');
    for (const c of ['github', 'google', 'jwt'] as const) await RotationRecords.of(ctx.clients.redis, ctx.config).record(c, new Date('2025-06-01T00:00:00Z'), 'U0OPERATOR', 'manual');
    expect(JSON.stringify(await rotateModule.home!(ctx))).toContain('Nothing due within 14 days. Next: GitHub OAuth on 2025-08-30.');
  });

  it('records "old credentials revoked" once per rotation, with an audit entry', async () => {
    const clock = clockAt('2025-06-15T09:00:00Z');
    const ctx = ctxWith({ clock, userId: 'U0OPERATOR', role: 'operator' });
    const rotatedAt = new Date('2025-06-15T08:00:00Z');
    const records = RotationRecords.of(ctx.clients.redis, ctx.config);
    await records.record('github', rotatedAt, 'U0OPERATOR', 'form', 'gh-old-client');
    const handler = rotateModule.actions!.find((a) => a.action === REVOKED_ACTION)!;
    expect(handler.minRole).toBe('operator');
    const first = await handler.handle(revokedValue('github', rotatedAt), ctx);
    expect(first?.summary).toBe('@U0OPERATOR recorded that the old GitHub credentials (client ID gh-old-client) were revoked at the provider. The rotation is complete.');
    expect((await records.get('github'))?.revokedBy).toBe('U0OPERATOR');
    const again = await handler.handle(revokedValue('github', rotatedAt), ctx);
    expect(again?.summary).toBe('Already recorded: @U0OPERATOR marked the old GitHub credentials as revoked at 2025-06-15 09:00 UTC.');
    expect(ctx.audited.filter((e) => e.action === 'rotate github revoke')).toHaveLength(1);
    expect((await handler.handle('github:../../x', ctx))?.error).toBe(true);
  });
});
