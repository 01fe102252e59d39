/**
 * The job controller: every created Job gets a pod (labels job-name and
 * controller-uid from the Job's template) whose outcome the test decides,
 * via a callback, a rule per job-name prefix, or the default (succeed).
 */
import type { Cluster } from './cluster.ts';
import type { LogStore } from './logs.ts';
import { PODS, createPod, ownedBy, ownerReference, setPodState } from './pods.ts';
import { resourceInfo } from './resources.ts';
import type { Condition, Job, Pod } from './types.ts';
import { clone, randomSuffix, rfc3339 } from './util.ts';

export const JOBS = resourceInfo('jobs');

export interface JobOutcome {
  /** true: the pod exits 0 and the Job completes; false: the Job fails (backoffLimit exceeded). */
  succeed: boolean;
  /** Lines the job's container prints (its logs). */
  logs?: string[];
  /** Container exit code (default 0 on success, 1 on failure). */
  exitCode?: number;
  /** Number of GETs of the Job that still see it running before the outcome applies (default 0). */
  afterPolls?: number;
  /** Keep the Job running until `finishJob` is called. */
  hold?: boolean;
  /**
   * Leave the pod's `follow=true` log streams open after the Job finished. A real API server
   * ends a follow stream only when the kubelet does, which may be well after the container
   * exited; here the streams then end only when the pod is deleted or the fake closes.
   */
  keepLogStreamsOpen?: boolean;
}

export type JobHandler = (job: Job) => JobOutcome | undefined;

interface Pending {
  outcome: JobOutcome;
  readsLeft: number;
}

export class JobRunner {
  private handler: JobHandler | undefined;
  private readonly prefixRules = new Map<string, JobOutcome>();
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly cluster: Cluster,
    private readonly logs: LogStore,
  ) {}

  onJob(handler: JobHandler | undefined): void {
    this.handler = handler;
  }

  setOutcome(namePrefix: string, outcome: JobOutcome): void {
    this.prefixRules.set(namePrefix, outcome);
  }

  private resolve(job: Job): JobOutcome {
    const fromHandler = this.handler?.(clone(job));
    if (fromHandler) return fromHandler;
    const name = job.metadata.name ?? '';
    const prefix = [...this.prefixRules.keys()].filter((p) => name.startsWith(p)).sort((a, b) => b.length - a.length)[0];
    return (prefix !== undefined ? this.prefixRules.get(prefix) : undefined) ?? { succeed: true };
  }

  private pods(job: Job): Pod[] {
    return this.cluster.list<Pod>(PODS, job.metadata.namespace, (p) => ownedBy(p, job.metadata.uid));
  }

  private newPod(job: Job): Pod {
    const name = job.metadata.name ?? '';
    return createPod(this.cluster, {
      namespace: job.metadata.namespace ?? '',
      name: `${name}-${randomSuffix()}`,
      generateName: `${name}-`,
      template: job.spec.template,
      owner: ownerReference(job, 'batch/v1', 'Job'),
      state: { kind: 'ready' },
    });
  }

  /** Called when a Job is created. */
  start(job: Job): void {
    const outcome = this.resolve(job);
    this.newPod(job);
    const running = clone(job);
    running.status = {
      startTime: rfc3339(this.cluster.now()),
      active: 1,
      ready: 1,
      terminating: 0,
      uncountedTerminatedPods: {},
    };
    this.cluster.put(JOBS, running);
    const reads = outcome.hold ? Number.POSITIVE_INFINITY : Math.max(0, outcome.afterPolls ?? 0);
    if (reads > 0) this.pending.set(job.metadata.uid ?? '', { outcome, readsLeft: reads });
    else this.finish(job.metadata.namespace ?? '', job.metadata.name ?? '', outcome);
  }

  /** Called for every GET of a single Job. */
  onRead(namespace: string, name: string): void {
    const job = this.cluster.find<Job>(JOBS, namespace, name);
    const pending = job ? this.pending.get(job.metadata.uid ?? '') : undefined;
    if (!pending || !Number.isFinite(pending.readsLeft)) return;
    pending.readsLeft--;
    if (pending.readsLeft <= 0) this.finish(namespace, name, pending.outcome);
  }

  forget(job: Job): void {
    this.pending.delete(job.metadata.uid ?? '');
  }

  /** Applies an outcome to a running Job now. */
  finish(namespace: string, name: string, outcome: JobOutcome): Job {
    const job = this.cluster.find<Job>(JOBS, namespace, name);
    if (!job) throw new Error(`Job ${namespace}/${name} does not exist`);
    if (job.status?.succeeded || job.status?.failed) throw new Error(`Job ${namespace}/${name} has already finished`);
    this.pending.delete(job.metadata.uid ?? '');
    const now = this.cluster.now();
    const ts = rfc3339(now);
    const container = job.spec.template.spec.containers[0]?.name ?? '';
    const lines = (outcome.logs ?? []).map((text) => ({ time: now, text }));
    const finishPod = (pod: Pod) => {
      this.logs.append(namespace, pod.metadata.name ?? '', container, lines);
      const exitCode = outcome.exitCode ?? (outcome.succeed ? 0 : 1);
      setPodState(this.cluster, pod, outcome.succeed ? { kind: 'succeeded' } : { kind: 'failed', exitCode });
      if (!outcome.keepLogStreamsOpen) this.logs.endStreams(namespace, pod.metadata.name ?? '');
    };

    const pods = this.pods(job);
    const first = pods[0] ?? this.newPod(job);
    finishPod(first);

    const next = clone(job);
    const base = { startTime: job.status?.startTime ?? ts, ready: 0, terminating: 0, uncountedTerminatedPods: {} };
    if (outcome.succeed) {
      const reason = 'CompletionsReached';
      const message = 'Reached expected number of succeeded pods';
      next.status = {
        ...base,
        completionTime: ts,
        succeeded: 1,
        conditions: [condition('SuccessCriteriaMet', reason, message, ts), condition('Complete', reason, message, ts)],
      };
    } else {
      // restartPolicy Never: one failed pod per attempt until backoffLimit is exceeded.
      const attempts = (job.spec.backoffLimit ?? 6) + 1;
      if (job.spec.template.spec.restartPolicy === 'Never') {
        for (let i = pods.length > 0 ? pods.length : 1; i < attempts; i++) finishPod(this.newPod(job));
      }
      const reason = 'BackoffLimitExceeded';
      const message = 'Job has reached the specified backoff limit';
      next.status = {
        ...base,
        failed: job.spec.template.spec.restartPolicy === 'Never' ? attempts : 1,
        conditions: [condition('FailureTarget', reason, message, ts), condition('Failed', reason, message, ts)],
      };
    }
    return this.cluster.put(JOBS, next);
  }
}

function condition(type: string, reason: string, message: string, ts: string): Condition {
  return { type, status: 'True', reason, message, lastProbeTime: ts, lastTransitionTime: ts };
}
