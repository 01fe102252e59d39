/**
 * The `ratelimit top` reply: top offenders with their share, 429s per minute against the
 * runbook's alert threshold, the paths they hit, and a "Block" button per blockable offender.
 */
import type { Attachment, Button, Chart, Part, Reply } from '../../../src/core/result.ts';
import type { BlockRecord, EndedBlock } from '../../shared/block-records.ts';
import type { Config } from '../../../src/config.ts';
import type { RateLimitSummary } from './analyzer.ts';
import type { MinuteCount } from './minute-ring.ts';
import type { HeavyHitter } from './heavy-hitters.ts';
import { parseNetwork } from './address.ts';
import { checkBlock } from './policy.ts';
import type { PodLogOutcome } from './kube-logs.ts';
import { clockTime, utcTime } from '../../shared/evidence.ts';
import type { LogWindow } from '../../shared/log-window.ts';
import { windowText } from '../../shared/log-window.ts';

export const BLOCK_ACTION = 'ratelimit.block';
const MAX_BUTTONS = 5;
const MAX_MINUTE_ROWS = 20;

export interface TopContext {
  app: string;
  since: string;
  threshold: number;
  pods: PodLogOutcome[];
  config: Config;
  /** How far back the logs read reach. */
  window: LogWindow;
  now: Date;
  /** Where to look for what the window does not cover. */
  elsewhere?: string;
  /** Blocks in force: those made within the window are marked on the chart. */
  blocks?: BlockRecord[];
  /** Blocks lifted recently: their start and end within the window are marked on the chart. */
  ended?: EndedBlock[];
}

const number = (n: number) => n.toLocaleString('en-US');

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

function share(count: number, total: number): string {
  if (total === 0) return '0%';
  const pct = (count / total) * 100;
  return `${pct >= 10 ? pct.toFixed(0) : pct.toFixed(1)}%`;
}

/** "1,234" when exact, "≤1,234" when the entry may include counts of evicted keys. */
function countText(hit: HeavyHitter): string {
  return hit.error > 0 ? `≤${number(hit.count)} (≥${number(hit.count - hit.error)})` : number(hit.count);
}

function minuteText(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

export function blockButton(ip: string): Button {
  return { label: `Block ${ip}`, action: BLOCK_ACTION, value: ip, style: 'danger' };
}

/** A moment on the chart: a block made or lifted. */
interface BlockMoment {
  at: number;
  label: string;
}

function blockMoments(context: Pick<TopContext, 'blocks' | 'ended'>, from: number, to: number): BlockMoment[] {
  const made = [...(context.blocks ?? []), ...(context.ended ?? [])].map((b) => ({ at: Date.parse(b.at), label: `blocked ${b.cidr}` }));
  const lifted = (context.ended ?? []).map((b) => ({ at: Date.parse(b.endedAt), label: `unblocked ${b.cidr}` }));
  return [...made, ...lifted].filter((m) => m.at >= from && m.at <= to).sort((a, b) => a.at - b.at);
}

/**
 * 429s per minute over the window, all clients and each top offender, against the alert
 * threshold, with the moments blocks were made and lifted; none for fewer than two minutes (a
 * single point shows no shape).
 */
export function topChart(summary: Pick<RateLimitSummary, 'perMinute' | 'offenderMinutes' | 'offenderMinutesExact'>, context: Pick<TopContext, 'app' | 'since' | 'threshold' | 'blocks' | 'ended'>): Chart | undefined {
  const { perMinute } = summary;
  if (perMinute.length < 2) return undefined;
  const { app, since, threshold } = context;
  const first = perMinute[0]!.minuteMs;
  const last = perMinute.at(-1)!.minuteMs + 60_000;
  const moments = blockMoments(context, first, last);
  const peakOf = (minutes: MinuteCount[]) => minutes.reduce((best, m) => (m.count > best.count ? m : best));
  const peak = peakOf(perMinute);
  const over = perMinute.filter((m) => m.count > threshold).length;
  const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
  const offenders = summary.offenderMinutes.filter((o) => o.minutes.some((m) => m.count > 0));
  const approx = summary.offenderMinutesExact ? '' : '≈';
  const alt = [
    `429s per minute on ${app}, ${hhmm(first)} to ${hhmm(last)} UTC: peak ${number(peak.count)}/min at ${hhmm(peak.minuteMs)}`,
    `threshold ${threshold}/min ${over === 0 ? 'not exceeded' : `exceeded in ${over} minute${over === 1 ? '' : 's'}`}`,
    ...offenders.map((o) => {
      const top = peakOf(o.minutes);
      return `${o.key} peak ${approx}${number(top.count)}/min at ${hhmm(top.minuteMs)}`;
    }),
    ...moments.map((m) => `${m.label} at ${hhmm(m.at)}`),
  ].join('; ');
  const line = (name: string, minutes: MinuteCount[]) => ({ name, points: minutes.map((m) => ({ at: m.minuteMs, value: m.count })) });
  return {
    title: `429s per minute on ${app}, last ${since}`,
    yTitle: '429s per minute',
    series: [line('all clients', perMinute), ...offenders.map((o) => line(approx ? `${o.key} (${approx})` : o.key, o.minutes))],
    threshold: { value: threshold, label: `alert threshold ${threshold}/min` },
    markers: moments,
    alt: `${alt}.`,
  };
}

export function topReply(summary: RateLimitSummary, context: TopContext): Reply {
  const { app, since, threshold, window, now } = context;
  const covered = window.complete ? `in the last ${since}` : `since ${utcTime(window.from, now)} (logs reach back only to there)`;
  const podsRead = context.pods.filter((p) => !p.error).length;
  const parts: Part[] = [{ kind: 'heading', text: `429s on ${app}, last ${since}` }];
  const over = summary.perMinute.filter((m) => m.count > threshold);
  const peak = summary.perMinute.reduce<{ minuteMs: number; count: number } | undefined>((best, m) => (!best || m.count > best.count ? m : best), undefined);

  const fields: Array<readonly [string, string]> = [
    ['429 responses', number(summary.total429)],
    ['Logs read', `${size(summary.bytes)} from ${podsRead} pod${podsRead === 1 ? '' : 's'}`],
    ['Logs cover', window.complete ? `${clockTime(window.wanted, now)} to now` : `only since ${clockTime(window.from, now)} (${window.why ?? 'pods started then'})`],
  ];
  if (peak) fields.push(['Peak', `${number(peak.count)}/min at ${minuteText(peak.minuteMs)} UTC`]);
  fields.push(['Alert threshold', `${threshold}/min (runbook): ${over.length === 0 ? (window.complete ? 'not exceeded' : `not exceeded ${covered}`) : `exceeded in ${over.length} minute${over.length === 1 ? '' : 's'}`}`]);
  parts.push({ kind: 'fields', fields });

  if (summary.total429 === 0) {
    parts.push({ kind: 'text', text: `No HTTP 429 responses in the logs of ${app} ${covered}.` });
  } else {
    parts.push({ kind: 'text', text: '*Top offenders*' });
    parts.push({
      kind: 'table',
      columns: ['#', 'Client', '429s', 'Share'],
      rows: summary.offenders.map((hit, i) => [String(i + 1), hit.key, countText(hit), share(hit.count, summary.total429)]),
    });
    const minuteRows = (summary.perMinute.length <= MAX_MINUTE_ROWS ? summary.perMinute : over.slice(-MAX_MINUTE_ROWS)).map((m) => [
      minuteText(m.minuteMs),
      number(m.count),
      m.count > threshold ? `:rotating_light: over ${threshold}` : '',
    ]);
    if (minuteRows.length > 0) {
      parts.push({ kind: 'text', text: summary.perMinute.length <= MAX_MINUTE_ROWS ? '*429s per minute (UTC)*' : `*Minutes over ${threshold} 429s (UTC)*` });
      parts.push({ kind: 'table', columns: ['Minute', '429s', ''], rows: minuteRows });
    }
    const chart = topChart(summary, context);
    if (chart) parts.push({ kind: 'chart', chart });
    if (summary.paths.length > 0) {
      parts.push({ kind: 'text', text: '*Paths hit*' });
      parts.push({ kind: 'table', columns: ['Path', '429s', 'Share'], rows: summary.paths.map((p) => [p.key, countText(p), share(p.count, summary.total429)]) });
    }
  }

  const notes: string[] = [];
  if (!window.complete) notes.push(`:warning: ${windowText(window, now)}: nothing is known about 429s before that from these logs; ${context.elsewhere ?? 'read another source for earlier'}.`);
  if (!summary.exact) notes.push(`More than ${number(summary.clientCapacity)} distinct clients: the table kept the heaviest; counts marked ≤ are upper bounds (≥ the guaranteed part). Unmarked counts are exact.`);
  if (summary.unparseable > 0) notes.push(`${number(summary.unparseable)} line${summary.unparseable === 1 ? '' : 's'} containing "429" matched no known log format (ingress-nginx, nginx, uvicorn, JSON) and were not counted.`);
  if (summary.withoutClient > 0) notes.push(`${number(summary.withoutClient)} 429s named no client address.`);
  if (summary.withoutTime > 0) notes.push(`${number(summary.withoutTime)} 429s had no timestamp and are not in the per-minute view.`);
  if (summary.forwarded > 0 && !context.config.rateLimit.trustForwardedFor) {
    notes.push(`${number(summary.forwarded)} 429 lines carried X-Forwarded-For; it was ignored (rateLimit.trustForwardedFor is off). If every offender is a proxy address, enable it for a trusted proxy.`);
  }
  const failed = context.pods.filter((p) => p.error);
  if (failed.length > 0) notes.push(`Not counted completely: ${failed.map((p) => `${p.pod} (${p.error})`).join(', ')}.`);
  for (const note of notes) parts.push({ kind: 'context', text: note });

  const buttons = summary.offenders
    .filter((hit) => {
      const network = parseNetwork(hit.key);
      if (typeof network === 'string') return false;
      const check = checkBlock(network, context.config);
      return !check.refused && check.needsForce.length === 0;
    })
    .slice(0, MAX_BUTTONS)
    .map((hit) => blockButton(hit.key));
  if (buttons.length > 0) parts.push({ kind: 'buttons', buttons });

  const top = summary.offenders[0];
  const summaryText =
    summary.total429 === 0
      ? `No 429s on ${app} ${covered}`
      : `${number(summary.total429)} 429s on ${app} ${covered}; top ${top?.key ?? '?'} (${share(top?.count ?? 0, summary.total429)})${peak ? `; peak ${number(peak.count)}/min vs threshold ${threshold}/min` : ''}`;

  let attachment: Attachment | undefined;
  if (summary.perMinute.length > MAX_MINUTE_ROWS) {
    attachment = {
      filename: `ratelimit-${app}-per-minute.csv`,
      title: `429s per minute on ${app}`,
      content: ['minute_utc,count_429,over_threshold', ...summary.perMinute.map((m) => `${minuteText(m.minuteMs)},${m.count},${m.count > threshold}`)].join('\n') + '\n',
    };
  }
  return { summary: summaryText, parts, visibility: 'channel', ...(attachment ? { attachment } : {}) };
}
