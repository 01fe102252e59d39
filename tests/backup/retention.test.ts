import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { backupName, parseBackupName } from '../../commands/backup/names.ts';
import type { BackupObject } from '../../commands/backup/objects.ts';
import { applyRetention, expiredBackups } from '../../commands/backup/retention.ts';
import { keys, newStore } from './helpers.ts';

const DAY = 24 * 60 * 60 * 1000;
const now = new Date(Date.UTC(2026, 10, 28, 2, 30));
const daysAgo = (d: number) => new Date(Date.UTC(2026, 10, 28, 2, 0) - d * DAY);

function obj(database: string, time: Date, seq = 1): BackupObject {
  const name = backupName(database, time, seq);
  return { ...parseBackupName(name)!, key: `db/${name}`, size: 1 };
}

describe('retention', () => {
  it('selects backups older than the retention period beyond the newest keepAtLeast, per database', () => {
    const daily = Array.from({ length: 12 }, (_, d) => obj('autostack', daysAgo(d)));
    const other = [obj('other', daysAgo(100)), obj('other', daysAgo(90))];
    const expired = expiredBackups([...daily, ...other], { retentionDays: 5, keepAtLeast: 7 }, now);
    // Days 0..6 are the newest seven; of the rest, days 7..11 are older than 5 days.
    expect(expired.map((b) => b.name).sort()).toEqual(daily.slice(7).map((b) => b.name).sort());
    // Everything older than the retention period, but only two exist: both kept.
    expect(expiredBackups(other, { retentionDays: 30, keepAtLeast: 7 }, now)).toEqual([]);
    // Young backups are kept even beyond keepAtLeast.
    expect(expiredBackups(daily, { retentionDays: 30, keepAtLeast: 2 }, now)).toEqual([]);
  });

  it('deletes expired backups in S3 and leaves unrelated objects alone', async () => {
    const store = await newStore();
    const put = (Key: string) => store.s3.send(new PutObjectCommand({ Bucket: store.bucket, Key, Body: 'x' }));
    const names = Array.from({ length: 10 }, (_, d) => backupName('autostack', daysAgo(d * 10)));
    for (const name of names) await put(`db/${name}`);
    await put('db/notes.txt');
    await put('db/archive/autostack-20200101-0000.dump');
    await put('other/autostack-20200101-0000.dump');

    const result = await applyRetention(store, { retentionDays: 30, keepAtLeast: 7 }, now);
    // Newest seven (0..60 days) kept although four of them are older than 30 days; 70, 80, 90 go.
    expect(result.deleted.sort()).toEqual(names.slice(7).sort());
    expect(result.failed).toEqual([]);
    expect(result.kept).toBe(7);
    expect((await keys(store.s3, store.bucket)).sort()).toEqual(
      [...names.slice(0, 7).map((n) => `db/${n}`), 'db/notes.txt', 'db/archive/autostack-20200101-0000.dump', 'other/autostack-20200101-0000.dump'].sort(),
    );
  });
});
