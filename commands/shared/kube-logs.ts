/** Pod logs: read once, or streamed line by line with `pipeline` semantics and a quiet abort. */
import { Writable } from 'node:stream';
import { Log } from '@kubernetes/client-node';
import type { KubeClients } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { kubeFailure } from './kube.ts';


export interface LogReadOptions {
  container?: string;
  previous?: boolean;
  sinceSeconds?: number;
  tailLines?: number;
  limitBytes?: number;
  /** Prefix each line with the RFC 3339 time the runtime received it. */
  timestamps?: boolean;
}

const NO_CONTENT = /^Cannot parse content\. No Content-Type defined\.$/;

/** Reads a container's log (not following). Throws UserFacingError with the API's message. */
export async function readPodLog(kube: KubeClients, namespace: string, pod: string, options: LogReadOptions = {}): Promise<string> {
  try {
    return await kube.core.readNamespacedPodLog({
      name: pod,
      namespace,
      container: options.container,
      previous: options.previous || undefined,
      sinceSeconds: options.sinceSeconds,
      tailLines: options.tailLines,
      limitBytes: options.limitBytes,
      timestamps: options.timestamps || undefined,
    });
  } catch (error) {
    const what = `logs of pod ${pod}${options.container ? ` (container ${options.container})` : ''}${options.previous ? ' (previous container)' : ''}`;
    // The client cannot parse the API's 204 (no body), its answer for a pod not yet on a node.
    if (error instanceof Error && NO_CONTENT.test(error.message)) throw new UserFacingError(`${what}: Kubernetes answered without a log (the pod has not been scheduled to a node yet)`);
    throw kubeFailure(what, error);
  }
}

/** A Writable that calls `onLine` for each complete line (lines longer than `maxLine` are cut). */
export function lineSink(onLine: (line: string) => void | Promise<void>, maxLine = 16_384): Writable {
  let partial = '';
  let overflow = false;
  const decoder = new TextDecoder();
  const emit = async (line: string) => {
    await onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  };
  return new Writable({
    async write(chunk: Buffer | string, _enc, callback) {
      try {
        const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
        let start = 0;
        for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', start)) {
          const piece = text.slice(start, i);
          const line = overflow ? partial : partial + piece;
          partial = '';
          overflow = false;
          await emit(line.length > maxLine ? line.slice(0, maxLine) : line);
          start = i + 1;
        }
        if (!overflow) {
          partial += text.slice(start);
          if (partial.length > maxLine) {
            partial = partial.slice(0, maxLine);
            overflow = true;
          }
        }
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    async final(callback) {
      try {
        partial += decoder.decode();
        if (partial) await emit(partial);
        partial = '';
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}

/** What the log endpoint is asked for (the client's LogOptions). */
export type PodLogRequest = LogReadOptions & { follow?: boolean };

/**
 * Opens a container's log into `writable`. The client pipes the response body into it with
 * pipe(), which does not forward the body's errors: an aborted or broken response would emit an
 * 'error' nobody listens to, and that takes the process down. Here both streams have a listener:
 * `done` resolves when `writable` finished and rejects when either stream failed (an abort
 * through `controller` included); it never counts as an unhandled rejection.
 */
export async function openPodLog(
  kube: KubeClients,
  namespace: string,
  pod: string,
  container: string,
  writable: Writable,
  request: PodLogRequest,
): Promise<{ controller: AbortController; done: Promise<void> }> {
  const done = new Promise<void>((resolve, reject) => {
    writable.once('finish', () => resolve());
    writable.on('error', reject);
    writable.once('pipe', (source: NodeJS.ReadableStream) => source.on('error', reject));
  });
  done.catch(() => undefined);
  const controller = await new Log(kube.config).log(namespace, pod, container, writable, {
    follow: request.follow ?? false,
    previous: request.previous ?? false,
    sinceSeconds: request.sinceSeconds,
    tailLines: request.tailLines,
    limitBytes: request.limitBytes,
    timestamps: request.timestamps,
  });
  return { controller, done };
}

/**
 * Streams a container's log line by line (optionally following it until the container ends).
 * Memory stays bounded: lines are handed over as they arrive. Resolves when the stream ends or
 * `signal` aborts it (a follow stream whose connection drops silently only ends that way);
 * aborting is a normal, quiet end.
 */
export async function streamPodLog(
  kube: KubeClients,
  namespace: string,
  pod: string,
  onLine: (line: string) => void | Promise<void>,
  options: PodLogRequest & { signal?: AbortSignal } = {},
): Promise<void> {
  const signal = options.signal;
  if (signal?.aborted) return;
  const sink = lineSink(onLine);
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  let controller: AbortController | undefined;
  try {
    const opened = await openPodLog(kube, namespace, pod, options.container ?? '', sink, options);
    controller = opened.controller;
    await Promise.race([opened.done, stopped]);
  } catch (error) {
    if (signal?.aborted) return;
    throw kubeFailure(`logs of pod ${pod}`, error);
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    // Ends the request when it is still open (an abort, or a sink that failed); a no-op otherwise.
    controller?.abort();
    sink.destroy();
  }
}

