/**
 * The credentials the runbook rotates on a schedule (GitHub and Google OAuth, JWT secrets), their
 * rotation records in Redis and when each is due.
 *
 * Redis (no secret values: dates, Slack IDs, public OAuth client IDs), under redis.prefix:
 *   <prefix>:rotation:<credential>              hash: lastRotated (ISO), by, method; for OAuth also
 *                                               oldClientId, revokedAt, revokedBy
 *   <prefix>:rotation:revoked:<cred>:<ms>       marker: "old credentials revoked" recorded once per rotation
 */
import type { Redis } from 'ioredis';
import type { Config } from '../../src/config.ts';

export const CREDENTIALS = ['github', 'google', 'jwt'] as const;
export type Credential = (typeof CREDENTIALS)[number];
export type OAuthProvider = Extract<Credential, 'github' | 'google'>;

export const DAY_MS = 86_400_000;

export const CREDENTIAL_LABEL: Record<Credential, string> = {
  github: 'GitHub OAuth',
  google: 'Google OAuth',
  jwt: 'JWT secrets',
};

/** The command that rotates each credential. */
export const ROTATE_COMMAND: Record<Credential, string> = {
  github: '/autostack rotate github',
  google: '/autostack rotate google',
  jwt: '/autostack rotate jwt',
};

/** How the rotation was done: by the bot (from the one-time form, the staged Secret, generated) or outside it. */
export type RotationMethod = 'form' | 'staged-secret' | 'generated' | 'manual';

export const METHOD_LABEL: Record<RotationMethod, string> = {
  form: 'by the bot, values from the one-time form',
  'staged-secret': 'by the bot, values from the staged Secret',
  generated: 'by the bot, generated values',
  manual: 'outside the bot, recorded with rotate mark',
};

export interface RotationRecord {
  credential: Credential;
  lastRotated: Date;
  by: string;
  method: RotationMethod;
  /** OAuth: the client ID replaced by this rotation, to revoke at the provider. */
  oldClientId?: string;
  revokedAt?: Date;
  revokedBy?: string;
}

export function isCredential(value: string): value is Credential {
  return (CREDENTIALS as readonly string[]).includes(value);
}

export function rotationKey(prefix: string, credential: Credential): string {
  return `${prefix}:rotation:${credential}`;
}

export function intervalDays(config: Config, credential: Credential): number {
  return config.rotation[credential];
}

function validDate(text: string | undefined): Date | undefined {
  if (!text) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export class RotationRecords {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  static of(redis: Redis, config: Config): RotationRecords {
    return new RotationRecords(redis, config.redis.prefix);
  }

  async get(credential: Credential): Promise<RotationRecord | undefined> {
    const hash = await this.redis.hgetall(rotationKey(this.prefix, credential));
    const lastRotated = validDate(hash.lastRotated);
    if (!lastRotated) return undefined;
    return {
      credential,
      lastRotated,
      by: hash.by ?? '',
      method: (hash.method as RotationMethod | undefined) ?? 'manual',
      oldClientId: hash.oldClientId || undefined,
      revokedAt: validDate(hash.revokedAt),
      revokedBy: hash.revokedBy || undefined,
    };
  }

  async all(): Promise<Map<Credential, RotationRecord | undefined>> {
    const entries = await Promise.all(CREDENTIALS.map(async (c) => [c, await this.get(c)] as const));
    return new Map(entries);
  }

  /** Records a rotation; replaces the previous record (and its revocation fields). */
  async record(credential: Credential, at: Date, by: string, method: RotationMethod, oldClientId?: string): Promise<void> {
    const key = rotationKey(this.prefix, credential);
    const fields: Record<string, string> = { lastRotated: at.toISOString(), by, method };
    if (oldClientId) fields.oldClientId = oldClientId;
    await this.redis.multi().del(key).hset(key, fields).exec();
  }

  /**
   * Records that the old credentials of the rotation at `rotatedAt` were revoked at the provider;
   * once per rotation. Returns the earlier record when someone recorded it first.
   */
  async markRevoked(credential: OAuthProvider, rotatedAt: Date, by: string, at: Date): Promise<{ first: true } | { first: false; by: string; at: string }> {
    const marker = `${this.prefix}:rotation:revoked:${credential}:${rotatedAt.getTime()}`;
    const value = JSON.stringify({ by, at: at.toISOString() });
    const set = await this.redis.set(marker, value, 'EX', 400 * 86_400, 'NX');
    if (set !== 'OK') {
      const earlier = JSON.parse((await this.redis.get(marker)) ?? '{}') as { by?: string; at?: string };
      return { first: false, by: earlier.by ?? '?', at: earlier.at ?? '?' };
    }
    // The record shows it only while it still describes that rotation.
    const current = await this.get(credential);
    if (current && current.lastRotated.getTime() === rotatedAt.getTime()) {
      await this.redis.hset(rotationKey(this.prefix, credential), { revokedAt: at.toISOString(), revokedBy: by });
    }
    return { first: true };
  }
}

// ---------------------------------------------------------------------------------------------
// Due dates

export type DueState = 'ok' | 'due-soon' | 'overdue' | 'unknown';

export interface CredentialStatus {
  credential: Credential;
  state: DueState;
  intervalDays: number;
  record?: RotationRecord;
  dueAt?: Date;
  /** Whole days until due (ceil); negative when overdue. */
  daysLeft?: number;
}

export function credentialStatus(config: Config, credential: Credential, record: RotationRecord | undefined, now: Date): CredentialStatus {
  const interval = intervalDays(config, credential);
  if (!record) return { credential, state: 'unknown', intervalDays: interval };
  const dueAt = new Date(record.lastRotated.getTime() + interval * DAY_MS);
  const remaining = dueAt.getTime() - now.getTime();
  if (remaining <= 0) {
    return { credential, state: 'overdue', intervalDays: interval, record, dueAt, daysLeft: -Math.floor(-remaining / DAY_MS) };
  }
  const daysLeft = Math.ceil(remaining / DAY_MS);
  return { credential, state: daysLeft <= config.rotation.dueSoonDays ? 'due-soon' : 'ok', intervalDays: interval, record, dueAt, daysLeft };
}

export async function allStatuses(records: RotationRecords, config: Config, now: Date): Promise<CredentialStatus[]> {
  const all = await records.all();
  return CREDENTIALS.map((c) => credentialStatus(config, c, all.get(c), now));
}

export function isoDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** "overdue by 3 days", "due in 5 days", "ok (due in 80 days)", "unknown — record it with rotate mark". */
export function stateText(status: CredentialStatus): string {
  switch (status.state) {
    case 'unknown':
      return `unknown — record it with \`/autostack rotate mark ${status.credential} <date>\``;
    case 'overdue': {
      const days = -(status.daysLeft ?? 0);
      return days === 0 ? 'overdue since today' : `overdue by ${days} day${days === 1 ? '' : 's'}`;
    }
    case 'due-soon':
      return `due in ${status.daysLeft} day${status.daysLeft === 1 ? '' : 's'}`;
    case 'ok':
      return 'ok';
  }
}

const STATE_ICON: Record<DueState, string> = { ok: ':white_check_mark:', 'due-soon': ':hourglass_flowing_sand:', overdue: ':rotating_light:', unknown: ':grey_question:' };

export function stateIcon(state: DueState): string {
  return STATE_ICON[state];
}

/** The day in the given time zone as YYYY-MM-DD (the reminder's once-per-day key). */
export function dayIn(timeZone: string, at: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}
