/**
 * The one path from a confirmed or approved plan to `Operation.run`: inspect, plan, hash and
 * compare, every time, for every operation. The dispatcher uses it at the click (and for inline
 * operations right before run); operationJob() uses it when the job starts.
 */
import { fingerprintOf } from './stable-json.ts';
import type { JobDefinition, JobRun, Operation, OperationContext, Plan } from './types.ts';
import { UserFacingError } from './types.ts';

export function planHash(verb: string, params: unknown, plan: Plan): string {
  return fingerprintOf({ verb, params, plan });
}

export interface Checked<S> {
  seen: S;
  plan: Plan;
  hash: string;
}

/** Inspects and plans an operation for `verb` with `params`; the hash binds verb, parameters and plan. */
export async function inspectAndPlan<P, S>(verb: string, operation: Operation<P, S>, params: P, ctx: OperationContext): Promise<Checked<S>> {
  const seen = await operation.inspect(params, ctx);
  const plan = operation.plan(params, seen, ctx.config);
  return { seen, plan, hash: planHash(verb, params, plan) };
}

/** The plan is different from the one confirmed or approved: nothing was done; the runtime asks again. */
export class PlanChangedError extends UserFacingError {
  constructor(
    readonly verb: string,
    readonly plan: Plan,
  ) {
    super('The plan changed since it was confirmed or approved (what it acts on is different now); nothing was done. It was asked again.');
  }
}

/** What a job file declares besides the operation: its retry policy. */
export interface JobPolicy {
  retry?: JobDefinition['retry'];
}

/**
 * Binds a queue name to an operation: the job re-inspects and re-plans when it starts and runs
 * only when the plan's hash equals the approved one (the runtime sets it; a job without it refuses).
 */
export function operationJob<P, S>(name: string, operation: Operation<P, S>, policy: JobPolicy = {}): JobDefinition<P> {
  return {
    name,
    title: (params) => operation.title(params),
    cancellable: operation.cancellable,
    onFailureNextStep: operation.onFailureNextStep,
    retry: policy.retry,
    onInterrupted: operation.onInterrupted && ((params, deps, jobId) => operation.onInterrupted!(params, deps, jobId)),
    operation: operation as Operation<P, unknown>,
    process: (run) => runChecked(operation, run),
  };
}

/** Inspect, plan, compare, then run: the only caller of Operation.run for a job. */
async function runChecked<P, S>(operation: Operation<P, S>, run: JobRun<P>): Promise<import('./result.ts').Reply> {
  const approved = run.approved;
  if (!approved) throw new UserFacingError('This job runs only a confirmed or approved plan, and it has none; nothing was done.');
  const ctx: OperationContext = { ...run, actor: { id: run.requestedBy, role: null }, channel: run.channel, stage: 'start' };
  let checked: Checked<S>;
  try {
    checked = await inspectAndPlan(approved.verb, operation, run.data, ctx);
    if (checked.hash !== approved.hash) throw new PlanChangedError(approved.verb, checked.plan);
  } catch (error) {
    // It will not run: release what was taken for it when it was queued (e.g. a lock).
    await operation.onInterrupted?.(run.data, run, run.id).catch((cleanup: Error) => run.log.error({ err: cleanup.message }, 'cleanup after a refused start failed'));
    throw error;
  }
  return operation.run(run.data, checked.seen, run);
}
