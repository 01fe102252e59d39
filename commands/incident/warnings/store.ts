/**
 * One record per workload in Redis: where its thread is, what was seen (per reason: count,
 * first and last seen; the pods), and the highest count already taken from each source, so a
 * relist after a watch error, a restarted watcher or a second replica adds nothing twice. Every
 * change happens under the workload's lock; the record and its lock share a hash tag.
 */
import type { Redis } from 'ioredis';
import { withRedisLock } from '../../shared/redis-lock.ts';
import type { Sighting, WarningReason } from './sightings.ts';
import type { WatchedWorkload } from './workloads.ts';
import { workloadId } from './workloads.ts';

export interface ReasonTally {
  count: number;
  firstSeen: string;
  lastSeen: string;
  /** Kubernetes' words, the latest. */
  message: string;
  /** The pod the latest one happened to. */
  pod?: string;
}

export interface WorkloadWarnings {
  workload: WatchedWorkload;
  /** The thread's parent message, once posted. */
  thread?: { channel: string; ts: string };
  reasons: Partial<Record<WarningReason, ReasonTally>>;
  /** Pods affected, in the order first seen. */
  pods: string[];
  /** Per source, the highest count already tallied. */
  sources: Record<string, number>;
  /** Reasons the thread already has a reply about. */
  announced: WarningReason[];
  /** Something was tallied that the parent message does not show yet. */
  unposted: boolean;
  /** When the parent was last written (ISO). */
  postedAt?: string;
}

/** Sources remembered per workload; a crash-looping Deployment that replaces pods for a day stays well within. */
const MAX_SOURCES = 500;
const MAX_PODS = 100;
const LOCK = { ttlMs: 30_000, waitMs: 15_000 };

export class WarningStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** How long a quiet workload's record (and so its thread) is kept. */
    private readonly keepMs: number,
  ) {}

  #key(id: string): string {
    return `${this.prefix}:kube-warnings:{${id}}`;
  }

  /** Workloads with something the parent does not show yet (posted after a failure or by the next holder of the lease). */
  get unpostedKey(): string {
    return `${this.prefix}:kube-warnings:unposted`;
  }

  async get(id: string): Promise<WorkloadWarnings | undefined> {
    const raw = await this.redis.get(this.#key(id));
    return raw ? (JSON.parse(raw) as WorkloadWarnings) : undefined;
  }

  async #save(record: WorkloadWarnings): Promise<void> {
    await this.redis.set(this.#key(workloadId(record.workload)), JSON.stringify(record), 'PX', this.keepMs);
  }

  /** Runs `work` on the workload's record under its lock; throws when the lock cannot be had. */
  async locked<T>(id: string, work: () => Promise<T>): Promise<T> {
    const done = await withRedisLock(this.redis, `${this.#key(id)}:lock`, work, LOCK);
    if (!done) throw new Error(`the lock of ${id}'s warnings is held elsewhere`);
    return done.value;
  }

  /** Tallies a sighting; false when nothing in it is new (the same count from the same source was tallied before). */
  async tally(workload: WatchedWorkload, sighting: Sighting): Promise<boolean> {
    const id = workloadId(workload);
    return this.locked(id, async () => {
      const record = (await this.get(id)) ?? { workload, reasons: {}, pods: [], sources: {}, announced: [], unposted: false };
      const before = record.sources[sighting.source] ?? 0;
      if (sighting.count <= before) return false;
      delete record.sources[sighting.source];
      record.sources[sighting.source] = sighting.count;
      for (const old of Object.keys(record.sources).slice(0, -MAX_SOURCES)) delete record.sources[old];
      const at = sighting.at.toISOString();
      const tally = record.reasons[sighting.reason];
      record.reasons[sighting.reason] = {
        count: (tally?.count ?? 0) + sighting.count - before,
        firstSeen: tally && tally.firstSeen < at ? tally.firstSeen : at,
        lastSeen: tally && tally.lastSeen > at ? tally.lastSeen : at,
        message: sighting.message,
        pod: sighting.pod,
      };
      if (sighting.pod && !record.pods.includes(sighting.pod)) record.pods = [...record.pods, sighting.pod].slice(-MAX_PODS);
      record.unposted = true;
      await this.#save(record);
      await this.redis.sadd(this.unpostedKey, id);
      return true;
    });
  }

  /** Saves the record after its parent was written; `id` leaves the unposted set once nothing waits. */
  async posted(record: WorkloadWarnings): Promise<void> {
    await this.#save(record);
    if (!record.unposted) await this.redis.srem(this.unpostedKey, workloadId(record.workload));
  }

  async unposted(): Promise<string[]> {
    return this.redis.smembers(this.unpostedKey);
  }

  /** A workload whose record expired: nothing to post. */
  async dropUnposted(id: string): Promise<void> {
    await this.redis.srem(this.unpostedKey, id);
  }
}
