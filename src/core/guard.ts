/**
 * The process-level guard. An error nobody handled (an 'error' event without a listener, a
 * rejected promise nobody awaited) that comes from a job's own work fails that job: its thread and
 * the audit log say so, and the process keeps serving every other job. Outside any job it stays
 * what it is, a bug: it is logged and the process exits, as Node would.
 *
 * Jobs are told apart by AsyncLocalStorage: whatever a job starts (timers, streams, promises)
 * carries its scope, and Node runs the uncaught-exception path in the context of the failed
 * callback or promise.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';

export interface JobScope {
  jobId: string;
  job: string;
  /** Called with an error that escaped the job's code. */
  fault(error: unknown): void;
}

const scopes = new AsyncLocalStorage<JobScope>();

/** Runs a job's work in its scope: unhandled errors it causes reach `scope.fault`. */
export function runInJobScope<T>(scope: JobScope, work: () => Promise<T>): Promise<T> {
  return scopes.run(scope, work);
}

/** An error that escaped a job's code (an unhandled 'error' event or rejection). */
export class JobFault extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'JobFault';
  }
}

/**
 * Installs the guard for this process (main.ts) and returns the function that removes it.
 * `exit` ends the process when the error belongs to no job.
 */
export function installProcessGuard(log: Logger, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  // The capture callback replaces Node's own handling (and the 'uncaughtException' event) for
  // both thrown errors and unhandled rejections (the default --unhandled-rejections=throw).
  process.setUncaughtExceptionCaptureCallback((error: unknown) => {
    const scope = scopes.getStore();
    const err = error instanceof Error ? { message: error.message, stack: error.stack } : { message: String(error) };
    if (scope) {
      log.error({ err, job: scope.job, jobId: scope.jobId }, 'unhandled error in a job: the job fails, the process carries on');
      scope.fault(error);
      return;
    }
    log.fatal({ err }, 'unhandled error outside any job: exiting');
    exit(1);
  });
  return () => process.setUncaughtExceptionCaptureCallback(null);
}
