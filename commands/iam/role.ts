/**
 * Reading a role as IAM has it: trust policy, inline and attached managed policies (with the
 * default version's document), instance profiles, tags, boundary and last use.
 */
import {
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  paginateListAttachedRolePolicies,
  paginateListInstanceProfilesForRole,
  paginateListRolePolicies,
} from '@aws-sdk/client-iam';
import type { IAMClient, Role, Tag } from '@aws-sdk/client-iam';
import { UserFacingError } from '../../src/core/types.ts';
import { awsCall, isNoSuchEntity } from './aws.ts';
import { decodePolicyDocument, validatePolicyDocument } from './policy.ts';
import type { PolicyDocument } from './policy.ts';
import type { NamedPolicy } from './evaluator.ts';

/** IAM role names: letters, digits and +=,.@_- , 1 to 64 characters. */
export const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
/** Inline policy names: the same characters, 1 to 128. */
export const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;

export interface InlinePolicy {
  name: string;
  document: PolicyDocument;
}

export interface ManagedPolicy {
  arn: string;
  name: string;
  versionId?: string;
  /** The default version's document; undefined when it could not be read. */
  document?: PolicyDocument;
}

export interface InstanceProfileRef {
  name: string;
  arn: string;
}

export interface RoleSnapshot {
  name: string;
  arn: string;
  path: string;
  createDate?: Date;
  description?: string;
  maxSessionDuration?: number;
  permissionsBoundary?: string;
  tags: Tag[];
  trustPolicy: PolicyDocument;
  lastUsed?: { date?: Date; region?: string };
  inline: InlinePolicy[];
  managed: ManagedPolicy[];
  instanceProfiles: InstanceProfileRef[];
}

function parseDocument(text: string | undefined, what: string, kind: 'identity' | 'trust'): PolicyDocument {
  if (!text) throw new Error(`${what}: IAM returned no document`);
  try {
    return validatePolicyDocument(decodePolicyDocument(text), { kind });
  } catch (error) {
    throw new Error(`${what}: IAM returned a document this bot cannot read (${(error as Error).message})`);
  }
}

/** GetRole; undefined when the role does not exist. */
export async function getRole(iam: IAMClient, roleName: string, arnForErrors = `role/${roleName}`): Promise<Role | undefined> {
  try {
    const result = await awsCall('iam:GetRole', arnForErrors, () => iam.send(new GetRoleCommand({ RoleName: roleName })));
    return result.Role;
  } catch (error) {
    if (isNoSuchEntity(error)) return undefined;
    throw error;
  }
}

export function trustPolicyOf(role: Role): PolicyDocument {
  return parseDocument(role.AssumeRolePolicyDocument, `trust policy of ${role.RoleName}`, 'trust');
}

export async function listInlinePolicies(iam: IAMClient, roleName: string, roleArn: string): Promise<InlinePolicy[]> {
  const names: string[] = [];
  await awsCall('iam:ListRolePolicies', roleArn, async () => {
    for await (const page of paginateListRolePolicies({ client: iam }, { RoleName: roleName })) names.push(...(page.PolicyNames ?? []));
  });
  const out: InlinePolicy[] = [];
  for (const name of names) {
    const result = await awsCall('iam:GetRolePolicy', roleArn, () => iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: name })));
    out.push({ name, document: parseDocument(result.PolicyDocument, `inline policy ${name}`, 'identity') });
  }
  return out;
}

export async function getInlinePolicy(iam: IAMClient, roleName: string, roleArn: string, policyName: string): Promise<PolicyDocument | undefined> {
  try {
    const result = await awsCall('iam:GetRolePolicy', roleArn, () => iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })));
    return parseDocument(result.PolicyDocument, `inline policy ${policyName}`, 'identity');
  } catch (error) {
    if (isNoSuchEntity(error)) return undefined;
    throw error;
  }
}

export async function listAttachedPolicies(iam: IAMClient, roleName: string, roleArn: string): Promise<Array<{ arn: string; name: string }>> {
  const out: Array<{ arn: string; name: string }> = [];
  await awsCall('iam:ListAttachedRolePolicies', roleArn, async () => {
    for await (const page of paginateListAttachedRolePolicies({ client: iam }, { RoleName: roleName })) {
      for (const policy of page.AttachedPolicies ?? []) if (policy.PolicyArn) out.push({ arn: policy.PolicyArn, name: policy.PolicyName ?? policy.PolicyArn });
    }
  });
  return out;
}

export async function readManagedPolicy(iam: IAMClient, ref: { arn: string; name: string }): Promise<ManagedPolicy> {
  const policy = await awsCall('iam:GetPolicy', ref.arn, () => iam.send(new GetPolicyCommand({ PolicyArn: ref.arn })));
  const versionId = policy.Policy?.DefaultVersionId;
  if (!versionId) return { ...ref };
  const version = await awsCall('iam:GetPolicyVersion', ref.arn, () => iam.send(new GetPolicyVersionCommand({ PolicyArn: ref.arn, VersionId: versionId })));
  return { ...ref, versionId, document: parseDocument(version.PolicyVersion?.Document, `managed policy ${ref.name}`, 'identity') };
}

export async function listInstanceProfiles(iam: IAMClient, roleName: string, roleArn: string): Promise<InstanceProfileRef[]> {
  const out: InstanceProfileRef[] = [];
  await awsCall('iam:ListInstanceProfilesForRole', roleArn, async () => {
    for await (const page of paginateListInstanceProfilesForRole({ client: iam }, { RoleName: roleName })) {
      for (const profile of page.InstanceProfiles ?? []) if (profile.InstanceProfileName && profile.Arn) out.push({ name: profile.InstanceProfileName, arn: profile.Arn });
    }
  });
  return out;
}

export interface ReadOptions {
  /** Read managed policy documents (the check needs them; rotation only needs the ARNs). */
  managedDocuments?: boolean;
}

/** Reads everything about a role; a missing role is a UserFacingError naming it. */
export async function readRole(iam: IAMClient, roleName: string, options: ReadOptions = { managedDocuments: true }): Promise<RoleSnapshot> {
  const role = await getRole(iam, roleName);
  if (!role?.Arn) {
    throw new UserFacingError(`The IAM role ${roleName} does not exist.`, 'Check the name (IAM role names are case-sensitive in ARNs), or create it with `/autostack iam setup`.');
  }
  const arn = role.Arn;
  const inline = await listInlinePolicies(iam, roleName, arn);
  const attached = await listAttachedPolicies(iam, roleName, arn);
  const managed = options.managedDocuments ? await Promise.all(attached.map((ref) => readManagedPolicy(iam, ref))) : attached;
  const instanceProfiles = await listInstanceProfiles(iam, roleName, arn);
  return {
    name: role.RoleName ?? roleName,
    arn,
    path: role.Path ?? '/',
    ...(role.CreateDate ? { createDate: role.CreateDate } : {}),
    ...(role.Description ? { description: role.Description } : {}),
    ...(role.MaxSessionDuration ? { maxSessionDuration: role.MaxSessionDuration } : {}),
    ...(role.PermissionsBoundary?.PermissionsBoundaryArn ? { permissionsBoundary: role.PermissionsBoundary.PermissionsBoundaryArn } : {}),
    tags: role.Tags ?? [],
    trustPolicy: trustPolicyOf(role),
    ...(role.RoleLastUsed ? { lastUsed: { ...(role.RoleLastUsed.LastUsedDate ? { date: role.RoleLastUsed.LastUsedDate } : {}), ...(role.RoleLastUsed.Region ? { region: role.RoleLastUsed.Region } : {}) } } : {}),
    inline,
    managed,
    instanceProfiles,
  };
}

/** The role's identity policies as the evaluator takes them. */
export function policiesOf(snapshot: Pick<RoleSnapshot, 'inline' | 'managed'>): NamedPolicy[] {
  return [
    ...snapshot.inline.map((p) => ({ name: `inline ${p.name}`, document: p.document })),
    ...snapshot.managed.flatMap((p) => (p.document ? [{ name: `managed ${p.name}`, document: p.document }] : [])),
  ];
}

/** AWS principals a trust policy lets assume the role (Allow statements with sts:AssumeRole). */
export function trustedPrincipals(trust: PolicyDocument): string[] {
  const out: string[] = [];
  const statements = Array.isArray(trust.Statement) ? trust.Statement : [trust.Statement];
  for (const statement of statements) {
    if (statement.Effect !== 'Allow') continue;
    const principal = statement.Principal;
    if (principal === '*') out.push('*');
    else if (principal && typeof principal === 'object') {
      for (const [type, value] of Object.entries(principal as Record<string, unknown>)) {
        for (const item of Array.isArray(value) ? value : [value]) out.push(type === 'AWS' ? String(item) : `${type}: ${String(item)}`);
      }
    }
  }
  return [...new Set(out)];
}
