/**
 * "Rotate AWS IAM Role": create the next role (X → XV2 → XV3) with the current trust policy and
 * copies of every inline and managed policy, then (after Terraform was verified with it) delete
 * the old role the way IAM requires: out of its instance profiles, inline policies deleted,
 * managed policies detached, then DeleteRole. Each step is reported; a failure restores what it
 * had removed so the old role stays usable, and says exactly what state it left.
 */
import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  PutRolePolicyCommand,
  RemoveRoleFromInstanceProfileCommand,
} from '@aws-sdk/client-iam';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { Config } from '../../src/config.ts';
import type { Plan } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { awsCall, describeAwsError, isEntityExists, isNoSuchEntity } from './aws.ts';
import { samePolicy } from './policy.ts';
import { nextRoleName } from './requirements.ts';
import { getRole, listAttachedPolicies, listInlinePolicies, readRole, trustedPrincipals } from './role.ts';
import type { InlinePolicy, RoleSnapshot } from './role.ts';
import { ROLE_NAME } from './role.ts';

export interface RotationInspection {
  old: RoleSnapshot;
  newRole: string;
}

export type Step = (text: string) => Promise<void>;

/** Reads the role to rotate and checks that its successor's name is free. */
export async function inspectRotation(iam: IAMClient, roleName: string): Promise<RotationInspection> {
  const old = await readRole(iam, roleName, { managedDocuments: false });
  const newRole = nextRoleName(old.name);
  if (!ROLE_NAME.test(newRole)) throw new UserFacingError(`The next role name ${newRole} is longer than IAM allows (64 characters).`);
  const existing = await getRole(iam, newRole);
  if (existing) {
    throw new UserFacingError(
      `The role ${newRole} already exists, so ${old.name} cannot be rotated to it; nothing was changed.`,
      `If ${newRole} is a leftover, delete it first; if it is in use, rotate ${newRole} instead (/autostack rotate aws-role ${newRole}).`,
    );
  }
  return { old, newRole };
}

export function newRoleArn(old: RoleSnapshot, newRole: string): string {
  return old.arn.replace(/[^/]+$/, newRole);
}

/** The approved plan: creation, the wait for verification, then the deletion, in order. */
export function rotationPlan(inspection: RotationInspection, config: Config): Plan {
  const { old, newRole } = inspection;
  const steps = [
    `aws iam create-role --role-name ${newRole} with the trust policy of ${old.name} (trusted: ${trustedPrincipals(old.trustPolicy).join(', ') || 'nobody'})${old.tags.length ? `, its ${old.tags.length} tags` : ''}${old.permissionsBoundary ? `, its permissions boundary ${old.permissionsBoundary}` : ''}`,
    ...old.inline.map((p) => `aws iam put-role-policy --role-name ${newRole} --policy-name ${p.name} (copy of ${old.name}'s inline policy)`),
    ...old.managed.map((p) => `aws iam attach-role-policy --role-name ${newRole} --policy-arn ${p.arn}`),
    `Post the ARN of ${newRole} and the backend.tf change (assume_role role_arn); wait until someone presses "Terraform plan verified" (reminder after 24 h)`,
    ...old.instanceProfiles.map((p) => `aws iam remove-role-from-instance-profile --instance-profile-name ${p.name} --role-name ${old.name}`),
    ...old.inline.map((p) => `aws iam delete-role-policy --role-name ${old.name} --policy-name ${p.name}`),
    ...old.managed.map((p) => `aws iam detach-role-policy --role-name ${old.name} --policy-arn ${p.arn}`),
    `aws iam delete-role --role-name ${old.name}`,
  ];
  const warnings: string[] = [];
  if (old.instanceProfiles.length) {
    warnings.push(`${old.name} is in instance profile(s) ${old.instanceProfiles.map((p) => p.name).join(', ')}: instances using them lose these permissions when the old role is deleted (${newRole} is not added to them).`);
  }
  if (config.aws.assumeRoleArn === old.arn) {
    warnings.push(`The bot itself assumes ${old.name} (aws.assumeRoleArn): switch it to ${newRole} before pressing "Terraform plan verified", or the deletion is refused.`);
  }
  if (old.inline.length === 0 && old.managed.length === 0) warnings.push(`${old.name} has no policies: ${newRole} gets none either.`);
  return {
    title: `Rotate AWS role ${old.name} → ${newRole}`,
    steps,
    resources: [old.arn, newRoleArn(old, newRole), ...old.managed.map((p) => p.arn), ...old.instanceProfiles.map((p) => p.arn)],
    ...(warnings.length ? { warnings } : {}),
  };
}

/** The backend.tf change, as a diff an engineer can apply by hand. */
export function backendChange(oldArn: string, newArn: string): string {
  return [
    ' terraform {',
    '   backend "s3" {',
    '     # bucket, key, region, dynamodb_table / use_lockfile: unchanged',
    '     assume_role = {',
    `-      role_arn = "${oldArn}"`,
    `+      role_arn = "${newArn}"`,
    '     }',
    '   }',
    ' }',
  ].join('\n');
}

export const BACKEND_CHANGE_NOTE =
  'Terraform before 1.6 sets `role_arn` directly in the backend block: change that line the same way. Change any `provider "aws" { assume_role { role_arn } }` too. Then run `terraform init -reconfigure` and `terraform plan`.';

export interface CreatedRole {
  arn: string;
  inline: string[];
  managed: string[];
}

/** Compares the new role's policies with the old one's; returns the differences (empty: equal). */
export async function compareCopies(iam: IAMClient, oldInline: InlinePolicy[], oldManaged: string[], newRole: string, newArn: string): Promise<string[]> {
  const differences: string[] = [];
  const inline = await listInlinePolicies(iam, newRole, newArn);
  for (const policy of oldInline) {
    const copy = inline.find((p) => p.name === policy.name);
    if (!copy) differences.push(`inline policy ${policy.name} is missing`);
    else if (!samePolicy(copy.document, policy.document)) differences.push(`inline policy ${policy.name} differs`);
  }
  for (const extra of inline.filter((p) => !oldInline.some((o) => o.name === p.name))) differences.push(`extra inline policy ${extra.name}`);
  const attached = (await listAttachedPolicies(iam, newRole, newArn)).map((p) => p.arn);
  for (const arn of oldManaged) if (!attached.includes(arn)) differences.push(`managed policy ${arn} is not attached`);
  for (const arn of attached) if (!oldManaged.includes(arn)) differences.push(`extra managed policy ${arn}`);
  return differences;
}

/**
 * Creates `newRole` as a copy of `old`; verifies the copy. On failure removes what it created
 * (detach, delete inline, delete role) and throws a UserFacingError saying what is left.
 */
export async function createRotatedRole(iam: IAMClient, inspection: RotationInspection, step: Step): Promise<CreatedRole> {
  const { old, newRole } = inspection;
  const arn = newRoleArn(old, newRole);
  const created = { role: false, inline: [] as string[], managed: [] as string[] };
  let current = `create role ${newRole}`;
  try {
    try {
      await awsCall('iam:CreateRole', arn, () =>
        iam.send(
          new CreateRoleCommand({
            RoleName: newRole,
            Path: old.path,
            AssumeRolePolicyDocument: JSON.stringify(old.trustPolicy),
            Description: old.description ?? `Rotated from ${old.name}`,
            ...(old.maxSessionDuration ? { MaxSessionDuration: old.maxSessionDuration } : {}),
            ...(old.permissionsBoundary ? { PermissionsBoundary: old.permissionsBoundary } : {}),
            ...(old.tags.length ? { Tags: old.tags } : {}),
          }),
        ),
      );
    } catch (error) {
      if (isEntityExists(error)) throw new UserFacingError(`The role ${newRole} was created by someone else in the meantime; nothing was changed.`);
      throw error;
    }
    created.role = true;
    await step(`:white_check_mark: Created ${newRole} with the trust policy of ${old.name}`);
    for (const policy of old.inline) {
      current = `copy inline policy ${policy.name} to ${newRole}`;
      await awsCall('iam:PutRolePolicy', arn, () => iam.send(new PutRolePolicyCommand({ RoleName: newRole, PolicyName: policy.name, PolicyDocument: JSON.stringify(policy.document) })));
      created.inline.push(policy.name);
      await step(`:white_check_mark: Copied inline policy ${policy.name}`);
    }
    for (const policy of old.managed) {
      current = `attach managed policy ${policy.arn} to ${newRole}`;
      await awsCall('iam:AttachRolePolicy', arn, () => iam.send(new AttachRolePolicyCommand({ RoleName: newRole, PolicyArn: policy.arn })));
      created.managed.push(policy.arn);
      await step(`:white_check_mark: Attached managed policy ${policy.name}`);
    }
    current = `verify the copy`;
    const differences = await compareCopies(
      iam,
      old.inline,
      old.managed.map((p) => p.arn),
      newRole,
      arn,
    );
    if (differences.length) throw new UserFacingError(`the copy on ${newRole} does not match ${old.name}: ${differences.join('; ')}`);
    await step(`:white_check_mark: Verified: ${newRole} has the same ${old.inline.length} inline and ${old.managed.length} managed policies as ${old.name}`);
    return { arn, inline: created.inline, managed: created.managed };
  } catch (error) {
    const cause = describeAwsError(error);
    await step(`:x: Failed to ${current}: ${cause}`);
    const left = await removeRole(iam, newRole, created);
    throw new UserFacingError(`Rotation failed to ${current}: ${cause} ${old.name} was not touched. ${left}`, error instanceof UserFacingError ? error.hint : undefined);
  }
}

/** Undo of a partial creation; returns a sentence saying what is left. */
async function removeRole(iam: IAMClient, role: string, created: { role: boolean; inline: string[]; managed: string[] }): Promise<string> {
  if (!created.role) return `Nothing was created.`;
  const failed: string[] = [];
  for (const arn of created.managed) {
    await iam.send(new DetachRolePolicyCommand({ RoleName: role, PolicyArn: arn })).catch((e: unknown) => failed.push(`detach ${arn} (${describeAwsError(e)})`));
  }
  for (const name of created.inline) {
    await iam.send(new DeleteRolePolicyCommand({ RoleName: role, PolicyName: name })).catch((e: unknown) => failed.push(`delete inline policy ${name} (${describeAwsError(e)})`));
  }
  if (failed.length === 0) {
    try {
      await iam.send(new DeleteRoleCommand({ RoleName: role }));
      return `The partly created ${role} was removed again.`;
    } catch (error) {
      failed.push(`delete role ${role} (${describeAwsError(error)})`);
    }
  }
  return `The partly created ${role} is still there; could not ${failed.join('; ')}: delete it by hand.`;
}

export interface DeletionReport {
  removedFromProfiles: string[];
  deletedInline: string[];
  detached: string[];
}

/**
 * Deletes `roleName` as IAM requires. On failure it puts back what it removed (inline policies,
 * managed policies, instance profiles) and throws a UserFacingError with the exact state.
 */
export async function deleteRole(iam: IAMClient, roleName: string, step: Step): Promise<DeletionReport> {
  const role = await readRole(iam, roleName, { managedDocuments: false });
  const arn = role.arn;
  const done: DeletionReport = { removedFromProfiles: [], deletedInline: [], detached: [] };
  let current = '';
  try {
    for (const profile of role.instanceProfiles) {
      current = `remove ${roleName} from instance profile ${profile.name}`;
      await awsCall('iam:RemoveRoleFromInstanceProfile', profile.arn, () => iam.send(new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName: profile.name, RoleName: roleName })));
      done.removedFromProfiles.push(profile.name);
      await step(`:white_check_mark: Removed ${roleName} from instance profile ${profile.name}`);
    }
    for (const policy of role.inline) {
      current = `delete inline policy ${policy.name} of ${roleName}`;
      await awsCall('iam:DeleteRolePolicy', arn, () => iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policy.name })));
      done.deletedInline.push(policy.name);
      await step(`:white_check_mark: Deleted inline policy ${policy.name}`);
    }
    for (const policy of role.managed) {
      current = `detach managed policy ${policy.arn} from ${roleName}`;
      await awsCall('iam:DetachRolePolicy', arn, () => iam.send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: policy.arn })));
      done.detached.push(policy.arn);
      await step(`:white_check_mark: Detached managed policy ${policy.name}`);
    }
    current = `delete role ${roleName}`;
    await awsCall('iam:DeleteRole', arn, () => iam.send(new DeleteRoleCommand({ RoleName: roleName })));
    await step(`:white_check_mark: Deleted role ${roleName}`);
    return done;
  } catch (error) {
    const cause = describeAwsError(error);
    await step(`:x: Failed to ${current}: ${cause}`);
    const restored: string[] = [];
    const notRestored: string[] = [];
    const attempt = async (label: string, action: string, resource: string, fn: () => Promise<unknown>) => {
      try {
        await awsCall(action, resource, fn);
        restored.push(label);
      } catch (restoreError) {
        if (isNoSuchEntity(restoreError)) notRestored.push(`${label} (the role no longer exists)`);
        else notRestored.push(`${label} (${describeAwsError(restoreError)})`);
      }
    };
    for (const policy of role.inline.filter((p) => done.deletedInline.includes(p.name))) {
      await attempt(`inline policy ${policy.name}`, 'iam:PutRolePolicy', arn, () => iam.send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policy.name, PolicyDocument: JSON.stringify(policy.document) })));
    }
    for (const policyArn of done.detached) {
      await attempt(`managed policy ${policyArn}`, 'iam:AttachRolePolicy', arn, () => iam.send(new AttachRolePolicyCommand({ RoleName: roleName, PolicyArn: policyArn })));
    }
    for (const profile of done.removedFromProfiles) {
      const profileArn = role.instanceProfiles.find((p) => p.name === profile)?.arn ?? profile;
      await attempt(`instance profile ${profile}`, 'iam:AddRoleToInstanceProfile', profileArn, () => iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: profile, RoleName: roleName })));
    }
    const removed = [
      ...done.removedFromProfiles.map((p) => `removed from instance profile ${p}`),
      ...done.deletedInline.map((p) => `inline policy ${p} deleted`),
      ...done.detached.map((p) => `managed policy ${p} detached`),
    ];
    const state =
      removed.length === 0
        ? `Nothing was removed: ${roleName} is intact.`
        : notRestored.length === 0
          ? `Before the failure: ${removed.join('; ')}. All of it was put back: ${roleName} is intact.`
          : `Before the failure: ${removed.join('; ')}. Put back: ${restored.join('; ') || 'nothing'}. NOT put back: ${notRestored.join('; ')}.`;
    if (restored.length) await step(`:leftwards_arrow_with_hook: Put back on ${roleName}: ${restored.join('; ')}`);
    throw new UserFacingError(`Deleting ${roleName} failed to ${current}: ${cause} ${state}`, error instanceof UserFacingError ? error.hint : undefined);
  }
}

/** Before deleting the old role: the new one must still exist with the same policies. */
export async function verifySuccessor(iam: IAMClient, oldRole: string, newRole: string): Promise<string[]> {
  const successor = await getRole(iam, newRole);
  if (!successor?.Arn) return [`${newRole} does not exist`];
  const old = await readRole(iam, oldRole, { managedDocuments: false });
  return compareCopies(
    iam,
    old.inline,
    old.managed.map((p) => p.arn),
    newRole,
    successor.Arn,
  );
}
