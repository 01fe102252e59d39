/**
 * Runs the check against a real role (or against a policy file) with the injected AWS clients,
 * and builds the reply `iam check` shows.
 */
import type { Config } from '../../src/config.ts';
import type { AwsClients } from '../../src/core/types.ts';
import type { Reply } from '../../src/core/result.ts';
import { awsRegion, callerIdentity } from './aws.ts';
import { checkPolicies, checkReply } from './check.ts';
import type { CheckResult } from './check.ts';
import type { NamedPolicy } from './evaluator.ts';
import { buildRequirements } from './requirements.ts';
import type { RequirementInput } from './requirements.ts';
import { policiesOf, readRole, trustedPrincipals } from './role.ts';
import type { RoleSnapshot } from './role.ts';
import type { PolicyDocument } from './policy.ts';

export interface RoleCheck {
  snapshot: RoleSnapshot;
  input: RequirementInput;
  policies: NamedPolicy[];
  result: CheckResult;
}

export async function runRoleCheck(clients: Pick<AwsClients, 'iam' | 'sts' | 's3'>, config: Config, roleName: string, now: Date): Promise<RoleCheck> {
  const identity = await callerIdentity(clients.sts);
  const region = await awsRegion(config, clients);
  const snapshot = await readRole(clients.iam, roleName);
  const input: RequirementInput = {
    config,
    account: identity.account,
    partition: identity.partition,
    region,
    roleName: snapshot.name,
    instanceProfiles: snapshot.instanceProfiles.map((p) => p.arn),
    managedPolicies: snapshot.managed.map((p) => p.arn),
    roleHasTags: snapshot.tags.length > 0,
    permissionsBoundary: Boolean(snapshot.permissionsBoundary),
  };
  const policies = policiesOf(snapshot);
  return { snapshot, input, policies, result: checkPolicies(policies, buildRequirements(input), input, now) };
}

export async function runDocumentCheck(clients: Pick<AwsClients, 'sts' | 's3'>, config: Config, roleName: string, name: string, document: PolicyDocument, now: Date) {
  const identity = await callerIdentity(clients.sts);
  const region = await awsRegion(config, clients);
  const input: RequirementInput = { config, account: identity.account, partition: identity.partition, region, roleName };
  const policies: NamedPolicy[] = [{ name, document }];
  return { input, policies, result: checkPolicies(policies, buildRequirements(input), input, now) };
}

export function formatDate(date: Date | undefined): string {
  return date ? `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC` : 'unknown';
}

export function lastUsedText(snapshot: RoleSnapshot): string {
  if (!snapshot.lastUsed?.date) return 'not used in the tracking period (IAM keeps 400 days)';
  return `${formatDate(snapshot.lastUsed.date)}${snapshot.lastUsed.region ? ` in ${snapshot.lastUsed.region}` : ''}`;
}

export function roleFields(snapshot: RoleSnapshot): Array<readonly [string, string]> {
  const inline = snapshot.inline.map((p) => p.name).join(', ') || 'none';
  const managed = snapshot.managed.map((p) => p.name).join(', ') || 'none';
  return [
    ['Role ARN', snapshot.arn],
    ['Trusted principals', trustedPrincipals(snapshot.trustPolicy).join('\n') || 'nobody'],
    ['Inline policies', inline],
    ['Managed policies', managed],
    ['Instance profiles', snapshot.instanceProfiles.map((p) => p.name).join(', ') || 'none'],
    ['Last used', lastUsedText(snapshot)],
  ];
}

/** The command line that applies the proposal: the policy file plus the missing statements. */
export function applyHint(config: Config, roleName: string, inlineName: string): string {
  return (
    `To apply: \`/autostack iam setup --role-name ${roleName} --policy-name ${inlineName} --policy-file ${config.iam.policyFile} --add-missing\` ` +
    `puts ${config.iam.policyFile} plus exactly the statements it lacks as the inline policy ${inlineName}, after an approver approves; the role's trust policy is kept. ` +
    `Or paste the statements into your own policy.`
  );
}

export function roleCheckReply(config: Config, check: RoleCheck): Reply {
  const inlineName = check.snapshot.inline.some((p) => p.name === config.iam.policyName) || check.snapshot.inline.length === 0 ? config.iam.policyName : check.snapshot.inline[0]!.name;
  return checkReply({
    title: `iam check: ${check.snapshot.name}`,
    fields: roleFields(check.snapshot),
    policies: check.policies,
    result: check.result,
    applyHint: applyHint(config, check.snapshot.name, inlineName),
  });
}
