/**
 * The quarterly role review ("Rotate AWS IAM Role — Frequency: review quarterly"): the role's
 * policy summary, the `iam check` verdict and when the role was last used, with buttons to
 * check in detail or start a rotation.
 */
import type { Config } from '../../src/config.ts';
import type { Part, Reply } from '../../src/core/result.ts';
import { resultTable } from './check.ts';
import type { RoleCheck } from './inspect.ts';
import { formatDate, lastUsedText } from './inspect.ts';
import { asList, statementsOf } from './policy.ts';
import type { PolicyDocument } from './policy.ts';
import { durationMs } from '../../src/core/durations.ts';

/** The quarterly review's job (jobs/iam-review.ts). */
export const IAM_REVIEW_JOB = 'iam-review';

export interface IamReviewData {
  /** Undefined: the configured role (or its successor after the last rotation). */
  role?: string;
}

export const REVIEW_ROTATE_ACTION = 'iam.review.rotate';
export const REVIEW_CHECK_ACTION = 'iam.review.check';

/**
 * A cron pattern for "every `reviewEvery`": cron has no "every 90 days", so whole months run on
 * the 1st of every Nth month (90d: January, April, July, October), weeks on Mondays, shorter
 * periods daily. `iam.reviewCron` overrides it.
 */
export function reviewCron(config: Config): string {
  if (config.iam.reviewCron) return config.iam.reviewCron;
  const days = durationMs(config.iam.reviewEvery) / 86_400_000;
  if (days >= 28) {
    const months = Math.max(1, Math.round(days / 30.44));
    if (months >= 12) return '0 9 1 1 *';
    return months === 1 ? '0 9 1 * *' : `0 9 1 */${months} *`;
  }
  if (days >= 7) return '0 9 * * 1';
  return '0 9 * * *';
}

function summarizeDocument(document: PolicyDocument): string {
  const statements = statementsOf(document);
  const actions = new Set(statements.flatMap((s) => asList(s.Action ?? s.NotAction)));
  const denies = statements.filter((s) => s.Effect === 'Deny').length;
  return `${statements.length} statement${statements.length === 1 ? '' : 's'}, ${actions.size} action${actions.size === 1 ? '' : 's'}${denies ? `, ${denies} Deny` : ''}`;
}

function ageInDays(from: Date | undefined, now: Date): string {
  if (!from) return 'unknown';
  return `${Math.floor((now.getTime() - from.getTime()) / 86_400_000)} days`;
}

export function reviewReply(check: RoleCheck, now: Date, reviewEvery: string): Reply {
  const { snapshot, result } = check;
  const total = result.rows.length;
  const ok = result.rows.filter((r) => r.verdict === 'ok').length;
  const verdict = ok === total ? `all ${total} runbook steps and bot commands allowed` : `${total - ok} of ${total} runbook steps or bot commands not fully allowed`;
  const policies = [
    ...snapshot.inline.map((p) => `inline ${p.name}: ${summarizeDocument(p.document)}`),
    ...snapshot.managed.map((p) => `managed ${p.name}: ${p.document ? summarizeDocument(p.document) : 'document not readable'}`),
  ];
  const parts: Part[] = [
    { kind: 'heading', text: `IAM role review: ${snapshot.name}` },
    {
      kind: 'fields',
      fields: [
        ['Role ARN', snapshot.arn],
        ['Created', `${formatDate(snapshot.createDate)} (${ageInDays(snapshot.createDate, now)} ago)`],
        ['Last used', lastUsedText(snapshot)],
        ['iam check', verdict],
        ['Policies', policies.join('\n') || 'none'],
        ['Instance profiles', snapshot.instanceProfiles.map((p) => p.name).join(', ') || 'none'],
      ],
    },
  ];
  if (ok !== total) parts.push(resultTable({ ...result, rows: result.rows.filter((r) => r.verdict !== 'ok') }));
  parts.push({
    kind: 'context',
    text: `Runbook: review quarterly, rotate if compromised. Next review in ${reviewEvery}. "Check" shows the full table and the smallest fix; "Start rotation" explains how to request one (it needs an approver).`,
  });
  parts.push({
    kind: 'buttons',
    buttons: [
      { label: 'Check', action: REVIEW_CHECK_ACTION, value: snapshot.name },
      { label: 'Start rotation', action: REVIEW_ROTATE_ACTION, value: snapshot.name, style: 'danger' },
    ],
  });
  return { summary: `IAM role review: ${snapshot.name}: ${verdict}; last used ${lastUsedText(snapshot)}`, parts, visibility: 'channel' };
}
