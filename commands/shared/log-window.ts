/**
 * How far back a log-based answer's evidence reaches. A pod's log holds its current container's
 * output only: a restarted container's earlier output and pods that are gone are not read, and a
 * `--tail` cut drops what is older than the oldest line read. An answer states this window and
 * makes no negative claim ("none", "not exceeded") before it.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import { clockTime } from './evidence.ts';

export interface PodReach {
  pod: string;
  /** When the container whose log was read started (its log begins there). */
  started?: Date;
  /** The oldest line read, when lines carried timestamps. */
  oldestLine?: Date;
  /** The read was cut by a line or byte limit: nothing older than oldestLine was read. */
  truncated?: boolean;
  restarts: number;
}

export interface LogWindow {
  /** Start of the period asked about. */
  wanted: Date;
  /** From here on every pod's log was read; equal to `wanted` when the whole period is covered. */
  from: Date;
  complete: boolean;
  /** Why it starts later: "pods started or restarted", "output cut at the line limit". */
  why?: string;
  pods: PodReach[];
}

function date(value: Date | string | undefined): Date | undefined {
  if (!value) return undefined;
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** The start of the container's current run (where `kubectl logs` without --previous begins). */
export function containerStart(pod: V1Pod, container?: string): { started?: Date; restarts: number } {
  const statuses = pod.status?.containerStatuses ?? [];
  const status = (container ? statuses.find((s) => s.name === container) : undefined) ?? statuses[0];
  const started = date(status?.state?.running?.startedAt) ?? date(status?.state?.terminated?.startedAt) ?? date(pod.status?.startTime) ?? date(pod.metadata?.creationTimestamp);
  return { started, restarts: status?.restartCount ?? 0 };
}

/** A pod's reach before reading: from its container's start. */
export function podReach(pod: V1Pod, container?: string): PodReach {
  return { pod: pod.metadata?.name ?? '?', ...containerStart(pod, container) };
}

/** Where one pod's evidence begins: its oldest line if the read was cut, else its container's start (or an older line). */
function reachOf(p: PodReach): Date | undefined {
  if (p.truncated && p.oldestLine) return p.oldestLine;
  if (p.started && p.oldestLine) return p.oldestLine < p.started ? p.oldestLine : p.started;
  return p.started ?? p.oldestLine;
}

export function logWindow(pods: PodReach[], wanted: Date, now: Date): LogWindow {
  let from = wanted;
  let why: string | undefined;
  for (const p of pods) {
    const reach = reachOf(p) ?? now;
    if (reach > from) {
      from = reach;
      why = p.truncated && p.oldestLine && reach === p.oldestLine ? 'the read stopped at its line limit' : p.restarts > 0 ? 'pods restarted' : 'pods started then';
    }
  }
  return { wanted, from, complete: from <= wanted, ...(why ? { why } : {}), pods };
}

/** "logs cover 06:31 UTC (1h ago) to now" or "logs reach back only to 07:31 UTC (2m ago) (pods restarted)". */
export function windowText(window: LogWindow, now: Date): string {
  if (window.complete) return `logs cover ${clockTime(window.wanted, now)} to now`;
  return `logs reach back only to ${clockTime(window.from, now)} (${window.why ?? 'pods started then'}), not to ${clockTime(window.wanted, now)}`;
}

/** The Kubernetes timestamp (`--timestamps`) at the start of a log line, if it has one. */
export function lineTime(line: string): Date | undefined {
  const stamp = line.slice(0, Math.max(0, line.indexOf(' ')));
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.test(stamp)) return undefined;
  return date(stamp);
}

/**
 * A Writable that passes a log stream on to `target` and reports the timestamp of its first line
 * (the oldest read). Errors of `target` end this stream with the same error.
 */
export function oldestLineTap(target: Writable, onOldest: (at: Date) => void): Writable {
  let first = true;
  target.once('error', (error) => tap.destroy(error));
  const tap: Writable = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      if (first) {
        first = false;
        const at = lineTime(String(chunk).slice(0, 64));
        if (at) onOldest(at);
      }
      target.write(chunk, callback);
    },
    final(callback) {
      target.end(() => callback());
    },
  });
  return tap;
}
