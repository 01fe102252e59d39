/**
 * Long-running work on BullMQ. One queue (keys hash-tagged so Redis Cluster keeps them in one
 * slot); the launcher queues the job, then posts the parent message and hands its ts to the
 * worker (through the job's data and a notice on a channel), so a worker never waits for Slack
 * before the job's first line: the thread's lines wait for the parent instead. Cancellation is
 * broadcast so any replica running the job aborts it.
 */
import { Queue, Worker, UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { connectRedis } from '../redis.ts';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import type { Reply } from './result.ts';
import type { ApprovedPlan, AuditLog, Clients, JobDefinition, JobLauncher, JobRef, JobRun, JobStartOptions, Plan, Schedule, SecretBox } from './types.ts';
import { UserFacingError } from './types.ts';
import { StatusThread, withRateLimit } from './thread.ts';
import { PlanChangedError } from './operation.ts';
import { JobFault, runInJobScope } from './guard.ts';
import type { Text } from './text.ts';
import { joinText, md, mention, plainText } from './text.ts';

export const QUEUE_NAME = 'jobs';

export const INTERRUPTED =
  'The worker running this job stopped (crash or restart) before it finished. The last step in this thread is the last thing known to have happened: check what it touched before running it again.';

export interface JobMeta {
  title: string;
  channel: string;
  requestedBy: string;
  parentTs?: string;
  /** The launcher is posting the parent message; the worker waits for its hand-over before writing to the thread. */
  parentPending?: boolean;
  /** An operation's job: the plan it must still match when it starts. */
  approved?: ApprovedPlan;
  startedAt?: number;
  /** Scheduled runs of a quiet schedule get no status message. */
  quiet?: boolean;
}

export interface JobPayload<D = unknown> {
  input: D;
  meta: JobMeta;
  /** Progress lines Slack did not accept within the give-up time. */
  undeliveredLines?: string[];
}

export interface JobSystemDeps {
  redisUrl: string;
  prefix: string;
  jobs: Map<string, JobDefinition<unknown>>;
  config: Config;
  clients: Clients;
  secrets: SecretBox;
  audit: AuditLog;
  log: Logger;
  metrics: Metrics;
  /** How long a worker's hold on a job lasts without renewal, how often stalled jobs are looked for (BullMQ's defaults otherwise), and how long Slack writes are retried (DELIVERY_GIVE_UP_MS otherwise). */
  timing?: { lockMs?: number; stalledCheckMs?: number; slackGiveUpMs?: number };
  /** Called when an operation's job found a different plan when it started: ask again. */
  onPlanChanged?: (approved: ApprovedPlan, params: unknown, plan: Plan, meta: JobMeta) => Promise<void>;
}

export interface JobSummary {
  id: string;
  name: string;
  title: string;
  state: string;
  requestedBy: string;
  channel: string;
  parentTs?: string;
  startedAt?: number;
  finishedAt?: number;
  failedReason?: string;
}

function connection(url: string, forWorker: boolean, log: Logger): Redis {
  // Workers block on Redis; BullMQ requires maxRetriesPerRequest null for them.
  const redis = connectRedis(url, { maxRetriesPerRequest: forWorker ? null : 3, enableReadyCheck: true });
  // Without a listener, every failed reconnection would be an unhandled 'error' event.
  redis.on('error', (error: Error) => log.warn({ err: error.message }, 'redis connection error (jobs)'));
  return redis;
}

/** How long a worker waits for the launcher's parent message before posting one itself (the launcher gave up or stopped). */
const PARENT_HANDOVER_WAIT_MS = 60_000;

export class JobSystem implements JobLauncher {
  readonly queue: Queue;
  private worker?: Worker;
  private workerConnection?: Redis;
  private subscriber?: Redis;
  private readonly queueConnection: Redis;
  private workspaceUrl?: string;
  /** Jobs whose worker here waits for the launcher's parent message -> wakes it. */
  private readonly parentWaiters = new Map<string, () => void>();

  constructor(private readonly deps: JobSystemDeps) {
    this.queueConnection = connection(deps.redisUrl, false, deps.log);
    this.queue = new Queue(QUEUE_NAME, { connection: this.queueConnection, prefix: `{${deps.prefix}}` });
  }

  private get cancelChannel(): string {
    return `${this.deps.prefix}:jobs:cancel`;
  }

  private get parentChannel(): string {
    return `${this.deps.prefix}:jobs:parent`;
  }

  async start<D>(name: string, input: D, options: JobStartOptions): Promise<JobRef> {
    const definition = this.deps.jobs.get(name);
    if (!definition) throw new Error(`no job named ${name}`);
    if (options.jobId) {
      const existing = await this.queue.getJob(options.jobId);
      if (existing) {
        const meta = (existing.data as JobPayload).meta;
        return { id: options.jobId, channel: meta.channel, threadTs: meta.parentTs, existing: true };
      }
    }
    const title = definition.title(input as never);
    const postsParent = !options.threadTs && Boolean(options.channel);
    const meta: JobMeta = { title, channel: options.channel, requestedBy: options.requestedBy, approved: options.approved, parentTs: options.threadTs, ...(postsParent ? { parentPending: true } : {}) };
    // Queued before Slack hears of it: a worker may start it while the parent is being posted.
    const job = await this.queue.add(name, { input, meta } satisfies JobPayload<D>, {
      jobId: options.jobId,
      delay: options.delayMs,
      attempts: definition.retry?.attempts ?? 1,
      backoff: definition.retry ? { type: 'exponential', delay: 5000 } : undefined,
      removeOnComplete: { age: 7 * 86_400, count: 1000 },
      removeOnFail: { age: 30 * 86_400, count: 1000 },
    });
    if (postsParent) meta.parentTs = await this.postAndHandOverParent(job, { input, meta }, definition, options.delayMs ? 'scheduled' : 'queued');
    return { id: job.id!, channel: meta.channel, threadTs: meta.parentTs, existing: false };
  }

  /**
   * Posts the parent message, records its ts in the job's data and tells the workers. When Slack
   * does not take it, the job runs anyway and its worker posts the parent itself.
   */
  private async postAndHandOverParent(job: Job, payload: JobPayload, definition: JobDefinition<unknown>, state: 'queued' | 'scheduled'): Promise<string | undefined> {
    const parentTs = await this.postParent(payload.meta, definition, state).catch((error: Error) => {
      this.deps.log.warn({ err: error.message, jobId: job.id }, 'parent message not posted; the worker posts it');
      return undefined;
    });
    // The worker writes the job's data only after this hand-over, so neither write loses the other's.
    await job
      .updateData({ ...payload, meta: { ...payload.meta, parentTs, parentPending: false } })
      .then(() => this.queueConnection.publish(this.parentChannel, job.id!))
      .catch((error: Error) => this.deps.log.warn({ err: error.message, jobId: job.id }, 'parent message not handed over; the worker posts its own after a while'));
    return parentTs;
  }

  async permalink(channel: string, ts: string): Promise<string | undefined> {
    if (!this.workspaceUrl) return undefined;
    return `${this.workspaceUrl.replace(/\/$/, '')}/archives/${channel}/p${ts.replace('.', '')}`;
  }

  /** Links to threads use the workspace's URL (auth.test tells it). */
  setWorkspaceUrl(url: string): void {
    this.workspaceUrl = url;
  }

  /** Registers schedules; BullMQ's job schedulers fire each slot once however many replicas run. */
  async registerSchedules(schedules: Schedule[]): Promise<void> {
    for (const schedule of schedules) {
      const cron = schedule.cron(this.deps.config);
      if (!cron) {
        await this.queue.removeJobScheduler(schedule.name);
        continue;
      }
      await this.queue.upsertJobScheduler(schedule.name, { pattern: cron.pattern, tz: cron.tz }, {
        name: schedule.job,
        data: { input: schedule.data(this.deps.config), meta: { title: '', channel: this.deps.config.channels.ops ?? '', requestedBy: 'schedule', quiet: schedule.quiet } } satisfies JobPayload,
      });
    }
  }

  async runWorkers(concurrency = 4): Promise<void> {
    this.workerConnection = connection(this.deps.redisUrl, true, this.deps.log);
    this.worker = new Worker(QUEUE_NAME, (job, token, signal) => this.process(job, token, signal), {
      connection: this.workerConnection,
      prefix: `{${this.deps.prefix}}`,
      concurrency,
      // A job whose worker died is not run a second time behind anyone's back (restores,
      // rotations and deploys are not idempotent): it fails, and its thread says so.
      maxStalledCount: 0,
      ...(this.deps.timing?.lockMs ? { lockDuration: this.deps.timing.lockMs } : {}),
      ...(this.deps.timing?.stalledCheckMs ? { stalledInterval: this.deps.timing.stalledCheckMs } : {}),
    });
    this.worker.on('error', (error) => this.deps.log.error({ err: error.message }, 'worker error'));
    this.worker.on('failed', (job, error) => {
      if (!job || !/stalled/i.test(error.message)) return;
      void this.interrupted(job, 'failed', INTERRUPTED);
    });
    this.subscriber = connection(this.deps.redisUrl, true, this.deps.log);
    await this.subscriber.subscribe(this.cancelChannel, this.parentChannel);
    this.subscriber.on('message', (channel: string, jobId: string) => {
      if (channel === this.parentChannel) this.parentWaiters.get(jobId)?.();
      else this.worker?.cancelJob(jobId, 'cancelled from Slack');
    });
    await this.worker.waitUntilReady();
  }

  /** Stops this process's worker gracefully (its active jobs finish); runWorkers() starts it again. */
  async stopWorkers(): Promise<void> {
    await this.worker?.close();
    await this.workerConnection?.quit().catch(() => undefined);
    await this.subscriber?.quit().catch(() => undefined);
    this.worker = undefined;
    this.workerConnection = undefined;
    this.subscriber = undefined;
  }

  workersRunning(): boolean {
    return this.worker?.isRunning() ?? false;
  }

  async cancel(jobId: string): Promise<'cancelled' | 'removed' | 'not-running'> {
    const job = await this.queue.getJob(jobId);
    if (!job) return 'not-running';
    const state = await job.getState();
    if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
      await job.remove();
      await this.interrupted(job, 'cancelled', 'Cancelled before it started.');
      return 'removed';
    }
    if (state !== 'active') return 'not-running';
    await this.queueConnection.publish(this.cancelChannel, jobId);
    return 'cancelled';
  }

  async recent(limit = 15): Promise<JobSummary[]> {
    const jobs = await this.queue.getJobs(['active', 'waiting', 'delayed', 'completed', 'failed'], 0, 200);
    return jobs
      .filter((job): job is Job => Boolean(job))
      .sort((a, b) => b.timestamp - a.timestamp)
      .slice(0, limit)
      .map((job) => {
        const meta = (job.data as JobPayload).meta;
        return {
          id: job.id!,
          name: job.name,
          title: meta.title,
          state: job.finishedOn ? (job.failedReason ? 'failed' : 'completed') : job.processedOn ? 'active' : job.delay ? 'delayed' : 'waiting',
          requestedBy: meta.requestedBy,
          channel: meta.channel,
          parentTs: meta.parentTs,
          startedAt: meta.startedAt ?? job.processedOn,
          finishedAt: job.finishedOn,
          failedReason: job.failedReason,
        };
      });
  }

  /** Stops this process's worker without finishing or releasing its jobs, as a crash would. */
  async abandonWorkers(): Promise<void> {
    await this.worker?.close(true);
    this.workerConnection?.disconnect();
  }

  async close(): Promise<void> {
    // Graceful: the worker finishes (or aborts) its active jobs before the connections close.
    await this.worker?.close();
    // BullMQ does not close connections it was given.
    await this.workerConnection?.quit().catch(() => undefined);
    await this.subscriber?.quit().catch(() => undefined);
    await this.queue.close();
    await this.queueConnection.quit().catch(() => undefined);
  }

  private async postParent(meta: JobMeta, definition: JobDefinition<unknown>, state: 'queued' | 'scheduled'): Promise<string | undefined> {
    if (!meta.channel) return undefined;
    const view = parentView(meta, state === 'queued' ? ':hourglass_flowing_sand: Queued' : ':alarm_clock: Scheduled', definition.cancellable);
    return withRateLimit(() => this.deps.clients.notify.post(meta.channel, view), 10_000);
  }

  /**
   * The job's parent message: the one it was started with, the launcher's once handed over, or
   * (scheduled runs, a launcher that could not post it) one posted here. Undefined when the job
   * has none or Slack never took it. Never rejects.
   */
  private async parentOf(job: Job, definition: JobDefinition<unknown>): Promise<string | undefined> {
    let meta = (job.data as JobPayload).meta;
    if (meta.parentPending) meta = (await this.handedOver(job.id!)) ?? meta;
    if (meta.parentTs || !meta.channel || meta.quiet) return meta.parentTs;
    return this.postParent(meta, definition, 'queued').catch((error: Error) => {
      this.deps.log.warn({ err: error.message, jobId: job.id }, 'parent message not posted; the thread\'s lines are kept in the job\'s record');
      return undefined;
    });
  }

  /** The job's metadata once the launcher handed over its parent message (or gave up), or undefined after the wait. */
  private async handedOver(jobId: string): Promise<JobMeta | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const notice = new Promise<void>((resolve) => {
      this.parentWaiters.set(jobId, resolve);
      timer = setTimeout(resolve, PARENT_HANDOVER_WAIT_MS);
    });
    const current = async () => ((await this.queue.getJob(jobId))?.data as JobPayload | undefined)?.meta;
    try {
      // Read after listening: a hand-over is either already in the data or its notice is still to come.
      const now = await current();
      if (now && !now.parentPending) return now;
      await notice;
      const after = await current();
      return after?.parentPending ? undefined : after;
    } catch (error) {
      this.deps.log.warn({ err: (error as Error).message, jobId }, 'could not read the parent message hand-over');
      return undefined;
    } finally {
      clearTimeout(timer);
      this.parentWaiters.delete(jobId);
    }
  }

  private async process(job: Job, _token: string | undefined, signal: AbortSignal | undefined): Promise<unknown> {
    const definition = this.deps.jobs.get(job.name);
    if (!definition) throw new UnrecoverableError(`no job named ${job.name}`);
    const payload = job.data as JobPayload;
    const meta = payload.meta;
    if (!meta.title) meta.title = definition.title(payload.input);
    const started = Date.now();
    meta.startedAt = started;
    // The job starts now; its thread's writes wait for the parent message instead.
    const hasThread = Boolean(meta.parentTs || meta.parentPending || (meta.channel && !meta.quiet));
    const parent = hasThread ? this.parentOf(job, definition) : Promise.resolve(undefined);
    // The start time lives in the job's own record (BullMQ resets processedOn when it fails a
    // stalled job), written with the parent's ts once known, off the job's path.
    const recorded = parent.then(async (parentTs) => {
      meta.parentTs = parentTs;
      meta.parentPending = false;
      await job.updateData({ ...payload, meta });
    }).catch((error: Error) => this.deps.log.warn({ err: error.message, jobId: job.id }, 'could not record the job\'s start'));
    const thread = hasThread ? this.thread(meta.channel, parent, job) : undefined;
    // An error that escapes the job's code (see guard.ts) stops the job's work and fails it.
    const faultAbort = new AbortController();
    let faulted: (error: JobFault) => void = () => undefined;
    const fault = new Promise<never>((_resolve, reject) => (faulted = reject));
    fault.catch(() => undefined);
    const scope = {
      jobId: job.id!,
      job: job.name,
      fault: (error: unknown) => {
        const wrapped = new JobFault(error);
        faulted(wrapped);
        faultAbort.abort(wrapped);
      },
    };
    const abort = signal ? AbortSignal.any([signal, faultAbort.signal]) : faultAbort.signal;
    const run: JobRun<unknown> = {
      id: job.id!,
      data: payload.input,
      requestedBy: meta.requestedBy,
      channel: meta.channel,
      thread: () => parent,
      signal: abort,
      approved: meta.approved,
      config: this.deps.config,
      clients: this.deps.clients,
      secrets: this.deps.secrets,
      audit: this.deps.audit,
      jobs: this,
      log: this.deps.log.child({ job: job.name, jobId: job.id }),
      // Progress never waits for Slack: the thread delivers from its outbox in the background.
      step: async (text) => thread?.step(text),
      ask: async (text, buttons) => {
        await thread?.post({ summary: plainText(text), parts: [{ kind: 'text', text }, { kind: 'buttons', buttons }] });
      },
      attach: async (file) => {
        await thread?.upload(file);
      },
      chart: async (chart) => {
        await thread?.post({ summary: chart.alt, parts: [{ kind: 'chart', chart }] }).catch((error: Error) => run.log.warn({ err: error.message, chart: chart.title }, 'chart not posted (its numbers are in the steps)'));
      },
    };
    // Shown when Slack takes it; the job does not wait for that.
    void thread?.updateParent(parentView(meta, ':gear: Running', definition.cancellable, undefined, undefined, job.id));
    const timer = this.deps.metrics.jobDuration.startTimer({ job: job.name });
    try {
      const work = () =>
        definition.process(run).catch(async (error: unknown) => {
          if (error instanceof PlanChangedError && meta.approved) {
            await this.deps.onPlanChanged?.(meta.approved, payload.input, error.plan, meta).catch((failed: Error) => this.deps.log.error({ err: failed.message }, 'asking again failed'));
          }
          throw error;
        });
      const result = await Promise.race([runInJobScope(scope, work), fault]);
      const ended = Date.now();
      await recorded;
      const seconds = Math.round((ended - started) / 100) / 10;
      await thread?.post(result);
      await thread?.flush();
      await this.finish(meta, job, 'succeeded', `${result.summary} (${seconds}s)`, thread, undefined, ended);
      timer({ outcome: 'succeeded' });
      return { summary: result.summary };
    } catch (caught) {
      const ended = Date.now();
      // An escaped error wins over whatever the job's code made of the abort it caused.
      const error: unknown = faultAbort.signal.aborted ? faultAbort.signal.reason : caught;
      const cancelled = !faultAbort.signal.aborted && abort.aborted;
      const outcome = cancelled ? 'cancelled' : 'failed';
      const message: Text =
        error instanceof UserFacingError
          ? error.text
          : error instanceof JobFault
            ? `Stopped by an unexpected error in its own work (a bug; the bot keeps running): ${error.message}. The last step in this thread is the last thing known to have happened.`
            : cancelled
              ? 'Cancelled while running.'
              : `${(error as Error).message}`;
      timer({ outcome });
      await recorded;
      await thread?.flush();
      await this.finish(meta, job, outcome, message, thread, error instanceof UserFacingError ? error.hint : undefined, ended);
      // Failures here are final; a job that may retry declares it.
      const retriable = definition.retry && !(error instanceof UserFacingError) && !cancelled;
      throw retriable ? error : new UnrecoverableError(plainText(message));
    }
  }

  /** A job that will never finish: its definition releases what it held; the thread says what is left. */
  private async interrupted(job: Job, outcome: 'failed' | 'cancelled', detail: string): Promise<void> {
    const payload = job.data as JobPayload;
    const definition = this.deps.jobs.get(job.name);
    const deps = { config: this.deps.config, clients: this.deps.clients, jobs: this, audit: this.deps.audit, secrets: this.deps.secrets, log: this.deps.log };
    const left = await definition?.onInterrupted?.(payload.input, deps, job.id!).catch((error: Error) => `Cleaning up after it failed: ${error.message}`);
    const meta = payload.meta;
    const thread = meta.parentTs ? this.thread(meta.channel, meta.parentTs, job) : undefined;
    await this.finish(meta, job, outcome, left ? `${detail} ${left}` : detail, thread);
  }

  /** A job's thread, its pending lines kept in a Redis list beside the job's own keys (same hash tag). */
  private thread(channel: string, parentTs: string | Promise<string | undefined>, job: Job): StatusThread {
    return new StatusThread(this.deps.clients.notify, channel, parentTs, this.deps.log, {
      outbox: { redis: this.queueConnection, key: `{${this.deps.prefix}}:thread:${job.id}` },
      giveUpAfterMs: this.deps.timing?.slackGiveUpMs,
    });
  }

  private async finish(meta: JobMeta, job: Job, outcome: 'succeeded' | 'failed' | 'cancelled', detail: Text, thread?: StatusThread, hint?: Text, ended = Date.now()): Promise<void> {
    this.deps.metrics.jobs.inc({ job: job.name, outcome });
    const audited = await this.deps.audit
      .record({ actor: meta.requestedBy, action: `job ${job.name}`, result: outcome, channel: meta.channel, detail: `${job.id}: ${plainText(detail)}` })
      .catch((error: Error) => {
        this.deps.log.error({ err: error.message, jobId: job.id }, 'audit entry lost');
        return 'lost' as const;
      });
    if (audited === 'spooled') detail = joinText([detail, ' (Audit: Redis is unreachable; the entry is kept on disk until it is back.)']);
    if (audited === 'lost') detail = joinText([detail, ' (Audit: the entry for this outcome could not be written.)']);
    if (!thread) return;
    const definition = this.deps.jobs.get(job.name);
    const icon = outcome === 'succeeded' ? ':white_check_mark: Succeeded' : outcome === 'cancelled' ? ':no_entry_sign: Cancelled' : ':x: Failed';
    const seconds = Math.round((ended - (meta.startedAt ?? job.processedOn ?? ended)) / 100) / 10;
    const next = outcome === 'failed' ? (hint ?? definition?.onFailureNextStep) : undefined;
    // Lines still waiting for Slack go out first; those it never accepted are kept in the job's record.
    await thread.flush();
    if (thread.undelivered.length) {
      detail = joinText([detail, ` (${thread.undelivered.length} progress line${thread.undelivered.length === 1 ? '' : 's'} could not be posted to Slack; they are kept in the job's record as undeliveredLines.)`]);
      await job.updateData({ ...(job.data as JobPayload), undeliveredLines: thread.undelivered }).catch((error: Error) => this.deps.log.warn({ err: error.message }, 'could not record undelivered lines'));
    }
    await thread.updateParent(parentView(meta, `${icon} in ${seconds}s`, false, detail, next));
    await thread.flush();
  }
}

/** The parent message of a job: what, who, status; the only place its layout is defined. */
export function parentView(meta: JobMeta, status: string, cancellable?: boolean, detail?: Text, nextStep?: Text, jobId?: string): Pick<Reply, 'summary' | 'parts'> {
  const parts: Reply['parts'] = [
    { kind: 'text', text: md`*${meta.title}*` },
    { kind: 'fields', fields: [['Status', status], ['Requested by', meta.requestedBy === 'schedule' ? 'schedule' : mention(meta.requestedBy)]] },
  ];
  if (detail) parts.push({ kind: 'text', text: detail });
  if (nextStep) parts.push({ kind: 'context', text: joinText(['Next step (runbook): ', nextStep]) });
  if (cancellable && jobId) parts.push({ kind: 'buttons', buttons: [{ label: 'Cancel', action: 'job.cancel', value: jobId, style: 'danger', confirm: { title: 'Cancel this job?', text: meta.title, confirm: 'Cancel job', deny: 'Keep running' } }] });
  return { summary: `${meta.title}: ${status.replace(/:[a-z_]+: /, '')}`, parts };
}
