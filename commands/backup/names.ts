/**
 * Backup object names: `<prefix><database>-YYYYMMDD-HHMM.dump`, the time in UTC (whatever the
 * schedule's time zone), with `-2`, `-3`, ... when a name is already taken in the same minute.
 * Names sort by time; within a minute the suffix orders them.
 */

export interface BackupName {
  /** Object key without the prefix. */
  name: string;
  database: string;
  /** Start of the minute the backup began (UTC). */
  time: Date;
  /** 1 for the plain name, 2.. for a suffixed one. */
  seq: number;
}

const NAME = /^([A-Za-z0-9_][A-Za-z0-9_$-]*?)-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(?:-(\d{1,4}))?\.dump$/;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `20261128-0200` in UTC. */
export function stamp(time: Date): string {
  return `${time.getUTCFullYear()}${pad(time.getUTCMonth() + 1)}${pad(time.getUTCDate())}-${pad(time.getUTCHours())}${pad(time.getUTCMinutes())}`;
}

/** Characters a database name may bring into an object name. */
export function safeDatabasePart(database: string): string {
  return database.replace(/[^A-Za-z0-9_$-]/g, '_') || 'db';
}

export function backupName(database: string, time: Date, seq = 1): string {
  return `${safeDatabasePart(database)}-${stamp(time)}${seq > 1 ? `-${seq}` : ''}.dump`;
}

export function parseBackupName(name: string): BackupName | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const [, database, y, mo, d, h, mi, seq] = m;
  const time = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi)));
  if (Number.isNaN(time.getTime()) || time.getUTCMonth() !== Number(mo) - 1) return undefined;
  return { name, database: database!, time, seq: seq ? Number(seq) : 1 };
}

/** Newest first: by minute, then by suffix. */
export function compareNewestFirst(a: BackupName, b: BackupName): number {
  return b.time.getTime() - a.time.getTime() || b.seq - a.seq || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0);
}

/** The first free name for `database` at `time`, given the names already in the bucket. */
export function nextFreeName(database: string, time: Date, taken: Iterable<string>): string {
  const used = new Set(taken);
  for (let seq = 1; seq < 10_000; seq++) {
    const name = backupName(database, time, seq);
    if (!used.has(name)) return name;
  }
  throw new Error(`no free backup name for ${database} at ${stamp(time)}`);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function formatRate(bytes: number, ms: number): string {
  if (ms <= 0) return '-';
  return `${formatBytes(Math.round((bytes * 1000) / ms))}/s`;
}

/** `2026-11-28 02:00 UTC`. */
export function formatTime(time: Date): string {
  return `${time.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
