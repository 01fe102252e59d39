import { GetObjectCommand, GetObjectTaggingCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { runBackup } from '../../commands/backup/dump.ts';
import { listBackups } from '../../commands/backup/list.ts';
import { verifyBackup } from '../../commands/backup/verify.ts';
import { testServices } from '../harness/env.ts';
import { dbSettings, newStore, seededDatabase, sql } from './helpers.ts';

async function databaseExists(name: string): Promise<boolean> {
  return (await sql(testServices().postgres.url, 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length > 0;
}

describe('verifyBackup', () => {
  it('restores the latest backup into a scratch database, checks the checksum and counts rows, then drops it', async () => {
    const db = await seededDatabase(30);
    const store = await newStore();
    await runBackup({ ...store, db: dbSettings(db), startedBy: 'U1', reason: 'old', now: () => new Date(Date.UTC(2026, 0, 1)) });
    await sql(db.url, "INSERT INTO customers VALUES (999, 'late')");
    const latest = await runBackup({ ...store, db: dbSettings(db), startedBy: 'U1', reason: 'new', now: () => new Date(Date.UTC(2026, 0, 2)) });

    const result = await verifyBackup({ store, name: 'latest', db: dbSettings(db), now: () => new Date(Date.UTC(2026, 0, 3)) });
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.name).toBe(latest.name);
    expect(result.actualSha256).toBe(latest.sha256);
    expect(result.recordedSha256).toBe(latest.sha256);
    expect(result.bytes).toBe(latest.size);
    expect(result.scratch).toMatch(/^autostack_verify_[0-9a-f]{10}$/);
    expect(result.tables).toEqual([
      { schema: 'public', table: 'customers', rows: 31 },
      { schema: 'public', table: 'orders', rows: 60 },
    ]);
    expect(result.leftover).toBeUndefined();
    expect(await databaseExists(result.scratch)).toBe(false);

    const tags = await store.s3.send(new GetObjectTaggingCommand({ Bucket: store.bucket, Key: latest.key }));
    expect(tags.TagSet).toEqual(expect.arrayContaining([{ Key: 'verify-result', Value: 'ok' }, { Key: 'verified-at', Value: '2026-01-03T00:00:00.000Z' }]));
    const { backups } = await listBackups(store, 10);
    expect(backups.map((b) => [b.name, b.checksum])).toEqual([
      [latest.name, 'verified'],
      [`${db.name}-20260101-0000.dump`, 'recorded'],
    ]);
  });

  it('fails on a checksum mismatch, records the failure and still drops the scratch database', async () => {
    const db = await seededDatabase(10);
    const store = await newStore();
    const good = await runBackup({ ...store, db: dbSettings(db), startedBy: 'U1', reason: 'r' });
    const res = await store.s3.send(new GetObjectCommand({ Bucket: store.bucket, Key: good.key }));
    const bytes = Buffer.from(await res.Body!.transformToByteArray());
    const name = `${db.name}-20250101-0000.dump`;
    await store.s3.send(
      new PutObjectCommand({
        Bucket: store.bucket,
        Key: `db/${name}`,
        Body: bytes,
        Metadata: { sha256: '0'.repeat(64), size: String(bytes.length), database: db.name, 'pg-dump-version': good.pgDumpVersion },
      }),
    );

    const result = await verifyBackup({ store, name, db: dbSettings(db) });
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([expect.stringMatching(new RegExp(`^${name} has SHA-256 ${good.sha256.slice(0, 12)}… but 000000000000… was recorded`))]);
    expect(await databaseExists(result.scratch)).toBe(false);
    const { backups } = await listBackups(store, 10);
    expect(backups.find((b) => b.name === name)?.checksum).toBe('verify failed');
  });

  it('says which backup is unknown', async () => {
    const db = await seededDatabase(1);
    const store = await newStore();
    await expect(verifyBackup({ store, name: `${db.name}-20200101-0000.dump`, db: dbSettings(db) })).rejects.toThrow(
      `backup ${db.name}-20200101-0000.dump not found in s3://${store.bucket}/db/`,
    );
    await expect(verifyBackup({ store, name: 'latest', db: dbSettings(db) })).rejects.toThrow(`no backups in s3://${store.bucket}/db/`);
  });
});
