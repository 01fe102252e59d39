/**
 * `logs <app>`: the logs of every pod of an app's Deployment (or one pod), each line prefixed with
 * its pod, merged in time order, redacted, optionally filtered by a plain substring. Replaces
 * `kubectl logs -n autostack deployment/app-name` (which shows one pod only).
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeClients } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import type { Part, Reply } from '../../src/core/result.ts';
import { podsOf } from './kube.ts';
import { readPodLog } from './kube-logs.ts';
import { redact } from './redact.ts';
import type { LogWindow, PodReach } from './log-window.ts';
import { lineTime, logWindow, podReach, windowText } from './log-window.ts';
import { utcTime } from './evidence.ts';
import { readAppWorkload } from './apps.ts';
import type { AppTarget } from './apps.ts';

export const DEFAULT_TAIL = 200;
export const MAX_TAIL = 5000;
/** More pods than this: ask for --pod rather than reading them all. */
export const MAX_PODS = 20;
/** Bytes read per container at most (the API cuts the log there). */
export const LIMIT_BYTES_PER_CONTAINER = 2 * 1024 * 1024;
/** Inline when it fits a message comfortably; otherwise a file in the thread. */
export const INLINE_MAX_LINES = 30;
export const INLINE_MAX_CHARS = 2500;
const PREVIEW_LINES = 10;

export interface LogsOptions {
  pod?: string;
  container?: string;
  sinceSeconds?: number;
  tail: number;
  grep?: string;
  previous: boolean;
}

export interface LogsResult {
  workload: string;
  kind: string;
  pods: string[];
  /** `[pod] line` (or `[pod/container] line` for pods with several containers), oldest first. */
  lines: string[];
  /** Lines read before --grep. */
  scanned: number;
  /** Per-pod remarks: no previous container, errors reading a pod. */
  notes: string[];
  /** How far back each pod's log was read (current containers; not for --previous). */
  reach: PodReach[];
}

interface Stamped {
  key: string;
  order: number;
  text: string;
}

/** `2025-11-10T03:12:01.5Z rest` → sortable key with a 9-digit fraction, and the text. */
export function splitTimestamp(line: string): { key: string; text: string } {
  const space = line.indexOf(' ');
  const stamp = space > 0 ? line.slice(0, space) : '';
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(stamp);
  if (!m) return { key: '', text: line };
  const fraction = (m[2] ?? '').padEnd(9, '0');
  let key = `${m[1]}.${fraction}`;
  if (m[3] !== 'Z') {
    const date = new Date(`${m[1]}${m[3]}`);
    key = `${date.toISOString().slice(0, 19)}.${fraction}`;
  }
  return { key, text: line.slice(space + 1) };
}

function containersOf(pod: V1Pod, wanted?: string): string[] {
  const names = (pod.spec?.containers ?? []).map((c) => c.name);
  if (wanted) {
    if (!names.includes(wanted)) throw new UserFacingError(`Pod ${pod.metadata?.name} has no container ${wanted} (containers: ${names.join(', ')}).`);
    return [wanted];
  }
  return names;
}

function restarts(pod: V1Pod, container: string): number {
  return pod.status?.containerStatuses?.find((s) => s.name === container)?.restartCount ?? 0;
}

/** Reads, merges, redacts and filters the logs. Never interprets --grep as a pattern. */
export async function collectLogs(kube: KubeClients, namespace: string, target: AppTarget, options: LogsOptions): Promise<LogsResult> {
  const { workload, object } = await readAppWorkload(kube, namespace, target);
  let pods = await podsOf(kube, namespace, object);
  if (options.pod) {
    const match = pods.find((p) => p.metadata?.name === options.pod);
    if (!match) {
      const names = pods.map((p) => p.metadata?.name).join(', ') || 'none';
      throw new UserFacingError(`Pod ${options.pod} is not a pod of ${workload.kind} ${workload.name} (its pods: ${names}).`);
    }
    pods = [match];
  }
  if (pods.length === 0) throw new UserFacingError(`${workload.kind} ${workload.name} has no pods in ${namespace}.`, 'Check its events: the pods may not have been scheduled.');
  if (pods.length > MAX_PODS) {
    throw new UserFacingError(`${workload.kind} ${workload.name} has ${pods.length} pods; pick one with --pod NAME (at most ${MAX_PODS} at once).`);
  }
  const needle = options.grep?.toLowerCase();
  const notes: string[] = [];
  const reach: PodReach[] = [];
  const stamped: Stamped[] = [];
  let scanned = 0;
  let order = 0;
  for (const pod of pods) {
    const name = pod.metadata?.name ?? '?';
    if (!pod.spec?.nodeName) {
      // Not on a node yet: no container ran, and the API answers a log request with 204 and no body.
      notes.push(`${name}: not scheduled to a node yet (${pod.status?.phase ?? 'Pending'}): it has no log`);
      continue;
    }
    const containers = containersOf(pod, options.container ?? (target.container && pod.spec?.containers?.some((c) => c.name === target.container) ? target.container : undefined));
    const results = await Promise.all(
      containers.map(async (container) => {
        try {
          const text = await readPodLog(kube, namespace, name, {
            container,
            previous: options.previous,
            sinceSeconds: options.sinceSeconds,
            tailLines: options.tail,
            limitBytes: LIMIT_BYTES_PER_CONTAINER,
            timestamps: true,
          });
          return { container, text, failed: false };
        } catch (error) {
          const restartCount = restarts(pod, container);
          const reason = (error as Error).message;
          notes.push(
            options.previous && restartCount === 0
              ? `${name}${containers.length > 1 ? `/${container}` : ''}: no previous container (it has not restarted)`
              : `${name}${containers.length > 1 ? `/${container}` : ''}: ${redact(reason)}`,
          );
          return { container, text: '', failed: true };
        }
      }),
    );
    for (const { container, text, failed } of results) {
      const prefix = containers.length > 1 ? `[${name}/${container}]` : `[${name}]`;
      if (options.previous && text) notes.push(`${prefix.slice(1, -1)}: previous container (restarts: ${restarts(pod, container)})`);
      const raw = text.endsWith('\n') ? text.slice(0, -1) : text;
      const split = raw ? raw.split('\n') : [];
      if (!options.previous && !failed) {
        const oldest = split.length > 0 ? lineTime(split[0]!) : undefined;
        reach.push({ ...podReach(pod, container), pod: prefix.slice(1, -1), ...(oldest ? { oldestLine: oldest } : {}), truncated: split.length >= options.tail || text.length >= LIMIT_BYTES_PER_CONTAINER });
      }
      for (const line of split) {
        scanned++;
        const { key, text: body } = splitTimestamp(line);
        const clean = redact(body);
        // Filter on the redacted text, so a search cannot probe for secret values.
        if (needle && !clean.toLowerCase().includes(needle)) continue;
        stamped.push({ key, order: order++, text: `${prefix} ${clean}` });
      }
    }
  }
  // Time order across pods; lines without a timestamp keep their place relative to their pod.
  stamped.sort((a, b) => (a.key && b.key && a.key !== b.key ? (a.key < b.key ? -1 : 1) : a.order - b.order));
  return {
    workload: workload.name,
    kind: workload.kind,
    pods: pods.map((p) => p.metadata?.name ?? '?'),
    lines: stamped.map((s) => s.text),
    scanned,
    notes,
    reach,
  };
}

function describeOptions(options: LogsOptions): string {
  const parts = [`last ${options.tail} lines per container`];
  if (options.sinceSeconds) parts.push(`since ${options.sinceSeconds}s ago`);
  if (options.previous) parts.push('previous (crashed) containers');
  if (options.grep) parts.push(`containing "${options.grep}"`);
  return parts.join(', ');
}

/** The span a search covered: since --since if every pod reaches back that far, else from where the logs begin. */
function searchWindow(result: LogsResult, options: LogsOptions, now: Date): LogWindow | undefined {
  if (options.previous || result.reach.length === 0) return undefined;
  const starts = result.reach.map((r) => r.oldestLine ?? r.started ?? now);
  const wanted = options.sinceSeconds ? new Date(now.getTime() - options.sinceSeconds * 1000) : new Date(Math.min(...starts.map((d) => d.getTime())));
  return logWindow(result.reach, wanted, now);
}

export function logsReply(result: LogsResult, options: LogsOptions, app: string, now: Date): Reply {
  const window = options.grep ? searchWindow(result, options, now) : undefined;
  const parts: Part[] = [
    { kind: 'heading', text: `Logs of ${app}` },
    { kind: 'fields', fields: [[result.kind, result.workload], ['Pods', result.pods.join(', ')], ['Showing', describeOptions(options)], ['Lines', `${result.lines.length}${options.grep ? ` of ${result.scanned}` : ''}`]] },
  ];
  if (window) parts.push({ kind: 'context', text: `${window.complete ? '' : ':warning: '}Searched: ${windowText(window, now)}${window.complete ? '' : '; earlier lines were not searched'}.` });
  for (const note of result.notes) parts.push({ kind: 'context', text: note });
  const summary = `${result.lines.length} log lines of ${app} from ${result.pods.length} pod${result.pods.length === 1 ? '' : 's'}`;
  if (result.lines.length === 0) {
    const since = window ? ` since ${utcTime(window.from, now)}` : '';
    parts.push({ kind: 'text', text: options.grep ? `No lines contain "${options.grep}"${since}.` : 'No log lines.' });
    return { summary, parts, visibility: 'channel' };
  }
  const text = result.lines.join('\n');
  if (result.lines.length <= INLINE_MAX_LINES && text.length <= INLINE_MAX_CHARS) {
    parts.push({ kind: 'code', text });
    return { summary, parts, visibility: 'channel' };
  }
  parts.push({ kind: 'text', text: `Last ${PREVIEW_LINES} lines (all ${result.lines.length} in the attached file):` });
  parts.push({ kind: 'code', text: result.lines.slice(-PREVIEW_LINES).join('\n').slice(-INLINE_MAX_CHARS) });
  return {
    summary,
    parts,
    visibility: 'channel',
    attachment: { filename: `${app}-logs${options.previous ? '-previous' : ''}.txt`, title: `Logs of ${app} (${describeOptions(options)})`, content: `${text}\n` },
  };
}
