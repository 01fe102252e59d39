/**
 * The newest backups with what each recorded: time, size, checksum state, who or what started it.
 */
import { backupDetails, listBackupObjects } from './objects.ts';
import type { BackupDetails, BackupStore } from './objects.ts';

export type ChecksumState = 'verified' | 'verify failed' | 'recorded' | 'size mismatch' | 'missing';

export interface ListedBackup extends BackupDetails {
  checksum: ChecksumState;
}

export function checksumState(b: BackupDetails): ChecksumState {
  if (!b.meta.sha256) return 'missing';
  if (b.meta.size !== undefined && b.meta.size !== b.size) return 'size mismatch';
  if (b.verification?.result === 'failed') return 'verify failed';
  if (b.verification?.result === 'ok') return 'verified';
  return 'recorded';
}

export async function listBackups(store: BackupStore, limit: number): Promise<{ backups: ListedBackup[]; total: number }> {
  const all = await listBackupObjects(store);
  const newest = all.slice(0, limit);
  const backups = await Promise.all(
    newest.map(async (b) => {
      try {
        const details = await backupDetails(store, b.key);
        return { ...details, checksum: checksumState(details) };
      } catch {
        // Deleted between listing and reading (retention running): show what the listing had.
        const details: BackupDetails = { ...b, meta: { database: b.database } };
        return { ...details, checksum: 'missing' as const };
      }
    }),
  );
  return { backups, total: all.length };
}
