/**
 * Triage state in Redis, per alert group: where its step replies and summary are (so a refresh
 * edits them in place), the summary last shown (to mark it resolved), and the gate that lets one
 * triage through per refresh interval however many deliveries or replicas ask.
 */
import type { Redis } from 'ioredis';
import type { Reply } from '../../../src/core/result.ts';
import { RECORD_TTL_SECONDS } from '../../shared/alert-store.ts';

export interface TriageRecord {
  group: string;
  scenario: string;
  channel: string;
  /** The alert's status thread. */
  threadTs: string;
  /** Step replies by position, then the summary. */
  stepTs: string[];
  summaryTs?: string;
  summary?: Pick<Reply, 'summary' | 'parts'>;
  /** When the first triage of this firing started (ISO). */
  startedAt: string;
  ranAt: string;
  resolvedAt?: string;
}

export class TriageStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(group: string): string {
    return `${this.prefix}:triage:group:${group}`;
  }

  private gateKey(group: string): string {
    return `${this.prefix}:triage:gate:${group}`;
  }

  async get(group: string): Promise<TriageRecord | undefined> {
    const raw = await this.redis.get(this.key(group));
    return raw ? (JSON.parse(raw) as TriageRecord) : undefined;
  }

  async save(record: TriageRecord): Promise<void> {
    await this.redis.set(this.key(record.group), JSON.stringify(record), 'EX', RECORD_TTL_SECONDS);
  }

  async forget(group: string): Promise<void> {
    await this.redis.del(this.key(group), this.gateKey(group));
  }

  /**
   * Takes the group's triage slot for `intervalMs`: 'now' when this caller may triage, else the
   * milliseconds until the slot frees (one refresh may be scheduled for then).
   */
  async gate(group: string, intervalMs: number): Promise<{ now: true } | { now: false; waitMs: number }> {
    const taken = await this.redis.set(this.gateKey(group), '1', 'PX', intervalMs, 'NX');
    if (taken === 'OK') return { now: true };
    const left = await this.redis.pttl(this.gateKey(group));
    return { now: false, waitMs: Math.max(0, left) };
  }
}

export function triageStore(redis: Redis, prefix: string): TriageStore {
  return new TriageStore(redis, prefix);
}
