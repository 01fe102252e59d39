import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreatePolicyCommand,
} from '@aws-sdk/client-iam';
import { UserFacingError } from '../../src/core/types.ts';
import { replyToText } from '../../src/render/text.ts';
import { roleCheckReply, runDocumentCheck, runRoleCheck } from '../../commands/iam/inspect.ts';
import type { RoleCheck } from '../../commands/iam/inspect.ts';
import { buildRequirements, nextRoleName, baseRoleName } from '../../commands/iam/requirements.ts';
import { parsePolicyText } from '../../commands/iam/policy.ts';
import { testConfig } from '../harness/context.ts';
import { awsClients, uniqueName } from '../harness/env.ts';
import { ACCOUNT, createRole } from './helpers.ts';

const aws = awsClients();
const rows = (check: RoleCheck) => Object.fromEntries(check.result.rows.map((r) => [r.requirement.id, { verdict: r.verdict, missing: [...new Set(r.failing.map((f) => f.need.action))] }]));

describe('requirements table', () => {
  it('names every runbook step that calls AWS and every bot command, with the configured names', () => {
    const table = buildRequirements({ config: testConfig(), account: ACCOUNT, partition: 'aws', region: 'us-east-1', roleName: 'AutoStackTerraformRole' });
    expect(table.filter((r) => r.source === 'runbook').map((r) => r.step)).toEqual([
      'IAM Setup 1: aws iam create-role',
      'IAM Setup 2: aws iam put-role-policy',
      'IAM Setup 3: aws iam get-role',
      'Rotate AWS IAM Role 1: aws iam create-role (AutoStackTerraformRoleV2)',
      'Rotate AWS IAM Role 2: aws iam put-role-policy',
      'Rotate AWS IAM Role 4: terraform plan (state backend)',
      'Rotate AWS IAM Role 5: aws iam delete-role',
      'Terraform State Locked 1: aws dynamodb scan',
      'Terraform State Locked 3: terraform force-unlock',
      'Terraform State Locked 4: aws dynamodb delete-item',
      'Restore Previous State 1: aws s3api list-object-versions',
      'Restore Previous State 2: aws s3api get-object --version-id',
    ]);
    const byId = Object.fromEntries(table.map((r) => [r.id, r]));
    expect(byId['runbook.tf-locked.1']!.needs).toEqual([{ action: 'dynamodb:Scan', resource: `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/autostack-tf-locks` }]);
    expect(byId['runbook.tf-restore.1']!.needs[0]).toMatchObject({ action: 's3:ListBucketVersions', resource: 'arn:aws:s3:::autostack-tfstate', context: { 's3:prefix': 'autostack/terraform.tfstate' } });
    expect(byId['runbook.tf-restore.2']!.needs).toEqual([{ action: 's3:GetObjectVersion', resource: 'arn:aws:s3:::autostack-tfstate/autostack/terraform.tfstate' }]);
    expect(byId['runbook.rotate-role.5']!.needs.map((n) => n.action)).toEqual(['iam:DeleteRolePolicy', 'iam:DeleteRole']);
    expect(byId['bot.backup']!.needs.map((n) => n.action)).toEqual(expect.arrayContaining(['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListBucket', 's3:GetObject', 's3:DeleteObject']));
    expect(byId['bot.tf.versions']!.needs.map((n) => n.action)).toEqual(['s3:GetBucketVersioning', 's3:ListBucketVersions', 's3:GetObjectVersion']);
    expect(byId['bot.ratelimit.block']).toBeUndefined();
  });

  it('follows the configuration: several states, S3 lock files, another backup bucket, a WAF IP set', () => {
    const table = buildRequirements({
      config: testConfig({
        terraform: { lockTable: 'locks', states: [{ name: 'prod', bucket: 'tf-prod', key: 'prod.tfstate', s3Lock: true }, { name: 'dev', bucket: 'tf-dev', key: 'dev.tfstate', lockTable: 'dev-locks' }] },
        backup: { bucket: 'my-backups', prefix: 'pg/' },
        rateLimit: { block: { backend: 'waf', waf: { name: 'blocked', id: 'abc-123' } } },
      }),
      account: ACCOUNT,
      partition: 'aws',
      region: 'eu-west-1',
      roleName: 'AutoStackTerraformRoleV2',
      instanceProfiles: [`arn:aws:iam::${ACCOUNT}:instance-profile/ci`],
    });
    const byId = Object.fromEntries(table.map((r) => [r.id, r]));
    const plan = byId['runbook.rotate-role.4']!.needs.map((n) => `${n.action} ${n.resource}`);
    expect(plan).toContain('s3:PutObject arn:aws:s3:::tf-prod/prod.tfstate.tflock');
    expect(plan).toContain('s3:DeleteObject arn:aws:s3:::tf-prod/prod.tfstate.tflock');
    expect(plan).toContain(`dynamodb:PutItem arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/locks`);
    expect(plan).toContain(`dynamodb:PutItem arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/dev-locks`);
    expect(plan.some((n) => n.includes('tf-dev/dev.tfstate.tflock'))).toBe(false);
    expect(byId['bot.backup']!.needs[0]).toMatchObject({ resource: 'arn:aws:s3:::my-backups/pg/autostack-backup.dump', scope: ['arn:aws:s3:::my-backups/pg/*'] });
    expect(byId['bot.ratelimit.block']!.needs).toEqual([
      { action: 'wafv2:GetIPSet', resource: `arn:aws:wafv2:eu-west-1:${ACCOUNT}:regional/ipset/blocked/abc-123` },
      { action: 'wafv2:UpdateIPSet', resource: `arn:aws:wafv2:eu-west-1:${ACCOUNT}:regional/ipset/blocked/abc-123` },
    ]);
    expect(byId['runbook.rotate-role.1']!.step).toContain('AutoStackTerraformRoleV3');
    expect(byId['bot.rotate.delete']!.needs).toContainEqual({ action: 'iam:RemoveRoleFromInstanceProfile', resource: `arn:aws:iam::${ACCOUNT}:instance-profile/ci` });
  });

  it('names rotated roles V2, V3, ... from the base name', () => {
    expect(nextRoleName('AutoStackTerraformRole')).toBe('AutoStackTerraformRoleV2');
    expect(nextRoleName('AutoStackTerraformRoleV2')).toBe('AutoStackTerraformRoleV3');
    expect(nextRoleName('AutoStackTerraformRoleV19')).toBe('AutoStackTerraformRoleV20');
    expect(baseRoleName('AutoStackTerraformRoleV7')).toBe('AutoStackTerraformRole');
    expect(baseRoleName('RoleV1')).toBe('RoleV1');
    expect(nextRoleName('RoleV1')).toBe('RoleV1V2');
  });
});

describe('iam check against IAM (moto)', () => {
  it('finds every gap of the runbook minimal policy against the runbook itself, and a proposal that closes them', async () => {
    const role = `AutoStack${uniqueName('chk')}`;
    await createRole(aws.iam, role);
    const check = await runRoleCheck(aws, testConfig({ iam: { roleName: role } }), role, new Date());
    const r = rows(check);
    expect(r['runbook.iam-setup.1']).toEqual({ verdict: 'missing', missing: ['iam:CreateRole'] });
    expect(r['runbook.iam-setup.2']).toEqual({ verdict: 'missing', missing: ['iam:PutRolePolicy'] });
    expect(r['runbook.iam-setup.3']).toEqual({ verdict: 'missing', missing: ['iam:GetRole'] });
    expect(r['runbook.rotate-role.1']).toEqual({ verdict: 'missing', missing: ['iam:CreateRole'] });
    expect(r['runbook.rotate-role.2']).toEqual({ verdict: 'missing', missing: ['iam:PutRolePolicy'] });
    expect(r['runbook.rotate-role.4']).toEqual({ verdict: 'ok', missing: [] });
    expect(r['runbook.rotate-role.5']).toEqual({ verdict: 'missing', missing: ['iam:DeleteRolePolicy', 'iam:DeleteRole'] });
    expect(r['runbook.tf-locked.1']).toEqual({ verdict: 'missing', missing: ['dynamodb:Scan'] });
    expect(r['runbook.tf-locked.3']).toEqual({ verdict: 'ok', missing: [] });
    expect(r['runbook.tf-locked.4']).toEqual({ verdict: 'ok', missing: [] });
    expect(r['runbook.tf-restore.1']).toEqual({ verdict: 'missing', missing: ['s3:ListBucketVersions'] });
    expect(r['runbook.tf-restore.2']).toEqual({ verdict: 'missing', missing: ['s3:GetObjectVersion'] });
    expect(r['bot.tf.lock']!.verdict).toBe('ok');
    expect(r['bot.tf.unlock']!.verdict).toBe('ok');
    expect(r['bot.tf.restore']!.missing).toEqual(['s3:ListBucketVersions', 's3:GetObjectVersion']);
    // The IAM statement is on autostack-* roles: case-sensitive, so the runbook's own role is not covered.
    const reasons = check.result.rows.flatMap((row) => row.failing).filter((f) => f.need.action === 'iam:CreateRole');
    expect(new Set(reasons.map((f) => f.reason))).toEqual(new Set(['other-resources']));

    const sids = check.result.proposal.map((s) => s.Sid);
    expect(sids).toEqual(['RunbookGapsDynamoDB', 'RunbookGapsIAM', 'RunbookGapsS3AutostackBackups', 'RunbookGapsS3AutostackTfstate']);
    // Reuses the policy's own resource patterns where they cover the resource.
    expect(check.result.proposal[0]).toEqual({ Sid: 'RunbookGapsDynamoDB', Effect: 'Allow', Action: ['dynamodb:Scan'], Resource: 'arn:aws:dynamodb:*:*:table/autostack-tf-locks' });
    expect(check.result.proposal[3]).toEqual({
      Sid: 'RunbookGapsS3AutostackTfstate',
      Effect: 'Allow',
      Action: ['s3:GetObjectVersion', 's3:ListBucketVersions'],
      Resource: ['arn:aws:s3:::autostack-tfstate', 'arn:aws:s3:::autostack-tfstate/*'],
    });
    expect(check.result.proposal[1]!.Resource).toEqual([`arn:aws:iam::${ACCOUNT}:role/${role}`, `arn:aws:iam::${ACCOUNT}:role/${role}V*`]);
    expect(check.result.blocked).toEqual([]);
  });

  it('the README example is the output of iam check against the runbook minimal policy', async () => {
    const role = `AutoStack${uniqueName('d')}`; // as long as AutoStackTerraformRole, so columns line up the same
    await createRole(aws.iam, role);
    const cfg = testConfig({ iam: { roleName: role } });
    const check = await runRoleCheck(aws, cfg, role, new Date());
    const text = replyToText(roleCheckReply(cfg, check)).replaceAll(role, 'AutoStackTerraformRole');
    for (const page of ['docs/iam-check-example.md', 'README.md']) expect(readFileSync(page, 'utf8'), page).toContain(text);
  });

  it('reads attached managed policies and instance profiles: an explicit Deny beats the inline Allow', async () => {
    const role = `AutoStack${uniqueName('deny')}`;
    await createRole(aws.iam, role);
    const denyPolicy = await aws.iam.send(
      new CreatePolicyCommand({
        PolicyName: uniqueName('nodelete'),
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'NoLockDelete', Effect: 'Deny', Action: 'dynamodb:DeleteItem', Resource: '*' }] }),
      }),
    );
    await aws.iam.send(new AttachRolePolicyCommand({ RoleName: role, PolicyArn: denyPolicy.Policy!.Arn! }));
    const profile = uniqueName('prof');
    await aws.iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: profile }));
    await aws.iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: profile, RoleName: role }));

    const check = await runRoleCheck(aws, testConfig({ iam: { roleName: role } }), role, new Date());
    const r = rows(check);
    expect(r['runbook.tf-locked.4']).toEqual({ verdict: 'denied', missing: ['dynamodb:DeleteItem'] });
    expect(r['runbook.rotate-role.4']!.verdict).toBe('denied');
    expect(check.result.blocked[0]!.evaluation.deniedBy[0]).toMatchObject({ sid: 'NoLockDelete', effect: 'Deny' });
    // The proposal cannot (and does not try to) grant what a Deny forbids.
    expect(check.result.proposal.flatMap((s) => s.Action)).not.toContain('dynamodb:DeleteItem');
    // The check reads the managed policy and the instance profile the role really has.
    const needs = check.result.rows.flatMap((row) => row.requirement.needs);
    expect(needs).toContainEqual({ action: 'iam:GetPolicyVersion', resource: denyPolicy.Policy!.Arn! });
    expect(needs).toContainEqual({ action: 'iam:RemoveRoleFromInstanceProfile', resource: `arn:aws:iam::${ACCOUNT}:instance-profile/${profile}` });
    const text = replyToText(roleCheckReply(testConfig(), check));
    expect(text).toContain(`dynamodb:DeleteItem on table/autostack-tf-locks is explicitly denied by managed ${denyPolicy.Policy!.PolicyName} (Sid NoLockDelete)`);
    expect(text).toContain(`Instance profiles: ${profile}`);
  });

  it('evaluates the condition keys the policy uses: a region guard denies regional calls outside it', async () => {
    const role = `AutoStack${uniqueName('reg')}`;
    await createRole(aws.iam, role, {
      Admin: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
      RegionGuard: { Version: '2012-10-17', Statement: [{ Sid: 'OnlyUsEast1', Effect: 'Deny', NotAction: ['iam:*', 'sts:*'], Resource: '*', Condition: { StringNotEquals: { 'aws:RequestedRegion': 'us-east-1' } } }] },
    });
    const inRegion = await runRoleCheck(aws, testConfig(), role, new Date());
    expect(inRegion.result.rows.filter((r) => r.verdict !== 'ok')).toEqual([]);
    expect(inRegion.result.proposal).toEqual([]);

    const elsewhere = await runRoleCheck(aws, testConfig({ aws: { region: 'eu-west-1' } }), role, new Date());
    const r = rows(elsewhere);
    expect(r['runbook.tf-locked.1']!.verdict).toBe('denied');
    expect(r['runbook.tf-restore.2']!.verdict).toBe('denied');
    // IAM is global (requested region us-east-1), and NotAction exempts it from the guard.
    expect(r['runbook.iam-setup.1']!.verdict).toBe('ok');
    expect(r['bot.rotate.delete']!.verdict).toBe('ok');
  });

  it('checks a policy file without a role (--policy-file)', async () => {
    const document = parsePolicyText(readFileSync('policies/minimal-policy.json', 'utf8'));
    const check = await runDocumentCheck(aws, testConfig(), 'AutoStackTerraformRole', 'file policies/minimal-policy.json', document, new Date());
    expect(check.result.rows.find((r) => r.requirement.id === 'runbook.tf-locked.1')!.verdict).toBe('missing');
    expect(check.result.proposal.map((s) => s.Sid)).toEqual(['RunbookGapsDynamoDB', 'RunbookGapsIAM', 'RunbookGapsS3AutostackBackups', 'RunbookGapsS3AutostackTfstate']);
  });

  it('a missing role is a clear error', async () => {
    const role = `AutoStack${uniqueName('none')}`;
    const failure = runRoleCheck(aws, testConfig(), role, new Date());
    await expect(failure).rejects.toBeInstanceOf(UserFacingError);
    await expect(failure).rejects.toThrow(`The IAM role ${role} does not exist.`);
  });
});
