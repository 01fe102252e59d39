/**
 * What the IAM area keeps in Redis (no secrets: names, ARNs, Slack IDs, timestamps), under the
 * configured key prefix (redis.prefix, default "autostack"):
 *   <prefix>:iam:rotation:<id>                a rotation (hash: record JSON, status, verifiedBy, detail, attempts)
 *   <prefix>:iam:rotation:by-role:<role>      the id of the rotation in progress for that role
 *   <prefix>:iam:current-role:<base name>     the role's name after its last rotation (X → XV2)
 *   <prefix>:iam:review:<base name>:last      when the last role review was posted (ISO)
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../../src/config.ts';
import { baseRoleName } from './requirements.ts';

export type RotationStatus = 'awaiting-verification' | 'deleting' | 'delete-failed' | 'done';

/** Fixed once the new role exists. */
export interface RotationRecord {
  id: string;
  oldRole: string;
  oldArn: string;
  newRole: string;
  newArn: string;
  requestedBy: string;
  channel: string;
  threadTs?: string;
  createdAt: string;
  inline: string[];
  managed: string[];
}

export interface Rotation extends RotationRecord {
  status: RotationStatus;
  verifiedBy?: string;
  detail?: string;
  attempts: number;
}

/** Finished rotations stay readable for a while (late clicks get a clear answer). */
const DONE_TTL_SECONDS = 90 * 86_400;

export function newRotationId(): string {
  return randomUUID().replace(/-/g, '').slice(0, 16);
}

export function isRotationId(value: string): boolean {
  return /^[a-f0-9]{16}$/.test(value);
}

const TRANSITION = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
local allowed = false
for i = 3, #ARGV do
  if status == ARGV[i] then allowed = true end
end
if not allowed then return status end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
local fields = cjson.decode(ARGV[2])
for k, v in pairs(fields) do redis.call('HSET', KEYS[1], k, v) end
if ARGV[1] == 'deleting' then redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
return 'ok'
`;

function roleVersion(name: string): number {
  const match = /V(\d+)$/.exec(name);
  return match && Number(match[1]) >= 2 ? Number(match[1]) : 1;
}

export class IamState {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  rotationKey(id: string): string {
    return `${this.prefix}:iam:rotation:${id}`;
  }

  private byRoleKey(role: string): string {
    return `${this.prefix}:iam:rotation:by-role:${role}`;
  }

  private currentRoleKey(base: string): string {
    return `${this.prefix}:iam:current-role:${base}`;
  }

  reviewKey(base: string): string {
    return `${this.prefix}:iam:review:${base}:last`;
  }

  /** Marks `role` as being rotated; false when another rotation of it is in progress. */
  async claimRole(role: string, id: string): Promise<boolean> {
    return (await this.redis.set(this.byRoleKey(role), id, 'NX')) === 'OK';
  }

  async activeRotationFor(role: string): Promise<string | undefined> {
    return (await this.redis.get(this.byRoleKey(role))) ?? undefined;
  }

  /** Releases the claim, only if it is still this rotation's. */
  async releaseRole(role: string, id: string): Promise<void> {
    await this.redis.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`, 1, this.byRoleKey(role), id);
  }

  async saveRotation(record: RotationRecord, status: RotationStatus): Promise<void> {
    await this.redis.hset(this.rotationKey(record.id), { record: JSON.stringify(record), status, attempts: '0' });
  }

  async loadRotation(id: string): Promise<Rotation | undefined> {
    if (!isRotationId(id)) return undefined;
    const hash = await this.redis.hgetall(this.rotationKey(id));
    if (!hash.record || !hash.status) return undefined;
    return {
      ...(JSON.parse(hash.record) as RotationRecord),
      status: hash.status as RotationStatus,
      attempts: Number(hash.attempts ?? '0'),
      ...(hash.verifiedBy ? { verifiedBy: hash.verifiedBy } : {}),
      ...(hash.detail ? { detail: hash.detail } : {}),
    };
  }

  /**
   * Atomically moves a rotation from one of `from` to `to` (two clicks at once: one wins).
   * Returns 'ok', 'missing' or the status it was in.
   */
  async transition(id: string, from: RotationStatus[], to: RotationStatus, fields: Partial<Record<'verifiedBy' | 'detail', string>> = {}): Promise<'ok' | 'missing' | RotationStatus> {
    const result = (await this.redis.eval(TRANSITION, 1, this.rotationKey(id), to, JSON.stringify(fields), ...from)) as string;
    if (result === 'ok' && to === 'done') await this.redis.expire(this.rotationKey(id), DONE_TTL_SECONDS);
    return result as 'ok' | 'missing' | RotationStatus;
  }

  async setDetail(id: string, detail: string): Promise<void> {
    await this.redis.hset(this.rotationKey(id), 'detail', detail);
  }

  /**
   * The role IAM commands act on by default: the configured one, or its successor once the bot
   * rotated it (X → XV2) and the configuration was not updated yet; the higher version wins.
   */
  async currentRoleName(config: Config): Promise<string> {
    const configured = config.iam.roleName;
    const rotated = await this.redis.get(this.currentRoleKey(baseRoleName(configured)));
    return rotated && roleVersion(rotated) > roleVersion(configured) ? rotated : configured;
  }

  async setCurrentRoleName(role: string): Promise<void> {
    await this.redis.set(this.currentRoleKey(baseRoleName(role)), role);
  }

  async markReviewed(role: string, at: Date): Promise<void> {
    await this.redis.set(this.reviewKey(baseRoleName(role)), at.toISOString());
  }
}

export function iamState(redis: Redis, config: Config): IamState {
  return new IamState(redis, config.redis.prefix);
}
