/**
 * The IAM verbs, button handlers and jobs with real CommandContexts and JobRuns (tests/harness/context.ts)
 * on moto and the test Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebClient } from '@slack/web-api';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import { replyToText } from '../../src/render/text.ts';
import { SlackEmulator } from '../../dev/slack-emulator/index.ts';
import { iamCheckVerb, iamModule, iamSetupVerb, rotateAwsRoleVerb } from '../../commands/iam/index.ts';
import { verifiedHandler, VERIFIED_ACTION, REMINDER_DELAY_MS } from '../../commands/iam/rotation-flow.ts';
import type { IamRotationData } from '../../commands/iam/rotation-flow.ts';
import { reviewCron } from '../../commands/iam/review.ts';
import { iamState } from '../../commands/iam/state.ts';
import { iamSetupJob } from '../../jobs/iam-setup.ts';
import { iamRotateJob } from '../../jobs/iam-rotate.ts';
import { iamRotationJob } from '../../jobs/iam-rotation.ts';
import { iamReviewJob } from '../../jobs/iam-review.ts';
import { planOf, runJob, testConfig, testContext } from '../harness/context.ts';
import type { TestContext } from '../harness/context.ts';
import { awsClients, uniqueName } from '../harness/env.ts';
import { ACCOUNT, createRole, iamDenying, roleExists } from './helpers.ts';

const aws = awsClients();
const OPERATOR = 'U0OPERATOR';
const APPROVER = 'U0APPROVER';
const CHANNEL = 'C0IAMOPS';

let slack: SlackEmulator;
beforeAll(async () => {
  slack = await new SlackEmulator({ autoCreateChannels: true }).start();
  slack.addChannel(CHANNEL, 'iam-ops');
});
afterAll(() => slack.close());

function ctxFor(role: string, user: string, userRole: 'viewer' | 'operator' | 'approver', extra: Record<string, unknown> = {}): TestContext {
  return testContext({
    config: { iam: { roleName: role }, redis: { prefix: uniqueName('iamt') }, ...extra },
    role: userRole,
    userId: user,
    channel: CHANNEL,
    slack: new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } }),
  });
}

/** Two contexts sharing one Redis prefix: the requester's and another person's. */
function pair(role: string, extra: Record<string, unknown> = {}) {
  const prefix = uniqueName('iamt');
  const make = (user: string, userRole: 'viewer' | 'operator' | 'approver') => {
    const ctx = ctxFor(role, user, userRole, { ...extra, redis: { prefix } });
    return ctx;
  };
  return { operator: make(OPERATOR, 'operator'), approver: make(APPROVER, 'approver'), other: make('U0OTHEROP', 'operator') };
}

async function minimalRole(): Promise<string> {
  const role = `AutoStack${uniqueName('j')}`;
  await createRole(aws.iam, role);
  return role;
}

describe('iamModule', () => {
  it('declares its verbs, buttons, jobs and the review schedule', () => {
    expect(iamModule.verbs.map((v) => v.path.join(' '))).toEqual(['iam setup', 'iam check', 'rotate aws-role']);
    expect(iamModule.verbs.map((v) => [v.minRole, v.guard])).toEqual([
      ['operator', 'approval'],
      ['viewer', 'none'],
      ['operator', 'approval'],
    ]);
    expect(iamModule.actions!.map((a) => a.action)).toEqual([VERIFIED_ACTION, 'iam.review.check', 'iam.review.rotate']);
    const schedule = iamModule.schedules![0]!;
    expect(schedule.cron(testConfig({ channels: { ops: 'C0OPS' } }))).toEqual({ pattern: '0 9 1 */3 *', tz: 'UTC' });
    expect(schedule.cron(testConfig())).toBeUndefined();
  });

  it('turns iam.reviewEvery into a cron pattern (or takes iam.reviewCron)', () => {
    expect(reviewCron(testConfig())).toBe('0 9 1 */3 *');
    expect(reviewCron(testConfig({ iam: { reviewEvery: '30d' } }))).toBe('0 9 1 * *');
    expect(reviewCron(testConfig({ iam: { reviewEvery: '180d' } }))).toBe('0 9 1 */6 *');
    expect(reviewCron(testConfig({ iam: { reviewEvery: '365d' } }))).toBe('0 9 1 1 *');
    expect(reviewCron(testConfig({ iam: { reviewEvery: '7d' } }))).toBe('0 9 * * 1');
    expect(reviewCron(testConfig({ iam: { reviewCron: '30 8 15 */3 *' } }))).toBe('30 8 15 */3 *');
  });
});

describe('iam setup verb and job', () => {
  const parse = (flags: Record<string, string | true>) => iamSetupVerb.parse({ positional: [], flags }, { config: testConfig(), actor: { id: OPERATOR, role: 'operator' } });

  it('parses the form fields with the runbook defaults; bad input names the field', () => {
    expect(parse({ principals: `arn:aws:iam::${ACCOUNT}:root` })).toEqual({
      role: 'AutoStackTerraformRole',
      principals: [`arn:aws:iam::${ACCOUNT}:root`],
      policyName: 'AutoStackMinimalPolicy',
      policyFile: 'policies/minimal-policy.json',
      replaceTrust: false,
      addMissing: false,
    });
    expect(parse({ 'policy-file': 'minimal-policy.json' }).policyFile).toBe('policies/minimal-policy.json');
    expect(() => parse({ 'role-name': 'no spaces allowed' })).toThrow(UsageError);
    expect(() => parse({ 'role-name': 'no spaces allowed' })).toThrow(/^role-name: /);
    expect(() => parse({ principals: 'arn:aws:iam::1:root' })).toThrow(/^principals: /);
    expect(() => parse({ 'policy-name': 'a/b' })).toThrow(/^policy-name: /);
    expect(() => parse({ 'policy-file': 'nope.json' })).toThrow(/^policy-file: policies\/nope.json does not exist/);
    expect(() => parse({ 'policy-file': 'trust-policy.example.json' })).toThrow(/^policy-file: .*must not have "Principal"/);
    expect(() => parse({ 'replace-trust': true })).toThrow(/--replace-trust needs --principals/);
  });

  it('plans, then the approved job (which inspects and plans again) creates the role and ends with its ARN', async () => {
    const role = `AutoStack${uniqueName('s')}`;
    const ctx = ctxFor(role, OPERATOR, 'operator');
    const params = iamSetupVerb.parse({ positional: [], flags: { 'role-name': role, principals: `arn:aws:iam::${ACCOUNT}:root` } }, { config: ctx.config, actor: ctx.actor });
    const plan = await planOf(iamSetupVerb, params, ctx);
    expect(plan.steps).toHaveLength(3);
    expect(await planOf(iamSetupVerb, params, ctx, 'start')).toEqual(plan);

    const result = await runJob(iamSetupJob, params, ctx);
    const arn = `arn:aws:iam::${ACCOUNT}:role/${role}`;
    expect(result.reply.parts.at(-1)).toEqual({ kind: 'code', text: arn });
    expect(result.steps).toContain(`:white_check_mark: Created role ${role} (trust: arn:aws:iam::${ACCOUNT}:root)`);
    expect(ctx.audited.at(-1)).toMatchObject({ actor: OPERATOR, action: 'iam setup', result: 'changed' });

    // Idempotent: the second run reuses everything and says so.
    const again = await runJob(iamSetupJob, params, ctx);
    expect(again.reply.summary).toContain(`reused ${role}, inline policy AutoStackMinimalPolicy unchanged`);
    expect(again.reply.parts.at(-1)).toEqual({ kind: 'code', text: arn });
    expect(ctx.audited.at(-1)).toMatchObject({ result: 'unchanged' });
  });

  it('a different trust policy stops at the plan with the diff and the flag to add', async () => {
    const role = await minimalRole();
    const ctx = ctxFor(role, OPERATOR, 'operator');
    const params = iamSetupVerb.parse({ positional: [], flags: { 'role-name': role, principals: `arn:aws:iam::${ACCOUNT}:user/someone-else` } }, { config: ctx.config, actor: ctx.actor });
    const failure = planOf(iamSetupVerb, params, ctx);
    await expect(failure).rejects.toBeInstanceOf(UserFacingError);
    await expect(failure).rejects.toThrow(/different trust policy; nothing was changed[\s\S]*\+ .*user\/someone-else[\s\S]*--replace-trust/);
  });
});

describe('iam check verb', () => {
  it('shows the table and the proposal for the configured role', async () => {
    const role = await minimalRole();
    const ctx = ctxFor(role, 'U0VIEWER', 'viewer');
    const reply = await iamCheckVerb.execute!(iamCheckVerb.parse({ positional: [], flags: {} }, { config: ctx.config, actor: ctx.actor }), ctx);
    const text = replyToText(reply);
    expect(reply.visibility).toBe('ephemeral');
    expect(text).toContain(`iam check: ${role}`);
    expect(text).toMatch(/Terraform State Locked 1: aws dynamodb scan +MISSING +dynamodb:Scan/);
    expect(reply.parts.find((p) => p.kind === 'code')).toBeDefined();
    expect(text).toContain(`/autostack iam setup --role-name ${role} --policy-name AutoStackMinimalPolicy --policy-file policies/minimal-policy.json --add-missing`);
  });

  it('checks a policy file, and refuses a bad role name before calling AWS', async () => {
    const ctx = ctxFor('AutoStackTerraformRole', 'U0VIEWER', 'viewer');
    const params = iamCheckVerb.parse({ positional: [], flags: { 'policy-file': 'minimal-policy.json' } }, { config: ctx.config, actor: ctx.actor });
    const text = replyToText(await iamCheckVerb.execute!(params, ctx));
    expect(text).toContain('iam check: policies/minimal-policy.json');
    expect(text).toMatch(/Restore Previous State 2: aws s3api get-object --version-id +MISSING +s3:GetObjectVersion/);
    expect(() => iamCheckVerb.parse({ positional: ['bad role'], flags: {} }, { config: ctx.config, actor: ctx.actor })).toThrow(/not a valid IAM role name/);
  });

  it('names the missing IAM action when the bot may not read the role', async () => {
    const role = await minimalRole();
    const ctx = ctxFor(role, 'U0VIEWER', 'viewer');
    const denied = iamDenying((action) => action === 'ListRolePolicies');
    const real = ctx.clients.aws;
    ctx.clients = { ...ctx.clients, aws: (who) => ({ ...real(who), iam: denied.iam }) };
    await expect(iamCheckVerb.execute!({ role }, ctx)).rejects.toThrow(`Access denied: the bot's AWS identity is not allowed iam:ListRolePolicies on arn:aws:iam::${ACCOUNT}:role/${role}.`);
  });
});

describe('rotate aws-role: jobs and the "Terraform plan verified" button', () => {
  async function created(role: string, extra: Record<string, unknown> = {}) {
    const ctxs = pair(role, extra);
    const params = rotateAwsRoleVerb.parse({ positional: [], flags: {} }, { config: ctxs.operator.config, actor: ctxs.operator.actor });
    const plan = await planOf(rotateAwsRoleVerb, params, ctxs.operator);
    const result = await runJob(iamRotateJob, params, ctxs.operator);
    const button = result.asked[0]!.buttons[0]!;
    return { ctxs, result, button, plan };
  }

  it('creates V2, asks for verification with the backend change, then the requester deletes the old role', async () => {
    const role = await minimalRole();
    const { ctxs, result, button, plan } = await created(role);
    expect(plan.title).toBe(`Rotate AWS role ${role} → ${role}V2`);
    expect(result.reply.parts.find((p) => p.kind === 'code')).toEqual({ kind: 'code', text: `arn:aws:iam::${ACCOUNT}:role/${role}V2` });
    expect(result.asked[0]!.text).toContain(`-      role_arn = "arn:aws:iam::${ACCOUNT}:role/${role}"`);
    expect(result.asked[0]!.text).toContain(`+      role_arn = "arn:aws:iam::${ACCOUNT}:role/${role}V2"`);
    expect(button).toMatchObject({ label: 'Terraform plan verified', action: VERIFIED_ACTION });
    // A reminder in 24 hours.
    const reminder = ctxs.operator.started.find((s) => (s.data as IamRotationData).phase === 'remind')!;
    expect(reminder.options).toMatchObject({ delayMs: REMINDER_DELAY_MS, jobId: `iam-rotate-remind-${button.value}` });
    const state = iamState(ctxs.operator.clients.redis, ctxs.operator.config);
    expect((await state.loadRotation(button.value))!.status).toBe('awaiting-verification');
    // A second rotation of the same role is refused while this one waits.
    await expect(planOf(rotateAwsRoleVerb, {}, ctxs.operator)).rejects.toThrow(`A rotation of ${role} is already in progress (${role}V2 created, awaiting-verification)`);

    // Another operator may not press it; the requester may.
    const denied = await verifiedHandler.handle(button.value, ctxs.other);
    expect(denied?.error).toBe(true);
    expect(JSON.stringify(denied?.parts)).toContain(`Only <@${OPERATOR}>, who asked for this rotation, or an approver can confirm`);
    const ok = await verifiedHandler.handle(button.value, ctxs.operator);
    expect(ok?.summary).toContain(`deleting ${role} now`);
    const deletion = ctxs.operator.started.at(-1)!;
    expect(deletion).toMatchObject({ name: 'iam-rotation', data: { phase: 'delete', rotationId: button.value, oldRole: role, newRole: `${role}V2` }, options: { channel: CHANNEL, jobId: `iam-rotate-delete-${button.value}-1` } });
    // A second click does nothing.
    const twice = await verifiedHandler.handle(button.value, ctxs.approver);
    expect(twice?.summary).toContain(`Nothing to do: ${role} is being deleted already`);

    const done = await runJob(iamRotationJob, deletion.data as IamRotationData, ctxs.operator);
    expect(done.steps).toEqual([
      `Checking that ${role}V2 still has every policy of ${role}…`,
      `:white_check_mark: ${role}V2 has the same policies; deleting ${role}`,
      ':white_check_mark: Deleted inline policy AutoStackMinimalPolicy',
      `:white_check_mark: Deleted role ${role}`,
    ]);
    expect(done.reply.summary).toBe(`Rotation done: ${role} deleted, ${role}V2 is the Terraform role`);
    expect(await roleExists(aws.iam, role)).toBe(false);
    expect(await roleExists(aws.iam, `${role}V2`)).toBe(true);
    expect((await state.loadRotation(button.value))!.status).toBe('done');
    // Commands without a role now act on V2; a new rotation would create V3.
    expect(await state.currentRoleName(ctxs.operator.config)).toBe(`${role}V2`);
    expect((await planOf(rotateAwsRoleVerb, {}, ctxs.operator)).title).toBe(`Rotate AWS role ${role}V2 → ${role}V3`);
    expect(ctxs.operator.audited.map((a) => a.result)).toEqual(['new role created', 'terraform plan verified', 'old role deleted']);
  });

  it('a failed deletion leaves the old role intact; pressing the button again retries', async () => {
    const role = await minimalRole();
    const { ctxs, button } = await created(role);
    await verifiedHandler.handle(button.value, ctxs.approver);
    const deletion = ctxs.approver.started.at(-1)!;
    const denied = iamDenying((action) => action === 'DeleteRole');
    const real = ctxs.approver.clients.aws;
    const failing = { ...ctxs.approver, clients: { ...ctxs.approver.clients, aws: (who?: string) => ({ ...real(who), iam: denied.iam }) } };
    const failure = runJob(iamRotationJob, deletion.data as IamRotationData, failing);
    await expect(failure).rejects.toThrow(`Deleting ${role} failed to delete role ${role}`);
    await expect(failure).rejects.toThrow(`All of it was put back: ${role} is intact.`);
    expect(await roleExists(aws.iam, role)).toBe(true);
    const state = iamState(ctxs.approver.clients.redis, ctxs.approver.config);
    expect((await state.loadRotation(button.value))!.status).toBe('delete-failed');

    await verifiedHandler.handle(button.value, ctxs.approver);
    const retry = ctxs.approver.started.at(-1)!;
    expect(retry.options.jobId).toBe(`iam-rotate-delete-${button.value}-2`);
    await runJob(iamRotationJob, retry.data as IamRotationData, ctxs.approver);
    expect(await roleExists(aws.iam, role)).toBe(false);
  });

  it('refuses to delete the role the bot itself assumes', async () => {
    const role = await minimalRole();
    const { ctxs, button } = await created(role, { aws: { assumeRoleArn: `arn:aws:iam::${ACCOUNT}:role/${role}` } });
    const answer = await verifiedHandler.handle(button.value, ctxs.operator);
    expect(answer?.error).toBe(true);
    expect(answer?.summary).toContain(`The bot itself still assumes ${role} (aws.assumeRoleArn)`);
    expect(await roleExists(aws.iam, role)).toBe(true);
  });

  it('the reminder nudges in Slack only while nobody has verified', async () => {
    const role = await minimalRole();
    const { ctxs, button } = await created(role);
    const remind: IamRotationData = { phase: 'remind', rotationId: button.value };
    const before = slack.channelMessages(CHANNEL).length;
    await runJob(iamRotationJob, remind, ctxs.operator);
    const posted = slack.channelMessages(CHANNEL).slice(before);
    expect(posted).toHaveLength(1);
    expect(posted[0]!.text).toContain(`Reminder: ${role}V2 was created 24 hours ago and ${role} still exists. <@${OPERATOR}>`);
    await verifiedHandler.handle(button.value, ctxs.operator);
    const quiet = await runJob(iamRotationJob, remind, ctxs.operator);
    expect(quiet.reply.summary).toContain('No reminder needed');
    expect(slack.channelMessages(CHANNEL).length).toBe(before + 1);
  });

  it('a failed creation releases the role for the next attempt', async () => {
    const role = await minimalRole();
    const ctxs = pair(role);
    const denied = iamDenying((action) => action === 'PutRolePolicy');
    const real = ctxs.operator.clients.aws;
    const failing = { ...ctxs.operator, clients: { ...ctxs.operator.clients, aws: (who?: string) => ({ ...real(who), iam: denied.iam }) } };
    await expect(runJob(iamRotateJob, {}, failing)).rejects.toThrow(`${role} was not touched. The partly created ${role}V2 was removed again.`);
    expect(await roleExists(aws.iam, `${role}V2`)).toBe(false);
    await expect(planOf(rotateAwsRoleVerb, {}, ctxs.operator)).resolves.toMatchObject({ title: `Rotate AWS role ${role} → ${role}V2` });
  });
});

describe('quarterly review job', () => {
  it('posts the policy summary, the check verdict, last use and the buttons; remembers when', async () => {
    const role = await minimalRole();
    const ctx = ctxFor(role, 'schedule', 'viewer');
    const result = await runJob(iamReviewJob, {}, ctx);
    const text = replyToText(result.reply);
    expect(text).toContain(`IAM role review: ${role}`);
    expect(text).toContain('inline AutoStackMinimalPolicy: 11 statements');
    expect(text).toMatch(/iam check: \d+ of \d+ runbook steps or bot commands not fully allowed/);
    expect(text).toContain('Last used: not used in the tracking period');
    const buttons = result.reply.parts.find((p) => p.kind === 'buttons');
    expect(buttons).toEqual({
      kind: 'buttons',
      buttons: [
        { label: 'Check', action: 'iam.review.check', value: role },
        { label: 'Start rotation', action: 'iam.review.rotate', value: role, style: 'danger' },
      ],
    });
    const state = iamState(ctx.clients.redis, ctx.config);
    expect(await ctx.clients.redis.get(state.reviewKey(role))).toMatch(/^\d{4}-\d\d-\d\dT/);
    const rotate = iamModule.actions!.find((a) => a.action === 'iam.review.rotate')!;
    // Start rotation requests the rotation as the clicking person, through its approval.
    expect(await rotate.handle(role, ctx)).toBeUndefined();
    expect(ctx.requested).toEqual([{ path: ['rotate', 'aws-role'], args: { positional: [role], flags: {} } }]);
    // Check requests `iam check <role>` the same way (its role and channel limits apply).
    const check = iamModule.actions!.find((a) => a.action === 'iam.review.check')!;
    expect(await check.handle(role, ctx)).toBeUndefined();
    expect(ctx.requested.at(-1)).toEqual({ path: ['iam', 'check'], args: { positional: [role], flags: {} } });
  });
});
