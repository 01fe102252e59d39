/**
 * The triage summary in the alert thread: each claim with the step that showed it and the window
 * it covers, the charts the steps drew (uploaded under the summary), and the runbook's next
 * decision as buttons (each requests its command for the person
 * who clicks, with that command's role and guard). Resolved, it says for how long the alert fired
 * and what was done, from the audit trail.
 */
import type { Button, Part, Reply } from '../../../src/core/result.ts';
import type { AuditLog } from '../../../src/core/types.ts';
import { spokenDuration } from '../../../src/core/durations.ts';
import type { TriagePlan } from './plans.ts';
import type { Claim, StepResult } from './evidence.ts';
import { readStep } from './evidence.ts';

const ICON = { fault: '✗', clear: '✓', unknown: '–' } as const;

function icon(claim: Claim): string {
  return claim.fault === true ? ICON.fault : claim.fault === false ? ICON.clear : ICON.unknown;
}

export function triageSummary(plan: TriagePlan, steps: StepResult[], ranAt: Date, refreshed: boolean): Reply {
  const read = steps.map(readStep);
  const claims = read.flatMap((r) => r.claims);
  const decisions: Button[] = read.flatMap((r) => r.decisions);
  const faults = claims.filter((c) => c.fault === true).length;
  const failed = steps.filter((s) => s.outcome !== 'ok');
  const lines = claims.map((c) => {
    const step = steps[c.step - 1]!;
    return `${icon(c)} ${c.text}\n      step ${c.step} \`${step.command}\`, ${c.window}`;
  });
  const parts: Part[] = [
    { kind: 'heading', text: `Triage ${plan.scenario}: ${plan.title}` },
    { kind: 'text', text: lines.join('\n') },
    ...steps.flatMap((s) => s.reply?.parts.filter((p) => p.kind === 'chart') ?? []),
  ];
  if (decisions.length > 0) {
    parts.push({ kind: 'text', text: '*Next decision (runbook)*' }, { kind: 'buttons', buttons: decisions });
  }
  parts.push({
    kind: 'context',
    text: `${plan.runbook}. ${steps.length} read-only step${steps.length === 1 ? '' : 's'} ${refreshed ? 'ran again' : 'ran'} at ${ranAt.toISOString().slice(11, 19)} UTC; nothing was changed. Each button asks for its command with its usual role and confirmation or approval.`,
  });
  const failures = failed.length ? `; ${failed.map((s) => `step ${s.index} ${s.outcome === 'timeout' ? 'timed out' : 'failed'}`).join(', ')}` : '';
  return { summary: `Triage ${plan.scenario}: ${faults} finding${faults === 1 ? '' : 's'} from ${steps.length} step${steps.length === 1 ? '' : 's'}${failures}`, parts, visibility: 'channel' };
}

/** Audit entries that changed something: a finished job (other than triage) or a command run at a click. */
type StoredAuditEntry = Awaited<ReturnType<NonNullable<AuditLog['latest']>>>[number];

export function actionsTaken(entries: StoredAuditEntry[], channel: string, since: string, decisionVerbs: readonly string[]): StoredAuditEntry[] {
  return entries
    .filter((e) => e.channel === channel && e.at >= since)
    .filter((e) => (e.action.startsWith('job ') && e.action !== 'job triage' && e.result === 'succeeded') || (decisionVerbs.includes(e.action) && e.result === 'ok'))
    .sort((a, b) => (a.at < b.at ? -1 : 1));
}

/** The summary as it stood, marked resolved: no decision buttons any more. */
export function resolvedSummary(previous: Pick<Reply, 'summary' | 'parts'>, firedAt: string, resolvedAt: Date, done: StoredAuditEntry[], auditReadable: boolean): Reply {
  const kept = previous.parts.filter((p) => p.kind !== 'buttons' && !(p.kind === 'text' && p.text === '*Next decision (runbook)*'));
  const heading = kept[0]?.kind === 'heading' ? kept[0].text : 'Triage';
  const took = spokenDuration(resolvedAt.getTime() - Date.parse(firedAt));
  const doneText = !auditReadable
    ? 'What was done: the audit trail could not be read here.'
    : done.length === 0
      ? `What was done: nothing was recorded in the audit trail of this channel between ${firedAt.slice(11, 16)} and ${resolvedAt.toISOString().slice(11, 16)} UTC.`
      : `What was done (audit trail):\n${done.map((e) => `• ${e.at.slice(11, 19)} UTC ${e.action} by ${e.actor}: ${e.result}${e.detail ? ` (${e.detail.slice(0, 150)})` : ''}`).join('\n')}`;
  return {
    summary: `Resolved after ${took}: ${heading}`,
    parts: [{ kind: 'heading', text: `Resolved after ${took}: ${heading}` }, { kind: 'text', text: doneText }, ...kept.slice(1)],
    visibility: 'channel',
  };
}
