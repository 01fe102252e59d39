/**
 * `iam check`: evaluates a role's policies against the requirements table and proposes the
 * smallest set of Allow statements that closes every gap (reusing the policy's own resource
 * patterns where they already cover the resource, the exact resources otherwise).
 */
import type { Part, Reply } from '../../src/core/result.ts';
import { table } from '../../src/core/result.ts';
import { actionMatches, arnMatches, describeRef, evaluate, evaluateCondition } from './evaluator.ts';
import type { Evaluation, NamedPolicy, RequestContext } from './evaluator.ts';
import { asList, statementsOf } from './policy.ts';
import type { PolicyStatement } from './policy.ts';
import { baseContext } from './requirements.ts';
import type { Need, Requirement, RequirementInput } from './requirements.ts';

export type NeedReason = 'allowed' | 'denied' | 'not-granted' | 'other-resources' | 'condition';

export interface NeedResult {
  need: Need;
  evaluation: Evaluation;
  reason: NeedReason;
}

export interface RowResult {
  requirement: Requirement;
  verdict: 'ok' | 'missing' | 'denied';
  failing: NeedResult[];
}

export interface CheckResult {
  rows: RowResult[];
  /** Allow statements that close every gap an Allow can close. */
  proposal: PolicyStatement[];
  /** Gaps an added Allow cannot close: an explicit Deny matches. */
  blocked: NeedResult[];
}

function serviceOf(action: string): string {
  return action.split(':')[0]!.toLowerCase();
}

function arnService(arn: string): string | undefined {
  return arn.startsWith('arn:') ? arn.split(':')[2] : undefined;
}

export function needContext(input: RequirementInput, need: Need, now: Date): RequestContext {
  return { ...baseContext(input, serviceOf(need.action), now), ...(need.context ?? {}) };
}

/** Why an Allow did not match: no statement has the action, only for other resources, or a condition failed. */
function reasonFor(policies: readonly NamedPolicy[], need: Need, context: RequestContext, evaluation: Evaluation): NeedReason {
  if (evaluation.decision === 'allow') return 'allowed';
  if (evaluation.decision === 'explicitDeny') return 'denied';
  let actionSeen = false;
  let conditionFailed = false;
  for (const policy of policies) {
    for (const statement of statementsOf(policy.document)) {
      if (statement.Effect !== 'Allow') continue;
      const actionHit = statement.Action ? asList(statement.Action).some((p) => actionMatches(p, need.action)) : !asList(statement.NotAction).some((p) => actionMatches(p, need.action));
      if (!actionHit) continue;
      actionSeen = true;
      const resourceHit = statement.Resource ? asList(statement.Resource).some((p) => arnMatches(p, need.resource)) : !asList(statement.NotResource).some((p) => arnMatches(p, need.resource));
      if (resourceHit && evaluateCondition(statement.Condition, context, policy.document.Version === '2012-10-17').kind !== 'true') conditionFailed = true;
    }
  }
  if (conditionFailed) return 'condition';
  return actionSeen ? 'other-resources' : 'not-granted';
}

export function evaluateNeed(policies: readonly NamedPolicy[], input: RequirementInput, need: Need, now: Date): NeedResult {
  const context = needContext(input, need, now);
  const evaluation = evaluate(policies, { action: need.action, resource: need.resource, context });
  return { need, evaluation, reason: reasonFor(policies, need, context, evaluation) };
}

/** Resource patterns of the policy's Allow statements that already name this resource (never a bare "*"). */
function existingPatterns(policies: readonly NamedPolicy[], need: Need): string[] {
  const service = serviceOf(need.action);
  const out = new Set<string>();
  for (const policy of policies) {
    for (const statement of statementsOf(policy.document)) {
      if (statement.Effect !== 'Allow' || !statement.Resource) continue;
      for (const pattern of asList(statement.Resource)) {
        if (pattern !== '*' && arnService(pattern) === service && arnMatches(pattern, need.resource)) out.add(pattern);
      }
    }
  }
  return [...out].sort();
}

const SERVICE_NAMES: Record<string, string> = { s3: 'S3', dynamodb: 'DynamoDB', iam: 'IAM', sts: 'STS', wafv2: 'WAF' };

/** Groups the missing (action, resource) pairs into as few Allow statements as possible. */
export function proposeStatements(policies: readonly NamedPolicy[], failing: NeedResult[], existingSids: Iterable<string> = []): PolicyStatement[] {
  const grants = new Map<string, Set<string>>();
  for (const result of failing) {
    if (result.reason === 'denied' || result.reason === 'allowed') continue;
    const scope = existingPatterns(policies, result.need);
    const patterns = scope.length > 0 ? [scope[0]!] : (result.need.scope ?? [result.need.resource]);
    const set = grants.get(result.need.action) ?? new Set<string>();
    for (const pattern of patterns) set.add(pattern);
    grants.set(result.need.action, set);
  }
  const entries: Array<{ actions: string[]; resources: string[]; label?: string }> = [];
  // S3: one statement per bucket, listing the bucket and its object patterns. Bucket actions
  // (ListBucket*) are authorized on the bucket ARN only and object actions on object ARNs only,
  // so this grants exactly the same as separate statements, in fewer of them.
  const buckets = new Map<string, { actions: Set<string>; resources: Set<string> }>();
  for (const [action, resources] of grants) {
    if (serviceOf(action) !== 's3') continue;
    for (const resource of resources) {
      const bucket = /^arn:[^:]+:s3:::([^/*?]+)(\/.*)?$/.exec(resource)?.[1];
      if (!bucket) continue;
      const entry = buckets.get(bucket) ?? { actions: new Set<string>(), resources: new Set<string>() };
      entry.actions.add(action);
      entry.resources.add(resource);
      buckets.set(bucket, entry);
      resources.delete(resource);
    }
  }
  for (const [bucket, entry] of [...buckets].sort(([a], [b]) => a.localeCompare(b))) {
    entries.push({ actions: [...entry.actions], resources: [...entry.resources].sort(), label: `S3${bucket.replace(/(^|[^A-Za-z0-9]+)([A-Za-z0-9])/g, (_m, _s, c: string) => c.toUpperCase())}` });
  }
  // Everything else: actions that need exactly the same resources share one statement.
  const byResources = new Map<string, { actions: string[]; resources: string[] }>();
  for (const [action, resources] of grants) {
    if (resources.size === 0) continue;
    const sorted = [...resources].sort();
    const key = `${serviceOf(action)} ${sorted.join(' ')}`;
    const entry = byResources.get(key) ?? { actions: [], resources: sorted };
    entry.actions.push(action);
    byResources.set(key, entry);
  }
  entries.push(...[...byResources.values()].sort((a, b) => serviceOf(a.actions[0]!).localeCompare(serviceOf(b.actions[0]!)) || a.resources.join().localeCompare(b.resources.join())));
  entries.sort((a, b) => serviceOf(a.actions[0]!).localeCompare(serviceOf(b.actions[0]!)));
  const used = new Set(existingSids);
  const counts = new Map<string, number>();
  return entries.map((entry) => {
    const service = serviceOf(entry.actions[0]!);
    const label = entry.label ?? SERVICE_NAMES[service] ?? service.replace(/[^a-z0-9]/gi, '').replace(/^./, (c) => c.toUpperCase());
    let sid: string;
    do {
      const n = (counts.get(label) ?? 0) + 1;
      counts.set(label, n);
      sid = `RunbookGaps${label}${n > 1 ? n : ''}`;
    } while (used.has(sid));
    used.add(sid);
    const actions = [...new Set(entry.actions)].sort();
    return { Sid: sid, Effect: 'Allow' as const, Action: actions, Resource: entry.resources.length === 1 ? entry.resources[0]! : entry.resources };
  });
}

export function checkPolicies(policies: readonly NamedPolicy[], requirements: Requirement[], input: RequirementInput, now: Date): CheckResult {
  const rows: RowResult[] = requirements.map((requirement) => {
    const failing = requirement.needs.map((need) => evaluateNeed(policies, input, need, now)).filter((r) => r.reason !== 'allowed');
    const verdict = failing.length === 0 ? 'ok' : failing.some((r) => r.reason === 'denied') ? 'denied' : 'missing';
    return { requirement, verdict, failing };
  });
  const failing = rows.flatMap((row) => row.failing);
  const blocked = [...new Map(failing.filter((r) => r.reason === 'denied').map((r) => [`${r.need.action} ${r.need.resource}`, r])).values()];
  const sids = policies.flatMap((p) => statementsOf(p.document).flatMap((s) => (s.Sid ? [s.Sid] : [])));
  const proposal = proposeStatements(policies, failing, sids);
  // The proposal must close every gap an Allow can close: check it with the evaluator itself.
  if (proposal.length > 0) {
    const withProposal = [...policies, { name: 'proposal', document: { Version: '2012-10-17', Statement: proposal } }];
    const still = failing.filter((r) => r.reason !== 'denied' && evaluateNeed(withProposal, input, r.need, now).reason !== 'allowed');
    if (still.length > 0) throw new Error(`internal error: the proposed statements do not grant ${still.map((r) => r.need.action).join(', ')}`);
  }
  return { rows, proposal, blocked };
}

/** "arn:aws:s3:::bucket/key" → "bucket/key"; "arn:aws:iam::1:role/X" → "role/X". */
export function shortResource(arn: string): string {
  if (!arn.startsWith('arn:')) return arn;
  return arn.split(':').slice(5).join(':');
}

function missingText(row: RowResult): string {
  if (row.verdict === 'ok') return '';
  const actions: string[] = [];
  for (const r of row.failing) {
    const label = r.reason === 'denied' ? `${r.need.action} (denied)` : r.need.action;
    if (!actions.includes(label)) actions.push(label);
  }
  return actions.join(', ');
}

const VERDICT: Record<RowResult['verdict'], string> = { ok: 'OK', missing: 'MISSING', denied: 'DENIED' };

export function resultTable(result: CheckResult): Part {
  return table(
    ['Runbook step', 'Verdict', 'Missing actions'],
    result.rows.map((row) => [row.requirement.step, VERDICT[row.verdict], missingText(row)]),
  );
}

/** Notes for gaps whose cause is not obvious from the action name. */
export function explanations(policies: readonly NamedPolicy[], result: CheckResult): string[] {
  const notes: string[] = [];
  const failing = result.rows.flatMap((r) => r.failing);
  const otherResources = [...new Map(failing.filter((r) => r.reason === 'other-resources').map((r) => [`${r.need.action} ${r.need.resource}`, r])).values()];
  if (otherResources.length > 0) {
    const byAction = new Map<string, string[]>();
    for (const r of otherResources) byAction.set(r.need.action, [...(byAction.get(r.need.action) ?? []), shortResource(r.need.resource)]);
    const granted = new Set<string>();
    for (const policy of policies) {
      for (const statement of statementsOf(policy.document)) {
        if (statement.Effect === 'Allow' && statement.Resource && statement.Action && asList(statement.Action).some((a) => byAction.has(a) || [...byAction.keys()].some((k) => actionMatches(a, k)))) {
          for (const pattern of asList(statement.Resource)) granted.add(pattern);
        }
      }
    }
    notes.push(
      `Granted only on other resources: ${[...byAction.keys()].join(', ')}. The policy names ${[...granted].sort().join(', ')}; the runbook touches ${[...new Set(otherResources.map((r) => shortResource(r.need.resource)))].join(', ')} (resource names are case-sensitive).`,
    );
  }
  const conditions = failing.filter((r) => r.reason === 'condition');
  if (conditions.length > 0) notes.push(`A condition of the policy does not hold for: ${[...new Set(conditions.map((r) => r.need.action))].join(', ')}.`);
  for (const r of result.blocked) {
    notes.push(`${r.need.action} on ${shortResource(r.need.resource)} is explicitly denied by ${r.evaluation.deniedBy.map(describeRef).join(', ')}: adding an Allow cannot fix this; the Deny must change.`);
  }
  const undecided = [...new Set(failing.flatMap((r) => r.evaluation.notes))];
  notes.push(...undecided);
  return notes;
}

export interface CheckReplyInput {
  title: string;
  fields: Array<readonly [string, string]>;
  policies: readonly NamedPolicy[];
  result: CheckResult;
  /** How to apply the proposal, e.g. the iam setup command line. */
  applyHint?: string;
}

export function proposalJson(result: CheckResult): string {
  return JSON.stringify({ Statement: result.proposal }, null, 2);
}

export function checkReply(input: CheckReplyInput): Reply {
  const { result } = input;
  const total = result.rows.length;
  const ok = result.rows.filter((r) => r.verdict === 'ok').length;
  const summary = ok === total ? `${input.title}: every runbook step and bot command is allowed (${total}/${total})` : `${input.title}: ${total - ok} of ${total} steps are not fully allowed`;
  const parts: Part[] = [{ kind: 'heading', text: input.title }];
  if (input.fields.length) parts.push({ kind: 'fields', fields: input.fields });
  parts.push(resultTable(result));
  for (const note of explanations(input.policies, result)) parts.push({ kind: 'context', text: note });
  if (result.proposal.length > 0) {
    parts.push({ kind: 'text', text: `Smallest change that closes the gaps: add these ${result.proposal.length} statement${result.proposal.length === 1 ? '' : 's'} to the policy.` });
    parts.push({ kind: 'code', text: proposalJson(result) });
    if (input.applyHint) parts.push({ kind: 'context', text: input.applyHint });
  }
  return { summary, parts, visibility: 'ephemeral' };
}
