/**
 * The IAM commands end to end: signed Slack requests into the real bot (Bolt HTTP receiver,
 * dispatcher, approvals, BullMQ workers), the Slack emulator as Slack and moto as AWS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iamModule } from '../../commands/iam/index.ts';
import { OPS, USERS, buttonsOf, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';
import { awsClients, uniqueName } from '../harness/env.ts';
import { ACCOUNT, createRole, roleExists } from './helpers.ts';

const aws = awsClients();
const base = `AutoStack${uniqueName('e')}`;

describe('IAM commands through Slack', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot({ modules: [iamModule], config: { iam: { roleName: base } } });
  });
  afterAll(() => t.stop());

  const threadOf = (parentTs: string) => t.emulator.thread(OPS, parentTs).map((m) => ({ message: m, text: t.text(m) }));

  it('iam setup: form, approval, job; the thread ends with the role ARN', async () => {
    await t.command(USERS.operator, 'iam setup');
    const view = await t.eventually(() => t.emulator.views(USERS.operator).at(-1), 'the setup form');
    const values = (principals: string) => ({
      'role-name': { value: base },
      principals: { value: principals },
      'policy-name': { value: 'AutoStackMinimalPolicy' },
      'policy-file': { value: 'policies/minimal-policy.json' },
    });
    const bad = await t.emulator.submitView(t.url, { viewId: view.id, values: values('not-an-arn') });
    expect(bad.outcome).toBe('errors');
    expect((bad.errors as Record<string, string>).principals).toContain('is not a principal ARN');

    const good = await t.emulator.submitView(t.url, { viewId: view.id, values: values(`arn:aws:iam::${ACCOUNT}:root`) });
    expect(good.outcome).toBe('closed');
    const request = await t.eventually(() => t.messages(OPS).find((m) => t.text(m).includes('asks to run `iam setup`') && buttonsOf(m.blocks).length), 'approval request');
    expect(t.text(request)).toContain(`aws iam create-role --role-name ${base}`);
    expect(await roleExists(aws.iam, base)).toBe(false);

    await t.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Approve');
    const parent = await t.eventually(() => t.messages(OPS).find((m) => t.text(m).includes(`IAM setup: role ${base}`) && t.text(m).includes('Succeeded')), 'setup job finished', 30_000);
    const thread = threadOf(parent.ts);
    expect(thread.map((m) => m.text).join('\n')).toContain(`Created role ${base}`);
    expect(thread.at(-1)!.text).toContain(`arn:aws:iam::${ACCOUNT}:role/${base}`);
    expect(await roleExists(aws.iam, base)).toBe(true);
  });

  it('iam check: a viewer sees the table of runbook steps and the proposal', async () => {
    await t.command(USERS.viewer, `iam check ${base}`);
    const text = t.ephemeralTexts(USERS.viewer).at(-1)!;
    expect(text).toContain(`iam check: ${base}`);
    expect(text).toMatch(/Terraform State Locked 1: aws dynamodb scan +MISSING\n +Missing actions: dynamodb:Scan/);
    expect(text).toContain('RunbookGapsS3AutostackTfstate');
  });

  it('rotate aws-role: approval, V2 created, "Terraform plan verified" deletes the old role, each step in the thread', async () => {
    const role = `AutoStack${uniqueName('rr')}`;
    await createRole(aws.iam, role);

    await t.command(USERS.operator, `rotate aws-role ${role}`);
    const request = await t.eventually(() => t.messages(OPS).find((m) => t.text(m).includes('asks to run `rotate aws-role`') && t.text(m).includes(role) && buttonsOf(m.blocks).length), 'approval request');
    expect(t.text(request)).toContain(`aws iam delete-role --role-name ${role}`);
    await t.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Approve');

    const parent = await t.eventually(() => t.messages(OPS).find((m) => t.text(m).includes(`Rotate AWS role ${role}: create the next role`)), 'rotation parent');
    const ask = await t.eventually(() => threadOf(parent.ts).find((m) => buttonsOf(m.message.blocks).some((b) => b.label === 'Terraform plan verified')), 'the verification button', 30_000);
    expect(ask.text).toContain(`+      role_arn = "arn:aws:iam::${ACCOUNT}:role/${role}V2"`);
    expect(await roleExists(aws.iam, `${role}V2`)).toBe(true);
    expect(await roleExists(aws.iam, role)).toBe(true);

    // A viewer may not press it; the requester may.
    await t.click(USERS.viewer, { channel: OPS, ts: ask.message.ts }, 'Terraform plan verified');
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/needs the operator role/);
    await t.click(USERS.operator, { channel: OPS, ts: ask.message.ts }, 'Terraform plan verified');
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toContain(`deleting ${role} now`);

    await t.eventually(async () => !(await roleExists(aws.iam, role)), 'old role deleted', 30_000);
    const done = await t.eventually(() => threadOf(parent.ts).find((m) => m.text.includes('Rotation done')), 'rotation done', 30_000);
    expect(done.text).toContain(`arn:aws:iam::${ACCOUNT}:role/${role}V2`);
    const lines = threadOf(parent.ts).map((m) => m.text).join('\n');
    expect(lines).toContain('Deleted inline policy AutoStackMinimalPolicy');
    expect(lines).toContain(`Deleted role ${role}`);
    expect(await roleExists(aws.iam, `${role}V2`)).toBe(true);
    // The parent message follows the rotation to its end.
    await t.eventually(() => {
      const text = t.text(t.emulator.message(OPS, parent.ts)!);
      return text.includes(`Rotate AWS role ${role} → ${role}V2: delete ${role}`) && text.includes('Succeeded');
    }, 'parent updated with the deletion outcome');
  });
});
