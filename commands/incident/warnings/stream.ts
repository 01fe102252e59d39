/**
 * One resource of one namespace, followed: list, then watch from the list's resourceVersion.
 * A watch the server ends is resumed from the last version seen; "410 Gone" (that version is
 * no longer kept), any other error and any failure to handle an object start over with a
 * list, after a back-off: the list holds everything current, and the handler ignores what it
 * already tallied, so nothing is lost and nothing counted twice.
 */
import { Watch } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';

interface Listed<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

interface Versioned {
  metadata?: { resourceVersion?: string };
}

export interface StreamSpec<T> {
  /** For log lines: "pods in shop". */
  what: string;
  /** The API path watched, e.g. /api/v1/namespaces/shop/pods. */
  path: string;
  list(): Promise<Listed<T>>;
  /** Handles an object as listed, added or modified; throwing makes the stream list again. */
  seen(object: T): Promise<void>;
  /** An object was deleted. */
  gone?(object: T): void;
}

/**
 * Seconds the server keeps a watch open before it ends it cleanly (it is then resumed): under the
 * client's 30 s inactivity timeout, so a quiet namespace never looks like a failed watch.
 */
const WATCH_SECONDS = 25;
const BACKOFF_MS = { first: 1000, max: 30_000 };

class Gone extends Error {}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Follows the resource until `signal` aborts; never throws (errors are logged and retried). */
export async function follow<T extends Versioned>(kubeConfig: KubeConfig, spec: StreamSpec<T>, signal: AbortSignal, log: Logger): Promise<void> {
  let version: string | undefined;
  let backoff = BACKOFF_MS.first;
  while (!signal.aborted) {
    try {
      if (!version) {
        const listed = await spec.list();
        for (const item of listed.items) {
          if (signal.aborted) return;
          await spec.seen(item);
        }
        version = listed.metadata?.resourceVersion;
        log.info({ stream: spec.what, items: listed.items.length }, 'kubernetes warnings: listed, watching');
      }
      version = await watchFrom(kubeConfig, spec, version, signal);
      backoff = BACKOFF_MS.first;
    } catch (error) {
      version = undefined;
      if (signal.aborted) return;
      if (error instanceof Gone) {
        log.info({ stream: spec.what }, 'kubernetes warnings: watch version expired, listing again');
        continue;
      }
      log.warn({ stream: spec.what, err: (error as Error).message, retryInMs: backoff }, 'kubernetes warnings: watch failed, listing again');
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, BACKOFF_MS.max);
    }
  }
}

/** One watch request from `version`; resolves with the last version seen when the server ends it. */
function watchFrom<T extends Versioned>(kubeConfig: KubeConfig, spec: StreamSpec<T>, version: string | undefined, signal: AbortSignal): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let last = version;
    let failure: Error | undefined;
    let handling = Promise.resolve();
    let request: AbortController | undefined;
    const stop = () => request?.abort();
    const watch = new Watch(kubeConfig);
    const fail = (error: Error) => {
      failure ??= error;
      stop();
    };
    const onEvent = (type: string, object: T & { code?: number; message?: string }) => {
      if (type === 'ERROR') {
        fail(object.code === 410 ? new Gone(object.message ?? 'Gone') : new Error(`watch error ${object.code ?? ''}: ${object.message ?? ''}`));
        return;
      }
      handling = handling.then(async () => {
        if (failure) return;
        if (type === 'DELETED') spec.gone?.(object);
        else if (type !== 'BOOKMARK') await spec.seen(object);
        last = object.metadata?.resourceVersion ?? last;
      }).catch(fail);
    };
    const onDone = (error: unknown) => {
      signal.removeEventListener('abort', stop);
      void handling.then(() => {
        const ended = failure ?? (error && !signal.aborted ? (error as Error) : undefined);
        if ((ended as { statusCode?: number } | undefined)?.statusCode === 410) reject(new Gone('Gone'));
        else if (ended) reject(ended);
        else resolve(last);
      });
    };
    signal.addEventListener('abort', stop, { once: true });
    watch
      .watch(spec.path, { resourceVersion: version, allowWatchBookmarks: true, timeoutSeconds: WATCH_SECONDS }, onEvent, onDone)
      .then((controller) => {
        request = controller;
        if (signal.aborted || failure) controller.abort();
      })
      .catch((error: unknown) => onDone(error));
  });
}
