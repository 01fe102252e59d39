/**
 * `iam setup` (runbook IAM Setup 1-3): create the role with a trust policy, put the inline policy,
 * print the role ARN. Idempotent: an existing role with the same trust policy is reused, a
 * different one is only replaced with --replace-trust; the inline policy is put only when it
 * differs. A failed run undoes what it did, in reverse order, and says exactly what is left.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { CreateRoleCommand, DeleteRoleCommand, DeleteRolePolicyCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { Config } from '../../src/config.ts';
import type { AwsClients, Plan } from '../../src/core/types.ts';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import { awsCall, awsRegion, callerIdentity, describeAwsError, isEntityExists } from './aws.ts';
import { awsErrorName } from '../shared/aws-errors.ts';
import type { CallerIdentity } from './aws.ts';
import { checkPolicies } from './check.ts';
import type { NamedPolicy } from './evaluator.ts';
import {
  PolicyError,
  ROLE_INLINE_POLICY_LIMIT,
  canonicalPolicy,
  parsePolicyText,
  policyDiff,
  policyDigest,
  policySize,
  samePolicy,
  statementsOf,
} from './policy.ts';
import type { PolicyDocument, PolicyStatement } from './policy.ts';
import { buildRequirements, roleArn } from './requirements.ts';
import { POLICY_NAME, ROLE_NAME, getInlinePolicy, getRole, listAttachedPolicies, listInlinePolicies, listInstanceProfiles, readManagedPolicy, trustPolicyOf, trustedPrincipals } from './role.ts';

export interface SetupParams {
  role: string;
  /** Principals the trust policy lets assume the role; empty: keep the existing role's trust policy. */
  principals: string[];
  policyName: string;
  /** As given (relative to the policies folder or to it), for display and to read again. */
  policyFile: string;
  replaceTrust: boolean;
  addMissing: boolean;
}

/** arn:aws:iam::123456789012:root | :role/path/Name | :user/path/Name */
export const PRINCIPAL_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:(?:root|(?:role|user)\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64})$/;

export function parsePrincipals(text: string): string[] {
  const items = text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    if (!PRINCIPAL_ARN.test(item)) {
      throw new UsageError(
        `principals: "${item}" is not a principal ARN. Use arn:aws:iam::123456789012:root (the whole account), arn:aws:iam::123456789012:user/NAME or arn:aws:iam::123456789012:role/NAME.`,
      );
    }
  }
  return [...new Set(items)];
}

export function validateRoleName(name: string, flag = 'role-name'): string {
  if (!ROLE_NAME.test(name)) {
    throw new UsageError(`${flag}: "${name}" is not a valid IAM role name (1 to 64 letters, digits or + = , . @ _ -).`);
  }
  return name;
}

export function validatePolicyName(name: string): string {
  if (!POLICY_NAME.test(name)) throw new UsageError(`policy-name: "${name}" is not a valid IAM policy name (1 to 128 letters, digits or + = , . @ _ -).`);
  return name;
}

/** The folder policy files are read from: the one holding the configured default policy file. */
export function policyFolder(config: Config): string {
  return path.dirname(config.iam.policyFile);
}

/**
 * Resolves a policy file name to a path inside the policies folder: `minimal-policy.json` or
 * `policies/minimal-policy.json`; nothing outside that folder is ever read.
 */
export function resolvePolicyFile(config: Config, given: string): string {
  const folder = policyFolder(config);
  if (given === config.iam.policyFile) return given;
  const normalized = path.normalize(given);
  const relative = normalized.startsWith(`${path.normalize(folder)}${path.sep}`) ? normalized.slice(path.normalize(folder).length + 1) : normalized;
  if (!/^[\w][\w.-]*\.json$/.test(relative)) {
    throw new UsageError(`policy-file: "${given}" must name a .json file in ${folder}/ (for example ${path.basename(config.iam.policyFile)}).`);
  }
  return path.join(folder, relative);
}

/** Reads and validates a policy file; every problem is a UsageError naming the file. */
export function loadPolicyFile(config: Config, given: string): { file: string; document: PolicyDocument } {
  const file = resolvePolicyFile(config, given);
  if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`policy-file: ${file} does not exist.`);
  try {
    return { file, document: parsePolicyText(readFileSync(file, 'utf8'), { kind: 'identity' }) };
  } catch (error) {
    if (error instanceof PolicyError) throw new UsageError(`policy-file: ${file} is not a usable policy document: ${error.message}.`);
    throw error;
  }
}

export function trustPolicyFor(principals: string[]): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: principals.length === 1 ? principals[0]! : [...principals].sort() }, Action: 'sts:AssumeRole' }],
  };
}

export interface SetupInspection {
  params: SetupParams;
  identity: CallerIdentity;
  roleArn: string;
  exists: boolean;
  /** create: new role; same: reuse; keep: no principals given, keep it; replace: --replace-trust. */
  trust: 'create' | 'same' | 'keep' | 'replace';
  currentTrust?: PolicyDocument;
  desiredTrust?: PolicyDocument;
  policy: 'put' | 'replace' | 'unchanged';
  currentPolicy?: PolicyDocument;
  document: PolicyDocument;
  file: string;
  /** Statements --add-missing appended (their Sids). */
  added: PolicyStatement[];
}

function statementKey(statement: PolicyStatement): string {
  return JSON.stringify(canonicalPolicy({ Version: '2012-10-17', Statement: [statement] }).Statement);
}

/** Statement-level change: which Sids (or statement numbers) are added and removed. */
export function statementChanges(before: PolicyDocument, after: PolicyDocument): { added: string[]; removed: string[] } {
  const label = (s: PolicyStatement, i: number) => s.Sid ?? `statement ${i + 1}`;
  const beforeKeys = new Set(statementsOf(before).map(statementKey));
  const afterKeys = new Set(statementsOf(after).map(statementKey));
  return {
    added: statementsOf(after).flatMap((s, i) => (beforeKeys.has(statementKey(s)) ? [] : [label(s, i)])),
    removed: statementsOf(before).flatMap((s, i) => (afterKeys.has(statementKey(s)) ? [] : [label(s, i)])),
  };
}

/**
 * Reads what exists and decides what setup would do. Throws UserFacingError for a trust policy
 * that differs without --replace-trust, a missing role without principals, or a policy too big.
 */
export async function inspectSetup(clients: Pick<AwsClients, 'iam' | 'sts' | 's3'>, config: Config, params: SetupParams, now: Date = new Date()): Promise<SetupInspection> {
  const { iam } = clients;
  const identity = await callerIdentity(clients.sts);
  const arnGuess = roleArn(identity.partition, identity.account, params.role);
  const role = await getRole(iam, params.role, arnGuess);
  const exists = Boolean(role);
  const arn = role?.Arn ?? arnGuess;
  const { file, document: fileDocument } = loadPolicyFile(config, params.policyFile);

  let trust: SetupInspection['trust'];
  let currentTrust: PolicyDocument | undefined;
  const desiredTrust = params.principals.length ? trustPolicyFor(params.principals) : undefined;
  if (!role) {
    if (!desiredTrust) {
      throw new UserFacingError(
        `The role ${params.role} does not exist yet, so it needs a trust policy: give the principals that may assume it.`,
        `Example: /autostack iam setup --role-name ${params.role} --principals arn:aws:iam::${identity.account}:root`,
      );
    }
    trust = 'create';
  } else {
    currentTrust = trustPolicyOf(role);
    if (!desiredTrust) trust = 'keep';
    else if (samePolicy(currentTrust, desiredTrust)) trust = 'same';
    else if (params.replaceTrust) trust = 'replace';
    else {
      const diff = policyDiff(currentTrust, desiredTrust).filter((line) => !line.startsWith('  ') || /"AWS"|arn:/.test(line));
      throw new UserFacingError(
        `The role ${params.role} already exists with a different trust policy; nothing was changed.\n\`\`\`\n${diff.join('\n')}\n\`\`\`\nTo replace its trust policy, run the same command again with --replace-trust (it needs approval again).`,
        `Currently trusted: ${trustedPrincipals(currentTrust).join(', ') || 'nobody'}. Requested: ${params.principals.join(', ')}.`,
      );
    }
  }

  // Other inline policies and managed policies of an existing role count for --add-missing and the size quota.
  const otherInline = role ? (await listInlinePolicies(iam, params.role, arn)).filter((p) => p.name !== params.policyName) : [];
  const currentPolicy = role ? await getInlinePolicy(iam, params.role, arn, params.policyName) : undefined;
  let document = fileDocument;
  let added: PolicyStatement[] = [];
  if (params.addMissing) {
    const attached = role ? await listAttachedPolicies(iam, params.role, arn) : [];
    const managed = await Promise.all(attached.map((ref) => readManagedPolicy(iam, ref)));
    const profiles = role ? await listInstanceProfiles(iam, params.role, arn) : [];
    const region = await awsRegion(config, clients);
    const input = {
      config,
      account: identity.account,
      partition: identity.partition,
      region,
      roleName: params.role,
      instanceProfiles: profiles.map((p) => p.arn),
      managedPolicies: managed.map((m) => m.arn),
      roleHasTags: Boolean(role?.Tags?.length),
      permissionsBoundary: Boolean(role?.PermissionsBoundary?.PermissionsBoundaryArn),
    };
    const policies: NamedPolicy[] = [
      { name: `inline ${params.policyName}`, document: fileDocument },
      ...otherInline.map((p) => ({ name: `inline ${p.name}`, document: p.document })),
      ...managed.flatMap((m) => (m.document ? [{ name: `managed ${m.name}`, document: m.document }] : [])),
    ];
    const result = checkPolicies(policies, buildRequirements(input), input, now);
    added = result.proposal;
    document = { ...fileDocument, Statement: [...statementsOf(fileDocument), ...added] };
  }
  const total = policySize(document) + otherInline.reduce((sum, p) => sum + policySize(p.document), 0);
  if (total > ROLE_INLINE_POLICY_LIMIT) {
    throw new UserFacingError(
      `The inline policies of ${params.role} would be ${total} characters (without whitespace); IAM allows ${ROLE_INLINE_POLICY_LIMIT} per role. Nothing was changed.`,
      'Move part of the policy into a managed policy and attach it instead.',
    );
  }
  const policy = !currentPolicy ? 'put' : samePolicy(currentPolicy, document) ? 'unchanged' : 'replace';
  return {
    params,
    identity,
    roleArn: arn,
    exists,
    trust,
    ...(currentTrust ? { currentTrust } : {}),
    ...(desiredTrust ? { desiredTrust } : {}),
    policy,
    ...(currentPolicy ? { currentPolicy } : {}),
    document,
    file,
    added,
  };
}

/** The plan shown for approval; recomputed before the job runs (same inputs, same plan). */
export function setupPlan(inspection: SetupInspection): Plan {
  const { params } = inspection;
  const steps: string[] = [];
  const warnings: string[] = [];
  const principals = params.principals.join(', ');
  switch (inspection.trust) {
    case 'create':
      steps.push(`aws iam create-role --role-name ${params.role} (trust policy: sts:AssumeRole by ${principals})`);
      break;
    case 'same':
      steps.push(`Reuse the existing role ${params.role}: its trust policy already lets ${principals} assume it`);
      break;
    case 'keep':
      steps.push(`Reuse the existing role ${params.role}; keep its trust policy (trusted: ${trustedPrincipals(inspection.currentTrust!).join(', ') || 'nobody'})`);
      break;
    case 'replace':
      steps.push(`aws iam update-assume-role-policy --role-name ${params.role}: trust ${principals} instead of ${trustedPrincipals(inspection.currentTrust!).join(', ') || 'nobody'}`);
      warnings.push(`The trust policy of ${params.role} is replaced (--replace-trust):\n${policyDiff(inspection.currentTrust!, inspection.desiredTrust!).join('\n')}`);
      break;
  }
  const source = `${inspection.file}${inspection.added.length ? ` + ${inspection.added.length} statement${inspection.added.length === 1 ? '' : 's'} from iam check (${inspection.added.map((s) => s.Sid).join(', ')})` : ''}`;
  const digest = policyDigest(inspection.document);
  if (inspection.policy === 'unchanged') {
    steps.push(`Inline policy ${params.policyName}: unchanged (already equal to ${source})`);
  } else if (inspection.policy === 'put') {
    steps.push(`aws iam put-role-policy --role-name ${params.role} --policy-name ${params.policyName} (${source}, digest ${digest})`);
  } else {
    const change = statementChanges(inspection.currentPolicy!, inspection.document);
    steps.push(
      `aws iam put-role-policy --role-name ${params.role} --policy-name ${params.policyName}: replace the current document with ${source} (digest ${digest}; statements added: ${change.added.join(', ') || 'none'}; removed: ${change.removed.join(', ') || 'none'})`,
    );
  }
  steps.push(`aws iam get-role --role-name ${params.role}: print the role ARN`);
  return {
    title: `IAM setup: role ${params.role}, inline policy ${params.policyName}`,
    steps,
    resources: [inspection.roleArn],
    ...(warnings.length ? { warnings } : {}),
  };
}

export interface SetupOutcome {
  roleArn: string;
  created: boolean;
  trust: SetupInspection['trust'];
  policy: SetupInspection['policy'];
}

interface Undo {
  label: string;
  run(): Promise<void>;
}

/** Applies an inspection; `step` reports each line. On failure undoes this run's changes, newest first. */
export async function applySetup(iam: IAMClient, inspection: SetupInspection, step: (text: string) => Promise<void>): Promise<SetupOutcome> {
  const { params } = inspection;
  const arn = inspection.roleArn;
  const undo: Undo[] = [];
  let current = '';
  try {
    if (inspection.trust === 'create') {
      current = `create role ${params.role}`;
      try {
        await awsCall('iam:CreateRole', arn, () =>
          iam.send(new CreateRoleCommand({ RoleName: params.role, AssumeRolePolicyDocument: JSON.stringify(inspection.desiredTrust), Description: 'AutoStack Terraform role (created by /autostack iam setup)' })),
        );
      } catch (error) {
        if (isEntityExists(error)) throw new UserFacingError(`The role ${params.role} was created by someone else after the plan was made; nothing was changed. Run iam setup again to see the new plan.`);
        if (awsErrorName(error) === 'MalformedPolicyDocument') throw new UserFacingError(`IAM rejected the trust policy: ${describeAwsError(error)}. Check that every principal exists.`);
        throw error;
      }
      undo.push({ label: `deleted role ${params.role}`, run: async () => void (await iam.send(new DeleteRoleCommand({ RoleName: params.role }))) });
      await step(`:white_check_mark: Created role ${params.role} (trust: ${params.principals.join(', ')})`);
    } else if (inspection.trust === 'replace') {
      current = `replace the trust policy of ${params.role}`;
      await awsCall('iam:UpdateAssumeRolePolicy', arn, () => iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: params.role, PolicyDocument: JSON.stringify(inspection.desiredTrust) })));
      const previous = JSON.stringify(inspection.currentTrust);
      undo.push({ label: `restored the previous trust policy of ${params.role}`, run: async () => void (await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: params.role, PolicyDocument: previous }))) });
      await step(`:white_check_mark: Replaced the trust policy of ${params.role}: now trusts ${params.principals.join(', ')}`);
    } else {
      await step(`:recycle: Reusing role ${params.role} (trust policy ${inspection.trust === 'same' ? 'already as requested' : 'kept'})`);
    }

    if (inspection.policy === 'unchanged') {
      await step(`:recycle: Inline policy ${params.policyName} unchanged`);
    } else {
      current = `put inline policy ${params.policyName}`;
      await awsCall('iam:PutRolePolicy', arn, () =>
        iam.send(new PutRolePolicyCommand({ RoleName: params.role, PolicyName: params.policyName, PolicyDocument: JSON.stringify(inspection.document) })),
      );
      if (inspection.currentPolicy) {
        const previous = JSON.stringify(inspection.currentPolicy);
        undo.push({
          label: `restored the previous inline policy ${params.policyName}`,
          run: async () => void (await iam.send(new PutRolePolicyCommand({ RoleName: params.role, PolicyName: params.policyName, PolicyDocument: previous }))),
        });
      } else {
        undo.push({ label: `deleted inline policy ${params.policyName}`, run: async () => void (await iam.send(new DeleteRolePolicyCommand({ RoleName: params.role, PolicyName: params.policyName }))) });
      }
      await step(`:white_check_mark: ${inspection.policy === 'put' ? 'Put' : 'Replaced'} inline policy ${params.policyName} (${inspection.file}${inspection.added.length ? ` + ${inspection.added.length} statements` : ''})`);
    }

    current = `read the role ARN of ${params.role}`;
    const role = await getRole(iam, params.role, arn);
    if (!role?.Arn) throw new UserFacingError(`The role ${params.role} disappeared right after setup.`);
    return { roleArn: role.Arn, created: inspection.trust === 'create', trust: inspection.trust, policy: inspection.policy };
  } catch (error) {
    const done: string[] = [];
    const failed: string[] = [];
    for (const item of undo.reverse()) {
      try {
        await item.run();
        done.push(item.label);
      } catch (undoError) {
        failed.push(`${item.label.replace(/^(deleted|restored)/, (w) => (w === 'deleted' ? 'delete' : 'restore'))} (${describeAwsError(undoError)})`);
      }
    }
    const cause = describeAwsError(error);
    const state =
      undo.length === 0
        ? 'Nothing was changed.'
        : failed.length === 0
          ? `Undone: ${done.join('; ')}. Everything is as it was before this run.`
          : `Undone: ${done.join('; ') || 'nothing'}. Could NOT ${failed.join('; ')}: fix this by hand.`;
    await step(`:x: Failed to ${current}: ${cause}`);
    const hint = error instanceof UserFacingError ? error.hint : undefined;
    throw new UserFacingError(`IAM setup failed to ${current}: ${cause} ${state}`, hint);
  }
}
