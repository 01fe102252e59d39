/**
 * Retention: delete backups older than `retentionDays`, but always keep the newest `keepAtLeast`
 * of each database. Only objects named like backups directly under the prefix are considered.
 */
import { listBackupObjects, deleteKeys, s3Failure } from './objects.ts';
import type { BackupObject, BackupStore } from './objects.ts';

export interface RetentionPolicy {
  retentionDays: number;
  keepAtLeast: number;
}

/** Which backups the policy removes (pure; `backups` in any order). */
export function expiredBackups(backups: BackupObject[], policy: RetentionPolicy, now: Date): BackupObject[] {
  const cutoff = now.getTime() - policy.retentionDays * 24 * 60 * 60 * 1000;
  const byDatabase = new Map<string, BackupObject[]>();
  for (const b of backups) byDatabase.set(b.database, [...(byDatabase.get(b.database) ?? []), b]);
  const expired: BackupObject[] = [];
  for (const group of byDatabase.values()) {
    const newestFirst = [...group].sort((a, b) => b.time.getTime() - a.time.getTime() || b.seq - a.seq);
    for (const b of newestFirst.slice(Math.max(0, policy.keepAtLeast))) {
      if (b.time.getTime() < cutoff) expired.push(b);
    }
  }
  return expired;
}

export interface RetentionResult {
  deleted: string[];
  failed: Array<{ key: string; error: string }>;
  kept: number;
}

export async function applyRetention(store: BackupStore, policy: RetentionPolicy, now: Date): Promise<RetentionResult> {
  const all = await listBackupObjects(store);
  const expired = expiredBackups(all, policy, now);
  if (expired.length === 0) return { deleted: [], failed: [], kept: all.length };
  let failed: RetentionResult['failed'];
  try {
    failed = await deleteKeys(
      store,
      expired.map((b) => b.key),
    );
  } catch (error) {
    throw s3Failure(error, 'DeleteObjects (retention)', store.bucket);
  }
  const failedKeys = new Set(failed.map((f) => f.key));
  const deleted = expired.filter((b) => !failedKeys.has(b.key)).map((b) => b.name);
  return { deleted, failed, kept: all.length - deleted.length };
}
