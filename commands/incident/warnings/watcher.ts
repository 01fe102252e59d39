/**
 * The Kubernetes warnings watcher: one replica of the bot (the holder of a lease in Redis)
 * follows pods, Warning events and Jobs in the configured namespaces, tallies each warning on
 * its workload's record and keeps one thread per workload: the parent is posted once and then
 * updated, at most every `updateEvery`, with a reply in the thread the first time a reason shows
 * up. Another replica takes the lease over when the holder stops or dies, lists everything
 * again and, thanks to the records, neither loses nor repeats a thing.
 */
import type { BackgroundTask, RunningTask, RuntimeDeps } from '../../../src/core/types.ts';
import type { CoreV1Event, V1Job, V1Pod } from '@kubernetes/client-node';
import { durationMs } from '../../../src/core/durations.ts';
import { withRateLimit } from '../../../src/core/thread.ts';
import { RedisLease } from '../../shared/redis-lock.ts';
import { eventSighting, jobSighting, podSightings, WARNING_REASONS } from './sightings.ts';
import type { Sighting } from './sightings.ts';
import { WarningStore } from './store.ts';
import type { WorkloadWarnings } from './store.ts';
import { WorkloadResolver, workloadId } from './workloads.ts';
import { follow } from './stream.ts';
import type { StreamSpec } from './stream.ts';
import { reasonReply, warningsParent } from './message.ts';

/** The lease outlives a holder that stopped renewing by this much at most. */
const LEASE_MS = 15_000;
const RENEW_EVERY_MS = LEASE_MS / 3;
/** Slack takes about one message a second per channel. */
const WRITE_SPACING_MS = 1000;
/** How long a Slack write waits out rate limiting before the update is left for later. */
const SLACK_WAIT_MS = 10_000;

export class WarningsWatcher implements RunningTask {
  readonly #store: WarningStore;
  readonly #lease: RedisLease;
  readonly #updateEveryMs: number;
  readonly #channel: string;
  readonly #namespaces: string[];
  #leaseTimer: NodeJS.Timeout | undefined;
  /** While this replica holds the lease: aborting it ends the streams. */
  #watching: { abort: AbortController; streams: Promise<void>[] } | undefined;
  readonly #flushes = new Map<string, NodeJS.Timeout>();
  /** Writes under way, awaited on stop. */
  readonly #flushing = new Set<Promise<void>>();
  #checking: Promise<void> = Promise.resolve();
  #stopped = false;
  #nextTurn = 0;

  constructor(private readonly deps: RuntimeDeps) {
    const { config, clients } = deps;
    const settings = config.kubernetes.warnings;
    this.#updateEveryMs = durationMs(settings.updateEvery);
    this.#channel = settings.channel ?? config.channels.incident!;
    this.#namespaces = settings.namespaces ?? [config.kubernetes.namespace];
    this.#store = new WarningStore(clients.redis, config.redis.prefix, durationMs(settings.threadFor));
    this.#lease = new RedisLease(clients.redis, `${config.redis.prefix}:kube-warnings:leader`, LEASE_MS);
  }

  start(): this {
    this.#tick();
    return this;
  }

  /** Takes or keeps the lease; starts watching when it got it, stops when it lost it. */
  #tick(): void {
    this.#checking = this.#checking
      .then(async () => {
        if (this.#stopped) return;
        // Redis unreachable counts as not holding it: another replica may take over meanwhile.
        const held = await this.#lease.hold().catch(() => false);
        if (held && !this.#watching && !this.#stopped) this.#watch();
        else if (!held && this.#watching) await this.#unwatch();
      })
      .catch((error: unknown) => this.deps.log.warn({ err: (error as Error).message }, 'kubernetes warnings: could not start watching, trying again'))
      .finally(() => {
        if (!this.#stopped) this.#leaseTimer = setTimeout(() => this.#tick(), RENEW_EVERY_MS);
      });
  }

  #watch(): void {
    const abort = new AbortController();
    const kube = this.deps.clients.kube();
    const streams = this.#namespaces.flatMap((namespace) => {
      const workloads = new WorkloadResolver(kube, namespace);
      const sight = async (sightings: Sighting[]) => {
        for (const sighting of sightings) {
          const workload = await workloads.resolve(sighting.object);
          if (await this.#store.tally(workload, sighting)) this.#schedule(workloadId(workload), 0);
        }
      };
      const now = () => this.deps.clients.clock.now();
      const pods: StreamSpec<V1Pod> = {
        what: `pods in ${namespace}`,
        path: `/api/v1/namespaces/${namespace}/pods`,
        list: () => kube.core.listNamespacedPod({ namespace }),
        seen: (pod) => sight(podSightings(pod, now())),
        gone: (pod) => workloads.forgetPod(pod.metadata?.name ?? ''),
      };
      const events: StreamSpec<CoreV1Event> = {
        what: `events in ${namespace}`,
        path: `/api/v1/namespaces/${namespace}/events`,
        list: () => kube.core.listNamespacedEvent({ namespace }),
        seen: (event) => sight([eventSighting(event, now())].filter((s) => s !== undefined)),
      };
      const jobs: StreamSpec<V1Job> = {
        what: `jobs in ${namespace}`,
        path: `/apis/batch/v1/namespaces/${namespace}/jobs`,
        list: () => kube.batch.listNamespacedJob({ namespace }),
        seen: (job) => sight([jobSighting(job, now())].filter((s) => s !== undefined)),
      };
      return [follow(kube.config, pods, abort.signal, this.deps.log), follow(kube.config, events, abort.signal, this.deps.log), follow(kube.config, jobs, abort.signal, this.deps.log)];
    });
    this.#watching = { abort, streams };
    this.deps.log.info({ namespaces: this.#namespaces }, 'kubernetes warnings: this replica holds the lease');
    // What an earlier holder tallied but could not post yet.
    void this.#store.unposted().then(
      (ids) => ids.forEach((id) => this.#schedule(id, 0)),
      (error: unknown) => this.deps.log.warn({ err: (error as Error).message }, 'kubernetes warnings: reading unposted workloads failed'),
    );
  }

  async #unwatch(): Promise<void> {
    const watching = this.#watching;
    this.#watching = undefined;
    for (const timer of this.#flushes.values()) clearTimeout(timer);
    this.#flushes.clear();
    if (!watching) return;
    watching.abort.abort();
    await Promise.all([...watching.streams, ...this.#flushing]);
  }

  #schedule(id: string, delayMs: number): void {
    if (this.#flushes.has(id) || !this.#watching) return;
    this.#flushes.set(
      id,
      setTimeout(() => {
        this.#flushes.delete(id);
        const flushing = this.#flush(id)
          .catch((error: unknown) => {
            this.deps.log.warn({ workload: id, err: (error as Error).message }, 'kubernetes warnings: posting failed, trying again');
            this.#schedule(id, this.#updateEveryMs);
          })
          .finally(() => this.#flushing.delete(flushing));
        this.#flushing.add(flushing);
      }, delayMs),
    );
  }

  /** Writes the workload's parent (posts it the first time) unless it was written less than `updateEvery` ago. */
  async #flush(id: string): Promise<void> {
    await this.#turn();
    // Stopped or lost the lease while waiting: the next holder posts it.
    if (!this.#watching) return;
    const wait = await this.#store.locked(id, async () => {
      const record = await this.#store.get(id);
      if (!record) {
        await this.#store.dropUnposted(id);
        return 0;
      }
      if (!record.unposted) return 0;
      const now = this.deps.clients.clock.now();
      const since = record.postedAt ? now.getTime() - new Date(record.postedAt).getTime() : Infinity;
      if (since < this.#updateEveryMs) return this.#updateEveryMs - since;
      await this.#post(record, now);
      return 0;
    });
    if (wait > 0) this.#schedule(id, wait);
  }

  /** Waits for this flush's turn: flushes start at least WRITE_SPACING_MS apart, so many workloads failing at once trickle in. */
  async #turn(): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.#nextTurn);
    this.#nextTurn = at + WRITE_SPACING_MS;
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  }

  async #post(record: WorkloadWarnings, now: Date): Promise<void> {
    const { notify } = this.deps.clients;
    const parent = warningsParent(this.deps.config, record, now);
    if (record.thread) {
      await withRateLimit(() => notify.update(record.thread!.channel, record.thread!.ts, parent), SLACK_WAIT_MS);
    } else {
      const ts = await withRateLimit(() => notify.post(this.#channel, parent), SLACK_WAIT_MS);
      if (!ts) throw new Error('Slack returned no message ts for the thread parent');
      record.thread = { channel: this.#channel, ts };
    }
    record.postedAt = now.toISOString();
    record.unposted = false;
    // Saved before the replies: a failed reply is not worth a second parent.
    await this.#store.posted(record);
    for (const reason of WARNING_REASONS.filter((r) => record.reasons[r] && !record.announced.includes(r))) {
      await withRateLimit(() => notify.post(record.thread!.channel, reasonReply(reason, record.reasons[reason]!), { threadTs: record.thread!.ts }), SLACK_WAIT_MS);
      record.announced.push(reason);
      await this.#store.posted(record);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#leaseTimer);
    await this.#checking;
    clearTimeout(this.#leaseTimer);
    const held = Boolean(this.#watching);
    await this.#unwatch();
    if (held) await this.#lease.release().catch(() => undefined);
  }
}

/** The runtime starts it with the workers when kubernetes.warnings.enabled is true. */
export const kubeWarningsTask: BackgroundTask = {
  name: 'kubernetes warnings',
  start: (deps) => (deps.config.kubernetes.warnings.enabled ? new WarningsWatcher(deps).start() : undefined),
};
