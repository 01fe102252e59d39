/**
 * Alert groups in Redis: for each Alertmanager group (its groupKey), the incident-channel message
 * that is its status thread, the state last shown there and a digest of it, so a repeated or
 * retried delivery changes nothing. Open (firing) groups are also in a sorted set for the Home tab
 * and the metrics. A per-group lock serializes deliveries of one group (Alertmanager retries, bot
 * replicas). Records expire RECORD_TTL_SECONDS after their last change.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { withRedisLock } from './redis-lock.ts';

export type AlertStatus = 'firing' | 'resolved';

export const RECORD_TTL_SECONDS = 30 * 86_400;
/** Resolved alerts remembered per group, to recognize a late retry of an older "firing". */
export const MAX_REMEMBERED = 200;

export interface AlertSummary {
  fingerprint: string;
  status: AlertStatus;
  startsAt: string;
  labels: Record<string, string>;
}

export interface GroupRecord {
  id: string;
  groupKey: string;
  alertname: string;
  severity?: string;
  /** The summary annotation shown in the thread (for the Home tab). */
  summary?: string;
  channel: string;
  /** The parent message of the status thread. */
  ts: string;
  status: AlertStatus;
  digest: string;
  alerts: AlertSummary[];
  /** fingerprint → startsAt of alerts seen resolved. */
  resolved: Record<string, string>;
  openedAt: string;
  updatedAt: string;
  /** Who acknowledged the group while it fires; cleared when it fires again after resolving. */
  acknowledged?: { by: string; at: string };
  /** The Alertmanager silence made from the thread, until it is expired from there. */
  silence?: AlertSilence;
  /** The last notification as delivered (the alerts area's webhook payload), to redraw the parent message. */
  payload?: unknown;
}

export interface AlertSilence {
  id: string;
  by: string;
  endsAt: string;
  /** The thread reply that shows it, with its Unsilence button. */
  replyTs: string;
}

export function groupId(groupKey: string): string {
  return createHash('sha256').update(groupKey).digest('hex').slice(0, 32);
}

export class AlertGroups {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private recordKey(id: string): string {
    return `${this.prefix}:alerts:group:${id}`;
  }

  get openKey(): string {
    return `${this.prefix}:alerts:open`;
  }

  async get(id: string): Promise<GroupRecord | undefined> {
    const raw = await this.redis.get(this.recordKey(id));
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as GroupRecord;
    } catch {
      return undefined;
    }
  }

  async save(record: GroupRecord): Promise<void> {
    const tx = this.redis.multi().set(this.recordKey(record.id), JSON.stringify(record), 'EX', RECORD_TTL_SECONDS);
    if (record.status === 'firing') tx.zadd(this.openKey, Date.parse(record.openedAt) || 0, record.id);
    else tx.zrem(this.openKey, record.id);
    const results = await tx.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0]!;
  }

  /** Open groups, oldest first (records that expired are dropped from the set on the way). */
  async open(limit = 50): Promise<GroupRecord[]> {
    const ids = await this.redis.zrange(this.openKey, 0, limit - 1);
    const out: GroupRecord[] = [];
    for (const id of ids) {
      const record = await this.get(id);
      if (record && record.status === 'firing') out.push(record);
      else await this.redis.zrem(this.openKey, id);
    }
    return out;
  }

  async openCount(): Promise<number> {
    return this.redis.zcard(this.openKey);
  }

  /**
   * Runs `work` while holding the group's lock (SET NX PX, released with compare-and-delete).
   * Waits up to `waitMs` for another delivery of the same group; undefined if it could not.
   */
  withLock<T>(id: string, work: () => Promise<T>, options: { ttlMs?: number; waitMs?: number } = {}): Promise<{ value: T } | undefined> {
    return withRedisLock(this.redis, `${this.prefix}:alerts:lock:${id}`, work, options);
  }
}

export function alertGroups(redis: Redis, prefix: string): AlertGroups {
  return new AlertGroups(redis, prefix);
}
