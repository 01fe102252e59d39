/**
 * Declared incidents in Redis, one record per incident channel: severity, lead, status, the pinned
 * messages kept current, the announcement, the alert groups that were firing, and what happened
 * to the incident itself (declared, lead, severity, updates, resolved). Changes to one incident
 * are made under its lock, so two replicas or two quick commands never lose one another's change.
 */
import type { Redis } from 'ioredis';
import { UserFacingError } from '../../../src/core/types.ts';
import { withRedisLock } from '../../shared/redis-lock.ts';

export const SEVERITIES = ['sev1', 'sev2', 'sev3'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const PHASES = ['investigating', 'identified', 'monitoring'] as const;
export type Phase = (typeof PHASES)[number] | 'resolved';

/** What happened to the incident itself; commands, approvals and jobs come from the audit stream. */
export interface RoomEvent {
  at: string;
  by: string;
  kind: 'declared' | 'lead' | 'severity' | 'update' | 'resolved';
  text: string;
}

export interface IncidentRecord {
  /** The incident channel's ID. */
  channel: string;
  name: string;
  title: string;
  severity: Severity;
  phase: Phase;
  lead: string;
  declaredBy: string;
  declaredAt: string;
  /** The channel `incident declare` was typed in. */
  declaredIn: string;
  /** The pinned status message, kept current. */
  statusTs?: string;
  announcement?: { channel: string; ts: string };
  /** Alert groups (alert store IDs) firing while the incident was open. */
  alertGroups: string[];
  events: RoomEvent[];
  resolvedAt?: string;
  summary?: string;
}

/** Records outlive the incident long enough to write and re-read its report. */
const RECORD_TTL_SECONDS = 90 * 86_400;

export class IncidentRooms {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(channel: string): string {
    return `${this.prefix}:incidents:room:${channel}`;
  }

  async get(channel: string): Promise<IncidentRecord | undefined> {
    const raw = await this.redis.get(this.key(channel));
    return raw ? (JSON.parse(raw) as IncidentRecord) : undefined;
  }

  async save(record: IncidentRecord): Promise<void> {
    await this.redis.set(this.key(record.channel), JSON.stringify(record), 'EX', RECORD_TTL_SECONDS);
  }

  /** The incident of `channel`, changed by `change` under its lock; throws when the channel has none. */
  async change(channel: string, change: (record: IncidentRecord) => IncidentRecord | Promise<IncidentRecord>): Promise<IncidentRecord> {
    const done = await withRedisLock(this.redis, `${this.key(channel)}:lock`, async () => {
      const record = await this.require(channel);
      const next = await change(record);
      await this.save(next);
      return next;
    });
    if (!done) throw new UserFacingError('Another change to this incident is still being made; try again in a few seconds.');
    return done.value;
  }

  async require(channel: string): Promise<IncidentRecord> {
    const record = await this.get(channel);
    if (!record) throw new UserFacingError('This channel is not an incident channel: run the command in the channel `incident declare` created.');
    return record;
  }
}

export function incidentRooms(redis: Redis, prefix: string): IncidentRooms {
  return new IncidentRooms(redis, prefix);
}
