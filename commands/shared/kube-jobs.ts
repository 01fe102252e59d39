/** One-off Kubernetes Jobs (a migration, a restore step): run, follow the log, report the exit code. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { KubeClients } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { apiError, isConflict, isNotFound, kubeFailure, time } from './kube.ts';
import { streamPodLog } from './kube-logs.ts';


export interface RunJobOptions {
  /** How long to wait for the Job to finish. */
  timeoutMs: number;
  pollMs?: number;
  signal?: AbortSignal;
  /** Each log line of the Job's pod, as it arrives. */
  onLine?(line: string): void | Promise<void>;
  /** Progress messages (pod scheduled, container started, ...). */
  onProgress?(message: string): void | Promise<void>;
}

export interface JobOutcome {
  name: string;
  succeeded: boolean;
  timedOut: boolean;
  /** Exit code of the Job's (first) container, when it terminated. */
  exitCode?: number;
  /** Why it failed: Job condition reason/message, container waiting reason, or timeout. */
  reason?: string;
  pod?: string;
  deleted: boolean;
}

/** Container states that never resolve by waiting. */
const STUCK_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError']);

async function jobPods(kube: KubeClients, namespace: string, job: V1Job): Promise<V1Pod[]> {
  const name = job.metadata?.name ?? '';
  const uid = job.metadata?.uid;
  for (const labelSelector of [`batch.kubernetes.io/job-name=${name}`, `job-name=${name}`]) {
    const list = await kube.core.listNamespacedPod({ namespace, labelSelector });
    if (list.items.length) return list.items;
  }
  if (!uid) return [];
  const all = await kube.core.listNamespacedPod({ namespace });
  return all.items.filter((p) => (p.metadata?.ownerReferences ?? []).some((o) => o.uid === uid));
}

function jobFinished(job: V1Job): { done: boolean; succeeded: boolean; reason?: string } {
  const conditions = job.status?.conditions ?? [];
  const complete = conditions.find((c) => (c.type === 'Complete' || c.type === 'SuccessCriteriaMet') && c.status === 'True');
  if (complete) return { done: true, succeeded: true };
  const failed = conditions.find((c) => (c.type === 'Failed' || c.type === 'FailureTarget') && c.status === 'True');
  if (failed) return { done: true, succeeded: false, reason: [failed.reason, failed.message].filter(Boolean).join(': ') || 'Failed' };
  const completions = job.spec?.completions ?? 1;
  if ((job.status?.succeeded ?? 0) >= completions) return { done: true, succeeded: true };
  if ((job.status?.failed ?? 0) > (job.spec?.backoffLimit ?? 6)) return { done: true, succeeded: false, reason: 'BackoffLimitExceeded' };
  return { done: false, succeeded: false };
}

function terminatedExitCode(pod: V1Pod | undefined): number | undefined {
  const statuses = pod?.status?.containerStatuses ?? [];
  for (const status of statuses) {
    const code = status.state?.terminated?.exitCode ?? status.lastState?.terminated?.exitCode;
    if (code !== undefined) return code;
  }
  return undefined;
}

function containerStarted(pod: V1Pod): boolean {
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return true;
  return (pod.status?.containerStatuses ?? []).some((s) => s.state?.running || s.state?.terminated);
}

function stuckReason(pod: V1Pod): string | undefined {
  for (const status of pod.status?.containerStatuses ?? []) {
    const waiting = status.state?.waiting;
    if (waiting?.reason && STUCK_REASONS.has(waiting.reason)) return `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`;
  }
  return undefined;
}

export async function deleteJob(kube: KubeClients, namespace: string, name: string): Promise<boolean> {
  try {
    await kube.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' });
    return true;
  } catch (error) {
    if (isNotFound(error)) return true;
    return false;
  }
}

/**
 * Creates the Job, streams its pod's log while it runs, waits for it to complete or fail and
 * reports the container's exit code. A Job stuck on an image or configuration error is stopped
 * (deleted) rather than waited out. Once it succeeded or failed, and its log was read, the Job is
 * deleted with propagationPolicy Background; one still running at the timeout is left to its TTL.
 */
export async function runJob(kube: KubeClients, namespace: string, spec: V1Job, options: RunJobOptions): Promise<JobOutcome> {
  const deadline = Date.now() + options.timeoutMs;
  const pollMs = options.pollMs ?? 1000;
  let job: V1Job;
  try {
    job = await kube.batch.createNamespacedJob({ namespace, body: spec });
  } catch (error) {
    if (isConflict(error)) throw new UserFacingError(`Job ${spec.metadata?.name} already exists in ${namespace}; nothing was started.`);
    throw kubeFailure(`creating Job ${spec.metadata?.name ?? ''}`, error);
  }
  const name = job.metadata?.name ?? spec.metadata?.name ?? '?';
  await options.onProgress?.(`Job ${name} created`);
  const outcome: JobOutcome = { name, succeeded: false, timedOut: false, deleted: false };
  const finish = async (result: JobOutcome, remove: boolean): Promise<JobOutcome> => {
    if (remove) result.deleted = await deleteJob(kube, namespace, name);
    return result;
  };

  // The log is followed in the background while the Job is polled: the stream ends with the
  // container, and is cut a little after the Job finished if it has not ended by then.
  const streamAbort = new AbortController();
  const streamSignal = options.signal ? AbortSignal.any([streamAbort.signal, options.signal]) : streamAbort.signal;
  let streaming: Promise<void> | undefined;
  const stopStreaming = async (graceMs: number) => {
    if (!streaming) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([streaming, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    streamAbort.abort();
    await streaming;
  };
  let started = false;
  let podName: string | undefined;
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      let current: V1Job;
      try {
        current = await kube.batch.readNamespacedJob({ name, namespace });
      } catch (error) {
        throw kubeFailure(`reading Job ${name}`, error);
      }
      const pods = await jobPods(kube, namespace, current);
      const pod = pods.sort((a, b) => time(b.metadata?.creationTimestamp) - time(a.metadata?.creationTimestamp))[0];
      if (pod && pod.metadata?.name !== podName) {
        podName = pod.metadata?.name;
        outcome.pod = podName;
        await options.onProgress?.(`pod ${podName} created`);
      }
      if (pod && !started) {
        const stuck = stuckReason(pod);
        if (stuck) return await finish({ ...outcome, reason: `pod ${podName} cannot start: ${stuck}` }, true);
        if (containerStarted(pod)) {
          started = true;
          if (options.onLine) {
            const onLine = options.onLine;
            streaming = streamPodLog(kube, namespace, podName!, onLine, { follow: true, signal: streamSignal }).catch(async (error: unknown) => {
              await options.onProgress?.(`log stream interrupted: ${apiError(error).message}`);
            });
          }
        }
      }
      const state = jobFinished(current);
      if (state.done) {
        await stopStreaming(5000);
        const finalPod = podName ? await kube.core.readNamespacedPod({ name: podName, namespace }).catch(() => pod) : pod;
        const exitCode = terminatedExitCode(finalPod);
        const result: JobOutcome = { ...outcome, succeeded: state.succeeded, exitCode, reason: state.reason };
        // Finished either way: its log has been read, so the Job is cleaned up.
        return await finish(result, true);
      }
      if (Date.now() >= deadline) {
        await stopStreaming(0);
        // It may still be running: deleting it would kill a migration half way. Its TTL removes it.
        return await finish({ ...outcome, timedOut: true, reason: `not finished after ${Math.round(options.timeoutMs / 1000)}s` }, false);
      }
      await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), undefined, { signal: options.signal });
    }
  } finally {
    streamAbort.abort();
    await streaming;
  }
}
