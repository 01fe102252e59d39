/**
 * What a triage step's reply shows, as one claim with the window it covers, and the runbook's next
 * decision when the evidence calls for one. The readers read the reply exactly as it was posted in
 * the thread (its summary and parts), so a claim never says more than the step showed; a reply a
 * reader does not recognize is quoted by its summary.
 */
import type { Button, Part, Reply } from '../../../src/core/result.ts';
import { plainText } from '../../../src/core/text.ts';

export interface StepResult {
  /** 1-based, in the plan's order. */
  index: number;
  /** The command line as typed after /autostack. */
  command: string;
  /** The verb it ran (e.g. 'ratelimit top'), when it resolved to one. */
  verb?: string;
  outcome: 'ok' | 'failed' | 'timeout';
  reply?: Reply;
  /** Why it failed or what timed out. */
  error?: string;
  /** When the step ran (ISO). */
  at: string;
}

export interface Claim {
  /** True: the evidence shows a fault; false: it shows none; undefined: neither (a fact, or no evidence). */
  fault: boolean | undefined;
  text: string;
  /** Step number it comes from. */
  step: number;
  /** What the evidence covers (a log window, or the moment a state was read). */
  window: string;
}

export const DECISIONS = {
  rollback: 'triage.rollback',
  dbRestart: 'triage.db.restart',
  unlock: 'triage.tf.unlock',
} as const;

/** The ratelimit area's own "Block <ip>" buttons are reused as they are: they request `ratelimit block`. */
const MAX_BLOCK_BUTTONS = 3;

function utc(iso: string): string {
  return `${iso.slice(11, 19)} UTC`;
}

function partTexts(reply: Reply): string[] {
  return reply.parts.flatMap((p: Part) => (p.kind === 'text' || p.kind === 'context' ? [plainText(p.text)] : p.kind === 'heading' ? [p.text] : []));
}

function tables(reply: Reply): Array<{ columns: string[]; rows: string[][] }> {
  return reply.parts.flatMap((p) => (p.kind === 'table' ? [{ columns: p.columns, rows: p.rows }] : []));
}

type Reader = (step: StepResult & { reply: Reply }, words: string[]) => { claims: Array<Omit<Claim, 'step'>>; decisions: Button[] };

const statusReader: Reader = ({ reply, at }) => {
  const crashing = /, crashing;/.test(reply.summary);
  return { claims: [{ fault: crashing || /failed|ProgressDeadlineExceeded/i.test(reply.summary) ? true : false, text: crashing ? `${reply.summary} (pods restarting: crash loop)` : reply.summary, window: `pods as read at ${utc(at)}` }], decisions: [] };
};

const logsReader: Reader = ({ reply, at }, words) => {
  const count = Number(/^(\d+) log lines/.exec(reply.summary)?.[1] ?? NaN);
  const grepAt = words.indexOf('--grep');
  const grep = grepAt >= 0 ? words[grepAt + 1] : undefined;
  const searched = partTexts(reply).find((t) => /Searched: /.test(t));
  const window = searched ? searched.replace(/^:warning: /, '').replace(/^Searched: /, '').replace(/\.$/, '') : `logs as read at ${utc(at)}`;
  const app = words[1] ?? '';
  if (!grep || Number.isNaN(count)) return { claims: [{ fault: undefined, text: reply.summary, window }], decisions: [] };
  return {
    claims: [{ fault: count > 0, text: count === 0 ? `no log line of ${app} contains "${grep}"` : count === 1 ? `1 log line of ${app} contains "${grep}"` : `${count} log lines of ${app} contain "${grep}"`, window }],
    decisions: [],
  };
};

/** The live revision and the one before it, from the history table ("2 ◀ live"). */
function revisions(reply: Reply): { live?: number; previous?: number } {
  const table = tables(reply).find((t) => t.columns[0] === 'revision');
  if (!table) return {};
  const numbers = table.rows.map((r) => ({ revision: Number(/^\d+/.exec(r[0] ?? '')?.[0] ?? NaN), live: (r[0] ?? '').includes('live') })).filter((r) => !Number.isNaN(r.revision));
  const live = numbers.find((r) => r.live)?.revision;
  const previous = live === undefined ? undefined : Math.max(...numbers.filter((r) => r.revision < live).map((r) => r.revision), -Infinity);
  return { live, previous: previous === -Infinity ? undefined : previous };
}

const historyReader: Reader = ({ reply, at }, words) => {
  const app = words[1] ?? '';
  const { live, previous } = revisions(reply);
  const text = live === undefined ? reply.summary : `${app} runs revision ${live}${previous !== undefined ? `; the one before is revision ${previous}` : '; there is no earlier revision'}`;
  const decisions: Button[] =
    previous !== undefined
      ? [{ label: `Roll back ${app} to revision ${previous}`, action: DECISIONS.rollback, value: JSON.stringify({ app, revision: previous }), style: 'danger' }]
      : [];
  return { claims: [{ fault: undefined, text, window: `rollout history as read at ${utc(at)}` }], decisions };
};

const rateLimitReader: Reader = ({ reply }) => {
  const none = /^No 429s on (\S+) (.*)$/.exec(reply.summary);
  if (none) return { claims: [{ fault: false, text: `no HTTP 429 answers on ${none[1]}`, window: none[2]! }], decisions: [] };
  const hits = /^([\d,]+) 429s on (\S+) (.*?); top (\S+) \(([^)]+)\)/.exec(reply.summary);
  if (!hits) return { claims: [{ fault: undefined, text: reply.summary, window: 'see the step' }], decisions: [] };
  const blocks = reply.parts.flatMap((p) => (p.kind === 'buttons' ? p.buttons : [])).filter((b) => b.label.startsWith('Block ')).slice(0, MAX_BLOCK_BUTTONS);
  return { claims: [{ fault: true, text: `${hits[1]} HTTP 429 answers on ${hits[2]}; top offender ${hits[4]} (${hits[5]})`, window: hits[3]! }], decisions: blocks };
};

const oauthReader: Reader = ({ reply, at }) => {
  const failed = /: (\d+) checks? failed/.exec(reply.summary);
  const logLine = partTexts(reply).find((t) => /oauth_state/.test(t));
  return {
    claims: [
      { fault: Boolean(failed), text: reply.summary, window: `redirect checked at ${utc(at)}` },
      ...(logLine ? [{ fault: logLine.startsWith('✗') ? true : logLine.startsWith('✓') ? false : undefined, text: logLine.replace(/^[✗✓–] /, ''), window: 'the backend logs the step read' }] : []),
    ],
    decisions: [],
  };
};

const dbReader: Reader = ({ reply, at }) => {
  const failed = /^Database check failed/.test(reply.summary);
  const over = /above the 90% alert/.test(reply.summary);
  return {
    claims: [{ fault: failed || over, text: reply.summary, window: `connection attempt at ${utc(at)}` }],
    decisions: failed ? [{ label: 'Restart the database', action: DECISIONS.dbRestart, value: 'restart', style: 'danger' }] : [],
  };
};

/** Each locked state: its heading ("default: s3://…") followed by ":lock: locked by *who*" and its Age field. */
const tfLockReader: Reader = ({ reply, at }) => {
  const claims: Array<Omit<Claim, 'step'>> = [];
  const decisions: Button[] = [];
  let state: string | undefined;
  let who: string | undefined;
  for (const part of reply.parts) {
    if (part.kind === 'heading') {
      state = /^([^:]+): /.exec(part.text)?.[1];
      who = undefined;
    } else if (part.kind === 'text' && state) {
      who = /^:lock: locked by \*(.*)\*$/.exec(plainText(part.text))?.[1] ?? who;
    } else if (part.kind === 'fields' && state && who !== undefined) {
      const age = part.fields.find(([label]) => label === 'Age')?.[1];
      const id = part.fields.find(([label]) => label === 'Lock ID')?.[1];
      claims.push({ fault: true, text: `state ${state} is locked by ${who} for ${age ? plainText(age) : 'an unknown time'} (lock ${id ? plainText(id) : '?'})`, window: `lock read at ${utc(at)}` });
      decisions.push({ label: `Unlock ${state}`, action: DECISIONS.unlock, value: state, style: 'danger' });
      who = undefined;
    }
  }
  if (claims.length === 0) claims.push({ fault: /^No Terraform state lock held/.test(reply.summary) ? false : undefined, text: reply.summary, window: `locks read at ${utc(at)}` });
  return { claims, decisions };
};

const READERS: Record<string, Reader> = {
  status: statusReader,
  logs: logsReader,
  history: historyReader,
  'ratelimit top': rateLimitReader,
  'oauth check': oauthReader,
  'db check': dbReader,
  'tf lock': tfLockReader,
};

/** The claims and decisions of one step; a step that failed or timed out is a claim of its own. */
export function readStep(step: StepResult): { claims: Claim[]; decisions: Button[] } {
  if (step.outcome !== 'ok' || !step.reply) {
    const text = step.outcome === 'timeout' ? `\`${step.command}\` timed out: ${step.error}` : `\`${step.command}\` failed: ${step.error ?? 'no answer'}`;
    return { claims: [{ fault: undefined, text, step: step.index, window: `no evidence (started ${utc(step.at)})` }], decisions: [] };
  }
  if (step.reply.error) return { claims: [{ fault: undefined, text: `\`${step.command}\` answered with an error: ${step.reply.summary}`, step: step.index, window: `at ${utc(step.at)}` }], decisions: [] };
  const reader = step.verb ? READERS[step.verb] : undefined;
  const words = step.command.split(/\s+/);
  const read = reader ? reader(step as StepResult & { reply: Reply }, words) : { claims: [{ fault: undefined, text: step.reply.summary, window: `at ${utc(step.at)}` }], decisions: [] };
  return { claims: read.claims.map((c) => ({ ...c, step: step.index })), decisions: read.decisions };
}
