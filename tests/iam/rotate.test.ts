import { describe, expect, it } from 'vitest';
import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  DeleteRolePolicyCommand,
  GetInstanceProfileCommand,
  GetPolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListInstanceProfilesForRoleCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { UserFacingError } from '../../src/core/types.ts';
import { backendChange, createRotatedRole, deleteRole, inspectRotation, rotationPlan, verifySuccessor } from '../../commands/iam/rotate.ts';
import { decodePolicyDocument } from '../../commands/iam/policy.ts';
import { parseConfig } from '../../src/config.ts';
import { awsClients, uniqueName } from '../harness/env.ts';
import { ACCOUNT, iamDenying, minimalPolicy, roleExists } from './helpers.ts';

const aws = awsClients();
const TRUST = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/terraform-ci` }, Action: 'sts:AssumeRole' }] };
const EXTRA = { Version: '2012-10-17', Statement: [{ Sid: 'Logs', Effect: 'Allow', Action: 'logs:DescribeLogGroups', Resource: '*' }] };
const config = parseConfig({});

interface World {
  role: string;
  profile: string;
  managedArn: string;
}

/** A role as it looks after a while: two inline policies, a managed policy, tags, an instance profile. */
async function world(): Promise<World> {
  const role = `AutoStack${uniqueName('rot')}`;
  await aws.iam.send(new CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: JSON.stringify(TRUST), Tags: [{ Key: 'team', Value: 'platform' }], MaxSessionDuration: 7200 }));
  await aws.iam.send(new PutRolePolicyCommand({ RoleName: role, PolicyName: 'AutoStackMinimalPolicy', PolicyDocument: JSON.stringify(minimalPolicy()) }));
  await aws.iam.send(new PutRolePolicyCommand({ RoleName: role, PolicyName: 'Extra', PolicyDocument: JSON.stringify(EXTRA) }));
  const managed = await aws.iam.send(
    new CreatePolicyCommand({ PolicyName: uniqueName('mp'), PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: '*' }] }) }),
  );
  await aws.iam.send(new AttachRolePolicyCommand({ RoleName: role, PolicyArn: managed.Policy!.Arn! }));
  const profile = uniqueName('prof');
  await aws.iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: profile }));
  await aws.iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: profile, RoleName: role }));
  return { role, profile, managedArn: managed.Policy!.Arn! };
}

async function inlineNames(role: string): Promise<string[]> {
  return ((await aws.iam.send(new ListRolePoliciesCommand({ RoleName: role }))).PolicyNames ?? []).sort();
}
async function attached(role: string): Promise<string[]> {
  return ((await aws.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: role }))).AttachedPolicies ?? []).map((p) => p.PolicyArn!);
}
async function profiles(role: string): Promise<string[]> {
  return ((await aws.iam.send(new ListInstanceProfilesForRoleCommand({ RoleName: role }))).InstanceProfiles ?? []).map((p) => p.InstanceProfileName!);
}
describe('rotate aws-role against IAM (moto)', () => {
  it('creates V2 with the same trust policy and copies of every policy, then deletes the old role the way IAM requires', async () => {
    const w = await world();
    const inspection = await inspectRotation(aws.iam, w.role);
    expect(inspection.newRole).toBe(`${w.role}V2`);
    const plan = rotationPlan(inspection, config);
    expect(plan.title).toBe(`Rotate AWS role ${w.role} → ${w.role}V2`);
    expect(plan.steps).toEqual([
      expect.stringContaining(`aws iam create-role --role-name ${w.role}V2 with the trust policy of ${w.role} (trusted: arn:aws:iam::${ACCOUNT}:user/terraform-ci), its 1 tags`),
      `aws iam put-role-policy --role-name ${w.role}V2 --policy-name AutoStackMinimalPolicy (copy of ${w.role}'s inline policy)`,
      `aws iam put-role-policy --role-name ${w.role}V2 --policy-name Extra (copy of ${w.role}'s inline policy)`,
      `aws iam attach-role-policy --role-name ${w.role}V2 --policy-arn ${w.managedArn}`,
      expect.stringContaining('wait until someone presses "Terraform plan verified"'),
      `aws iam remove-role-from-instance-profile --instance-profile-name ${w.profile} --role-name ${w.role}`,
      `aws iam delete-role-policy --role-name ${w.role} --policy-name AutoStackMinimalPolicy`,
      `aws iam delete-role-policy --role-name ${w.role} --policy-name Extra`,
      `aws iam detach-role-policy --role-name ${w.role} --policy-arn ${w.managedArn}`,
      `aws iam delete-role --role-name ${w.role}`,
    ]);
    expect(plan.warnings?.[0]).toContain(`instance profile(s) ${w.profile}`);

    const steps: string[] = [];
    const created = await createRotatedRole(aws.iam, inspection, async (t) => void steps.push(t));
    expect(created.arn).toBe(`arn:aws:iam::${ACCOUNT}:role/${w.role}V2`);
    const v2 = (await aws.iam.send(new GetRoleCommand({ RoleName: `${w.role}V2` }))).Role!;
    expect(decodePolicyDocument(v2.AssumeRolePolicyDocument!)).toEqual(TRUST);
    expect(v2.Tags).toEqual([{ Key: 'team', Value: 'platform' }]);
    expect(v2.MaxSessionDuration).toBe(7200);
    expect(await inlineNames(`${w.role}V2`)).toEqual(['AutoStackMinimalPolicy', 'Extra']);
    const copied = await aws.iam.send(new GetRolePolicyCommand({ RoleName: `${w.role}V2`, PolicyName: 'AutoStackMinimalPolicy' }));
    expect(decodePolicyDocument(copied.PolicyDocument!)).toEqual(minimalPolicy());
    expect(await attached(`${w.role}V2`)).toEqual([w.managedArn]);
    expect(steps.at(-1)).toContain('Verified: ');
    expect(await verifySuccessor(aws.iam, w.role, `${w.role}V2`)).toEqual([]);

    const deletion: string[] = [];
    const report = await deleteRole(aws.iam, w.role, async (t) => void deletion.push(t));
    expect(deletion).toEqual([
      `:white_check_mark: Removed ${w.role} from instance profile ${w.profile}`,
      ':white_check_mark: Deleted inline policy AutoStackMinimalPolicy',
      ':white_check_mark: Deleted inline policy Extra',
      expect.stringMatching(/^:white_check_mark: Detached managed policy /),
      `:white_check_mark: Deleted role ${w.role}`,
    ]);
    expect(report).toEqual({ removedFromProfiles: [w.profile], deletedInline: ['AutoStackMinimalPolicy', 'Extra'], detached: [w.managedArn] });
    expect(await roleExists(aws.iam, w.role)).toBe(false);
    // The instance profile and the managed policy themselves stay; only the old role is gone.
    expect((await aws.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: w.profile }))).InstanceProfile!.Roles).toEqual([]);
    await expect(aws.iam.send(new GetPolicyCommand({ PolicyArn: w.managedArn }))).resolves.toBeDefined();
    expect(await roleExists(aws.iam, `${w.role}V2`)).toBe(true);

    // The next rotation goes V2 → V3.
    expect((await inspectRotation(aws.iam, `${w.role}V2`)).newRole).toBe(`${w.role}V3`);
  });

  it('refuses when the next name is taken, and when the role does not exist', async () => {
    const w = await world();
    await aws.iam.send(new CreateRoleCommand({ RoleName: `${w.role}V2`, AssumeRolePolicyDocument: JSON.stringify(TRUST) }));
    await expect(inspectRotation(aws.iam, w.role)).rejects.toThrow(`The role ${w.role}V2 already exists, so ${w.role} cannot be rotated to it; nothing was changed.`);
    await expect(inspectRotation(aws.iam, `${w.role}Nope`)).rejects.toThrow(`The IAM role ${w.role}Nope does not exist.`);
  });

  it('a failed creation removes the partly created role and leaves the old one untouched', async () => {
    const w = await world();
    const denied = iamDenying((action) => action === 'AttachRolePolicy');
    const inspection = await inspectRotation(aws.iam, w.role);
    const steps: string[] = [];
    const failure = createRotatedRole(denied.iam, inspection, async (t) => void steps.push(t));
    await expect(failure).rejects.toBeInstanceOf(UserFacingError);
    await expect(failure).rejects.toThrow(`Rotation failed to attach managed policy ${w.managedArn} to ${w.role}V2: Access denied: the bot's AWS identity is not allowed iam:AttachRolePolicy`);
    await expect(failure).rejects.toThrow(`${w.role} was not touched. The partly created ${w.role}V2 was removed again.`);
    expect(await roleExists(aws.iam, `${w.role}V2`)).toBe(false);
    expect(await inlineNames(w.role)).toEqual(['AutoStackMinimalPolicy', 'Extra']);
    expect(denied.sent.slice(-4)).toEqual(['AttachRolePolicy', 'DeleteRolePolicy', 'DeleteRolePolicy', 'DeleteRole']);
  });

  it('a failed DeleteRole puts back the inline policies, managed policies and instance profile it removed', async () => {
    const w = await world();
    const denied = iamDenying((action) => action === 'DeleteRole');
    const steps: string[] = [];
    const failure = deleteRole(denied.iam, w.role, async (t) => void steps.push(t));
    await expect(failure).rejects.toThrow(`Deleting ${w.role} failed to delete role ${w.role}: Access denied: the bot's AWS identity is not allowed iam:DeleteRole`);
    await expect(failure).rejects.toThrow(
      `Before the failure: removed from instance profile ${w.profile}; inline policy AutoStackMinimalPolicy deleted; inline policy Extra deleted; managed policy ${w.managedArn} detached. All of it was put back: ${w.role} is intact.`,
    );
    expect(await roleExists(aws.iam, w.role)).toBe(true);
    expect(await inlineNames(w.role)).toEqual(['AutoStackMinimalPolicy', 'Extra']);
    expect(decodePolicyDocument((await aws.iam.send(new GetRolePolicyCommand({ RoleName: w.role, PolicyName: 'Extra' }))).PolicyDocument!)).toEqual(EXTRA);
    expect(await attached(w.role)).toEqual([w.managedArn]);
    expect(await profiles(w.role)).toEqual([w.profile]);
    expect(steps.at(-1)).toMatch(/^:leftwards_arrow_with_hook: Put back on /);
  });

  it('a failure halfway (detach denied) says exactly what was removed and puts it back', async () => {
    const w = await world();
    const denied = iamDenying((action) => action === 'DetachRolePolicy');
    const failure = deleteRole(denied.iam, w.role, async () => undefined);
    await expect(failure).rejects.toThrow(`failed to detach managed policy ${w.managedArn} from ${w.role}`);
    await expect(failure).rejects.toThrow(`Before the failure: removed from instance profile ${w.profile}; inline policy AutoStackMinimalPolicy deleted; inline policy Extra deleted. All of it was put back`);
    expect(await inlineNames(w.role)).toEqual(['AutoStackMinimalPolicy', 'Extra']);
    expect(await profiles(w.role)).toEqual([w.profile]);
    expect(await attached(w.role)).toEqual([w.managedArn]);
  });

  it('when putting back fails too, it names what was not restored', async () => {
    const w = await world();
    const denied = iamDenying((action) => action === 'DeleteRole' || action === 'AddRoleToInstanceProfile');
    const failure = deleteRole(denied.iam, w.role, async () => undefined);
    await expect(failure).rejects.toThrow(/Put back: inline policy AutoStackMinimalPolicy; inline policy Extra; managed policy .*\. NOT put back: instance profile .* \(Access denied/);
  });

  it('notices when the new role no longer mirrors the old one', async () => {
    const w = await world();
    const inspection = await inspectRotation(aws.iam, w.role);
    await createRotatedRole(aws.iam, inspection, async () => undefined);
    await aws.iam.send(new DeleteRolePolicyCommand({ RoleName: `${w.role}V2`, PolicyName: 'Extra' }));
    expect(await verifySuccessor(aws.iam, w.role, `${w.role}V2`)).toEqual(['inline policy Extra is missing']);
  });

  it('shows the backend.tf change as a diff of assume_role role_arn', () => {
    expect(backendChange('arn:aws:iam::1:role/A', 'arn:aws:iam::1:role/AV2').split('\n')).toEqual([
      ' terraform {',
      '   backend "s3" {',
      '     # bucket, key, region, dynamodb_table / use_lockfile: unchanged',
      '     assume_role = {',
      '-      role_arn = "arn:aws:iam::1:role/A"',
      '+      role_arn = "arn:aws:iam::1:role/AV2"',
      '     }',
      '   }',
      ' }',
    ]);
  });
});
