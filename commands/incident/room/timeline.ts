/**
 * An incident's timeline: what happened to the incident itself (its record), every command,
 * approval decision and job outcome audited in its channel (the audit stream), and the alert
 * groups that fired while it was open (the alert store), in time order with people's names.
 * The same entries make the post-incident report.
 */
import type { Clients } from '../../../src/core/types.ts';
import { auditEntriesBetween } from '../../../src/core/audit.ts';
import type { StoredAuditEntry } from '../../../src/core/audit.ts';
import { alertGroups } from '../../shared/alert-store.ts';
import { spokenDuration } from '../../../src/core/durations.ts';
import { PeopleNames } from '../../shared/people.ts';
import type { IncidentRecord } from './store.ts';

/** Enough for a long incident; a report says so when the channel had more. */
export const MAX_AUDIT_ENTRIES = 2000;

export type EntryKind = 'incident' | 'command' | 'approval' | 'job' | 'alert';

export interface TimelineEntry {
  at: Date;
  kind: EntryKind;
  /** A person's name (resolved), or undefined for the alerting system. */
  who?: string;
  what: string;
  outcome?: string;
  failed: boolean;
}

export interface Timeline {
  entries: TimelineEntry[];
  /** The audit stream had more entries in the window than were read. */
  truncated: boolean;
  from: Date;
  to: Date;
}

/** The room's own verbs: their effect is in the record's events, with the text that was given. */
const ROOM_VERB = /^incident (declare|lead|update|sev|resolve|timeline)$/;
const FAILED = /^(error|failed|denied|rejected|invalid input|approval expired)/;

function commandLine(entry: StoredAuditEntry): string {
  const words = [entry.action];
  const args = entry.args as { args?: unknown; flags?: unknown } | undefined;
  if (Array.isArray(args?.args)) words.push(...args.args.map(String));
  if (args?.flags && typeof args.flags === 'object') {
    for (const [flag, value] of Object.entries(args.flags as Record<string, unknown>)) words.push(value === true ? `--${flag}` : `--${flag} ${String(value)}`);
  }
  return `/autostack ${words.join(' ')}`;
}

function fromAudit(entry: StoredAuditEntry, who: string): TimelineEntry | undefined {
  if (entry.action.startsWith('button ') || ROOM_VERB.test(entry.action)) return undefined;
  const at = new Date(entry.at);
  const failed = FAILED.test(entry.result);
  if (entry.action.startsWith('job ')) {
    const detail = entry.detail?.replace(/^[^:]*: /, '');
    return { at, kind: 'job', who, what: `${entry.action} (requested by ${who})`, outcome: detail ? `${entry.result}: ${detail}` : entry.result, failed };
  }
  if (/^(approve|reject) /.test(entry.action) || entry.result === 'approval requested' || entry.result === 'approval expired') {
    const verb = entry.action.replace(/^(approve|reject) /, '');
    return { at, kind: 'approval', who, what: `approval of ${verb}`, outcome: entry.result, failed };
  }
  return { at, kind: 'command', who, what: commandLine(entry), outcome: entry.detail ? `${entry.result}: ${entry.detail}` : entry.result, failed };
}

export async function collectTimeline(record: IncidentRecord, clients: Pick<Clients, 'redis' | 'notify'>, prefix: string, until: Date): Promise<Timeline> {
  const from = new Date(record.declaredAt);
  const names = new PeopleNames(clients, prefix);
  const audit = (await auditEntriesBetween(clients.redis, prefix, from, until, MAX_AUDIT_ENTRIES + 1)).filter((e) => e.channel === record.channel);
  const truncated = audit.length > MAX_AUDIT_ENTRIES;
  const people = await names.names([...audit.map((e) => e.actor), ...record.events.map((e) => e.by)]);
  const entries: TimelineEntry[] = [];
  for (const event of record.events) entries.push({ at: new Date(event.at), kind: 'incident', who: people.get(event.by), what: event.text, failed: false });
  for (const entry of audit.slice(0, MAX_AUDIT_ENTRIES)) {
    const converted = fromAudit(entry, people.get(entry.actor) ?? entry.actor);
    if (converted) entries.push(converted);
  }
  const store = alertGroups(clients.redis, prefix);
  const ids = new Set([...record.alertGroups, ...(await store.open()).map((g) => g.id)]);
  for (const id of ids) {
    const group = await store.get(id);
    if (!group) continue;
    const name = `${group.alertname}${group.severity ? ` (${group.severity})` : ''}`;
    entries.push({ at: new Date(group.openedAt), kind: 'alert', what: `alert ${name} firing${group.summary ? `: ${group.summary}` : ''}`, failed: true });
    if (group.status === 'resolved') entries.push({ at: new Date(group.updatedAt), kind: 'alert', what: `alert ${name} resolved`, failed: false });
  }
  entries.sort((a, b) => a.at.getTime() - b.at.getTime());
  return { entries, truncated, from, to: until };
}

/** "14:03:07" (UTC), with the date when the timeline spans more than a day. */
export function stamp(at: Date, withDate: boolean): string {
  const iso = at.toISOString();
  return withDate ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : iso.slice(11, 19);
}

export function timelineLine(entry: TimelineEntry, withDate: boolean): string {
  const mark = entry.kind === 'alert' ? (entry.failed ? '🔴' : '🟢') : entry.failed ? '✗' : '•';
  return `${stamp(entry.at, withDate)} ${mark} ${entry.who ? `${entry.who}: ` : ''}${entry.what}${entry.outcome ? ` → ${entry.outcome}` : ''}`;
}

function spansDays(timeline: Timeline): boolean {
  return timeline.from.toISOString().slice(0, 10) !== timeline.to.toISOString().slice(0, 10);
}

/** Markdown table cells: no pipes or line breaks from what people typed. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** The impact window: from the first firing alert (or the declaration, if earlier) to the resolution. */
export function impactWindow(record: IncidentRecord, timeline: Timeline): { start: Date; end: Date } {
  const firstAlert = timeline.entries.find((e) => e.kind === 'alert' && e.failed)?.at;
  const declared = new Date(record.declaredAt);
  const start = firstAlert && firstAlert < declared ? firstAlert : declared;
  return { start, end: record.resolvedAt ? new Date(record.resolvedAt) : timeline.to };
}

/** The post-incident report (Markdown): summary, impact window, timeline, commands and outcomes, follow-ups. */
export function postIncidentReport(record: IncidentRecord, timeline: Timeline, names: Map<string, string>): string {
  const withDate = spansDays(timeline);
  const name = (id: string) => names.get(id) ?? id;
  const window = impactWindow(record, timeline);
  const ran = timeline.entries.filter((e) => e.kind === 'command' || e.kind === 'job' || e.kind === 'approval');
  const failures = ran.filter((e) => e.failed);
  const lines = [
    `# Post-incident report: ${record.title}`,
    '',
    `- Severity: ${record.severity.toUpperCase()}`,
    `- Channel: #${record.name}`,
    `- Declared: ${record.declaredAt} by ${name(record.declaredBy)}`,
    `- Lead: ${name(record.lead)}`,
    `- Resolved: ${record.resolvedAt ?? 'not yet'}`,
    `- Impact window: ${window.start.toISOString()} to ${window.end.toISOString()} (${spokenDuration(window.end.getTime() - window.start.getTime())}), from the ${window.start.getTime() === Date.parse(record.declaredAt) ? 'declaration' : 'first firing alert'} to the resolution`,
    '',
    '## Summary',
    '',
    record.summary ?? '(no summary was given to `incident resolve`)',
    '',
    '## Timeline (UTC)',
    '',
    ...timeline.entries.map((e) => `- ${timelineLine(e, withDate)}`),
    ...(timeline.truncated ? ['', `(Only the first ${MAX_AUDIT_ENTRIES} audit entries of the window were read.)`] : []),
    '',
    '## Commands run and their outcomes',
    '',
    ...(ran.length === 0
      ? ['No command, approval or job was recorded in the incident channel.']
      : ['| Time (UTC) | Who | What | Outcome |', '|---|---|---|---|', ...ran.map((e) => `| ${stamp(e.at, withDate)} | ${cell(e.who ?? '')} | ${cell(e.what)} | ${cell(e.outcome ?? '')} |`)]),
    '',
    '## Follow-ups',
    '',
    ...failures.map((e) => `- [ ] Look into: ${e.what} → ${e.outcome ?? 'failed'} (${stamp(e.at, withDate)})`),
    '- [ ] Root cause, and the change that keeps it from happening again',
    '- [ ] Did an alert fire before people noticed? If not, which alert would have?',
    '',
  ];
  return lines.join('\n');
}
