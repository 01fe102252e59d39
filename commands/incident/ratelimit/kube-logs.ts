/**
 * Streams the logs of a Deployment's pods into writables, one stream per pod, without buffering
 * them: the Kubernetes log endpoint's response body is piped straight into the analyzer.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Writable } from 'node:stream';
import type { KubeClients } from '../../../src/core/types.ts';
import { apiError, podsOf, readDeployment } from '../../shared/kube.ts';
import { openPodLog } from '../../shared/kube-logs.ts';

export interface PodLogOptions {
  namespace: string;
  deployment: string;
  /** Container to read; default: the pod's first container. */
  container?: string;
  sinceSeconds: number;
  /** Pods read at the same time. */
  concurrency?: number;
  /** Give up on one pod's stream after this long (the rest of its log is not counted). */
  perPodTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface PodLogOutcome {
  pod: string;
  /** Set when the pod's log could not be read completely. */
  error?: string;
}

/** HTTP status of a Kubernetes client error, when it has one. */
export function kubeStatus(error: unknown): number | undefined {
  return apiError(error).code;
}

/** The pods of a Deployment (found through its selector), running or not. */
export async function deploymentPods(kube: KubeClients, namespace: string, deployment: string): Promise<V1Pod[]> {
  return podsOf(kube, namespace, await readDeployment(kube, namespace, deployment));
}

/**
 * Reads each pod's log (the last `sinceSeconds`, with Kubernetes timestamps) into the writable
 * `sink(pod)` returns. Resolves when every stream ended; a pod whose log failed is reported in its
 * outcome, not thrown, so the other pods still count.
 */
export async function streamPodLogs(kube: KubeClients, pods: V1Pod[], options: PodLogOptions, sink: (pod: string) => Writable): Promise<PodLogOutcome[]> {
  const queue = pods.slice();
  const outcomes: PodLogOutcome[] = [];
  const concurrency = Math.max(1, options.concurrency ?? 4);

  const readOne = async (pod: V1Pod): Promise<PodLogOutcome> => {
    const name = pod.metadata?.name ?? '?';
    const container = options.container ?? pod.spec?.containers?.[0]?.name;
    if (!container) return { pod: name, error: 'no container' };
    const writable = sink(name);
    let controller: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;
    const stop = () => controller?.abort();
    options.signal?.addEventListener('abort', stop, { once: true });
    try {
      const opened = await openPodLog(kube, options.namespace, name, container, writable, {
        follow: false,
        sinceSeconds: Math.max(1, Math.round(options.sinceSeconds)),
        timestamps: true,
      });
      controller = opened.controller;
      if (options.signal?.aborted) controller.abort();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller?.abort();
          reject(new Error(`stopped after ${Math.round((options.perPodTimeoutMs ?? 120_000) / 1000)}s`));
        }, options.perPodTimeoutMs ?? 120_000);
      });
      await Promise.race([opened.done, timeout]);
      return { pod: name };
    } catch (error) {
      const status = kubeStatus(error);
      if (status === 400 || status === 404) return { pod: name, error: `no log (${status === 404 ? 'pod gone' : 'container not started'})` };
      return { pod: name, error: options.signal?.aborted ? 'cancelled' : (error as Error).message.split('\n')[0]! };
    } finally {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', stop);
    }
  };

  const workers = Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
    for (let pod = queue.shift(); pod; pod = queue.shift()) outcomes.push(await readOne(pod));
  });
  await Promise.all(workers);
  return outcomes.sort((a, b) => a.pod.localeCompare(b.pod));
}
