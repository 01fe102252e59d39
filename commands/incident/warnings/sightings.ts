/**
 * What the watcher reports, read from the objects Kubernetes sends (pure): container states of
 * pods (CrashLoopBackOff, OOMKilled, ImagePullBackOff, ErrImagePull), Warning events
 * (FailedScheduling) and Job conditions (failed Jobs). Each reason has one source, so no
 * occurrence is counted twice: the kubelet's BackOff events repeat what the pod status says.
 */
import type { CoreV1Event, V1ContainerStatus, V1Job, V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import { redact } from '../../shared/redact.ts';

export const WARNING_REASONS = ['CrashLoopBackOff', 'OOMKilled', 'ImagePullBackOff', 'ErrImagePull', 'FailedScheduling', 'JobFailed'] as const;
export type WarningReason = (typeof WARNING_REASONS)[number];

/** Warning events older than this when first listed are history, not news. */
export const EVENT_WINDOW_MS = 3_600_000;
const MAX_MESSAGE = 300;

/** The object a sighting is about, as far as it tells who owns it. */
export interface SeenObject {
  kind: string;
  name: string;
  /** Its owners, when the object itself was read (a pod from the pod watch); unknown for an event's subject. */
  owners?: V1OwnerReference[];
}

/** One warning as Kubernetes reports it. */
export interface Sighting {
  /** What was seen, stably (a pod's container and reason, an event, a Job). */
  source: string;
  /** How many times it happened so far, as Kubernetes counts it (restarts, an event's count); grows when it happens again. */
  count: number;
  reason: WarningReason;
  object: SeenObject;
  /** The pod it happened to, if any. */
  pod?: string;
  /** Kubernetes' own words, secrets redacted. */
  message: string;
  at: Date;
}

type Stamp = Date | string | undefined | null;

function when(...stamps: Stamp[]): Date | undefined {
  for (const stamp of stamps) {
    if (!stamp) continue;
    const at = stamp instanceof Date ? stamp : new Date(stamp);
    if (!Number.isNaN(at.getTime())) return at;
  }
  return undefined;
}

function words(text: string | undefined, fallback: string): string {
  return redact(text?.trim() || fallback).slice(0, MAX_MESSAGE);
}

const WAITING: ReadonlySet<string> = new Set<WarningReason>(['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull']);

function containerSightings(pod: V1Pod, status: V1ContainerStatus, object: SeenObject, now: Date): Sighting[] {
  const podName = pod.metadata?.name ?? '';
  const uid = pod.metadata?.uid ?? podName;
  const restarts = status.restartCount ?? 0;
  const found: Sighting[] = [];
  const waiting = status.state?.waiting;
  if (waiting?.reason && WAITING.has(waiting.reason)) {
    const reason = waiting.reason as WarningReason;
    // Each back-off follows a restart: the restart count is what grows; an image that cannot be pulled is one occurrence per container.
    const count = reason === 'CrashLoopBackOff' ? Math.max(1, restarts) : 1;
    found.push({ source: `pod/${uid}/${status.name}/${reason}`, count, reason, object, pod: podName, message: words(waiting.message, `container ${status.name}: ${reason}`), at: now });
  }
  // The container's current run ended OOMKilled (counted as the next restart), or its last one did.
  const current = status.state?.terminated;
  const last = status.lastState?.terminated;
  const oom = current?.reason === 'OOMKilled' ? { ended: current, count: restarts + 1 } : last?.reason === 'OOMKilled' ? { ended: last, count: restarts } : undefined;
  if (oom) {
    found.push({
      source: `pod/${uid}/${status.name}/OOMKilled`,
      count: Math.max(1, oom.count),
      reason: 'OOMKilled',
      object,
      pod: podName,
      message: words(oom.ended.message, `container ${status.name} was killed for using more memory than its limit (exit ${oom.ended.exitCode})`),
      at: when(oom.ended.finishedAt) ?? now,
    });
  }
  return found;
}

/** The warnings in a pod's container states. */
export function podSightings(pod: V1Pod, now: Date): Sighting[] {
  const object: SeenObject = { kind: 'Pod', name: pod.metadata?.name ?? '', owners: pod.metadata?.ownerReferences ?? [] };
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return statuses.flatMap((status) => containerSightings(pod, status, object, now));
}

/** A Warning event the watcher reports (FailedScheduling), unless it is older than EVENT_WINDOW_MS. */
export function eventSighting(event: CoreV1Event, now: Date): Sighting | undefined {
  if (event.type !== 'Warning' || event.reason !== 'FailedScheduling') return undefined;
  const at = when(event.lastTimestamp, event.series?.lastObservedTime, event.eventTime as Stamp, event.firstTimestamp, event.metadata?.creationTimestamp) ?? now;
  if (now.getTime() - at.getTime() > EVENT_WINDOW_MS) return undefined;
  const subject = event.involvedObject ?? {};
  const name = subject.name ?? '';
  return {
    source: `event/${event.metadata?.uid ?? event.metadata?.name ?? ''}`,
    count: Math.max(1, event.series?.count ?? event.count ?? 1),
    reason: 'FailedScheduling',
    object: { kind: subject.kind ?? 'Pod', name },
    pod: subject.kind === 'Pod' ? name : undefined,
    message: words(event.message, 'the scheduler found no node for the pod'),
    at,
  };
}

/** A Job whose Failed condition is true. */
export function jobSighting(job: V1Job, now: Date): Sighting | undefined {
  const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  if (!failed) return undefined;
  const name = job.metadata?.name ?? '';
  return {
    source: `job/${job.metadata?.uid ?? name}`,
    count: 1,
    reason: 'JobFailed',
    object: { kind: 'Job', name, owners: job.metadata?.ownerReferences ?? [] },
    message: words([failed.reason, failed.message].filter(Boolean).join(': '), 'the Job failed'),
    at: when(failed.lastTransitionTime) ?? now,
  };
}
