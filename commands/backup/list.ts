/**
 * The newest backups with what each recorded: time, size, checksum state, who or what started it.
 */
import type { Chart } from '../../src/core/result.ts';
import { backupDetails, listBackupObjects } from './objects.ts';
import type { BackupDetails, BackupObject, BackupStore } from './objects.ts';
import { formatBytes, formatTime } from './names.ts';
import { formatDuration } from '../../src/core/durations.ts';

/** A backup under this share of the median of the ones before it is called out. */
const SMALL_SHARE = 0.5;
/** How many earlier backups the median is taken over. */
const COMPARED = 3;
const MIB = 1024 * 1024;

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

/** Backups much smaller than the ones before them: often a dump of an emptied or wrong database. */
export function smallBackups(backups: Array<Pick<BackupObject, 'name' | 'time' | 'size'>>): Array<{ name: string; time: Date; size: number; median: number }> {
  const oldestFirst = [...backups].sort((a, b) => a.time.getTime() - b.time.getTime());
  return oldestFirst.flatMap((b, i) => {
    const before = oldestFirst.slice(Math.max(0, i - COMPARED), i).map((p) => p.size).sort((x, y) => x - y);
    if (before.length === 0) return [];
    const median = before[Math.floor(before.length / 2)]!;
    return b.size < median * SMALL_SHARE ? [{ name: b.name, time: b.time, size: b.size, median }] : [];
  });
}

/** Backup size over time with the small ones highlighted; none for fewer than two backups. */
export function sizeChart(backups: Array<Pick<BackupObject, 'name' | 'time' | 'size'>>, where: string): Chart | undefined {
  if (backups.length < 2) return undefined;
  const oldestFirst = [...backups].sort((a, b) => a.time.getTime() - b.time.getTime());
  const small = smallBackups(backups);
  const newest = oldestFirst.at(-1)!;
  const alt = [
    `Size of the ${backups.length} newest backups in ${where}, ${formatTime(oldestFirst[0]!.time)} to ${formatTime(newest.time)}: newest ${formatBytes(newest.size)}`,
    ...small.map((b) => `${b.name} is ${formatBytes(b.size)}, under half of the ${formatBytes(b.median)} before it`),
  ].join('; ');
  return {
    title: `Backup size, ${backups.length} newest`,
    yTitle: 'MiB',
    series: [{ name: 'size', points: oldestFirst.map((b) => ({ at: b.time.getTime(), value: b.size / MIB })) }],
    highlights: small.map((b) => ({ at: b.time.getTime(), value: b.size / MIB, label: `${formatBytes(b.size)}: small` })),
    alt: `${alt}.`,
  };
}

/**
 * How long each backup took (pg_dump to the last byte uploaded), for the backups that recorded it;
 * none for fewer than two.
 */
export function durationChart(backups: Array<Pick<BackupDetails, 'time' | 'meta'>>, where: string): Chart | undefined {
  const timed = backups.flatMap((b) => (b.meta.durationMs !== undefined ? [{ time: b.time, durationMs: b.meta.durationMs }] : [])).sort((a, b) => a.time.getTime() - b.time.getTime());
  if (timed.length < 2) return undefined;
  const newest = timed.at(-1)!;
  const longest = timed.reduce((best, b) => (b.durationMs > best.durationMs ? b : best));
  return {
    title: `Backup duration, ${timed.length} newest`,
    yTitle: 'seconds',
    series: [{ name: 'duration', points: timed.map((b) => ({ at: b.time.getTime(), value: b.durationMs / 1000 })) }],
    alt: `Duration of the ${timed.length} newest backups in ${where} that recorded one, ${formatTime(timed[0]!.time)} to ${formatTime(newest.time)}: newest ${formatDuration(newest.durationMs)}, longest ${formatDuration(longest.durationMs)} (${formatTime(longest.time)}).`,
  };
}
