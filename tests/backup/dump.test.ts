import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { partSizeFor, runBackup } from '../../commands/backup/dump.ts';
import { ZSTD_FORMAT, writeFormat } from '../../commands/backup/format.ts';
import { listBackupObjects } from '../../commands/backup/objects.ts';
import { addBulk, dbSettings, head, keys, multipartUploads, newStore, seededDatabase } from './helpers.ts';

async function objectSha256(s3: import('@aws-sdk/client-s3').S3Client, bucket: string, key: string): Promise<{ sha: string; size: number }> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from(await res.Body!.transformToByteArray());
  return { sha: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}

describe('runBackup: pg_dump streamed into S3', () => {
  it('uploads a custom-format dump whose metadata records its real size and SHA-256', async () => {
    const db = await seededDatabase();
    const store = await newStore();
    const now = new Date(Date.UTC(2026, 10, 28, 2, 0, 17));
    const result = await runBackup({ ...store, db: dbSettings(db), startedBy: 'U0TEST1', reason: 'nightly — café', now: () => now });

    expect(result.name).toBe(`${db.name}-20261128-0200.dump`);
    expect(result.key).toBe(`db/${db.name}-20261128-0200.dump`);
    const actual = await objectSha256(store.s3, store.bucket, result.key);
    expect(actual.size).toBe(result.size);
    expect(actual.sha).toBe(result.sha256);

    const h = await head(store.s3, store.bucket, result.key);
    expect(h.Metadata?.sha256).toBe(actual.sha);
    expect(h.Metadata?.size).toBe(String(actual.size));
    expect(h.Metadata?.['pg-dump-version']).toMatch(/^\d+\.\d+/);
    expect(h.Metadata?.['server-version']).toMatch(/^\d+\.\d+/);
    expect(decodeURIComponent(h.Metadata?.['started-by'] ?? '')).toBe('U0TEST1');
    expect(decodeURIComponent(h.Metadata?.reason ?? '')).toBe('nightly — café');
    // How long it took, in whole milliseconds (backup list charts it).
    expect(h.Metadata?.['duration-ms']).toMatch(/^\d+$/);

    // Custom-format archives start with the magic "PGDMP"; zstd frames with 28 b5 2f fd.
    expect(h.Metadata?.format).toBe(writeFormat());
    const first = await store.s3.send(new GetObjectCommand({ Bucket: store.bucket, Key: result.key, Range: 'bytes=0-4' }));
    const magic = Buffer.from(await first.Body!.transformToByteArray());
    if (writeFormat() === ZSTD_FORMAT) expect(magic.subarray(0, 4).toString('hex')).toBe('28b52ffd');
    else expect(magic.toString()).toBe('PGDMP');

    const listed = await listBackupObjects(store);
    expect(listed.map((b) => b.key)).toEqual([result.key]);
  });

  it('adds a suffix when the minute already has a backup, and lists newest first', async () => {
    const db = await seededDatabase(5);
    const store = await newStore();
    const at = (m: number) => () => new Date(Date.UTC(2026, 0, 2, 3, m, 30));
    const a = await runBackup({ ...store, db: dbSettings(db), startedBy: 'schedule', reason: 'a', now: at(4) });
    const b = await runBackup({ ...store, db: dbSettings(db), startedBy: 'schedule', reason: 'b', now: at(4) });
    const c = await runBackup({ ...store, db: dbSettings(db), startedBy: 'schedule', reason: 'c', now: at(5) });
    expect(a.name).toBe(`${db.name}-20260102-0304.dump`);
    expect(b.name).toBe(`${db.name}-20260102-0304-2.dump`);
    const listed = await listBackupObjects(store);
    expect(listed.map((x) => x.name)).toEqual([c.name, b.name, a.name]);
  });

  it('streams a multi-part dump and records the checksum (multipart copy path too) in a versioned bucket', async () => {
    const db = await seededDatabase(10);
    await addBulk(db.url, 24);
    const store = await newStore({ versioned: true });
    const result = await runBackup({
      ...store,
      db: dbSettings(db),
      startedBy: 'U0TEST2',
      reason: 'big',
      partSize: 5 * 1024 * 1024,
      singleCopyLimit: 6 * 1024 * 1024,
      copyPartSize: 5 * 1024 * 1024,
    });
    expect(result.size).toBeGreaterThan(10 * 1024 * 1024);
    const actual = await objectSha256(store.s3, store.bucket, result.key);
    expect(actual).toEqual({ sha: result.sha256, size: result.size });
    const h = await head(store.s3, store.bucket, result.key);
    expect(h.Metadata?.sha256).toBe(result.sha256);
    // Only the final version (with the checksum) remains.
    const versions = await store.s3.send(new ListObjectVersionsCommand({ Bucket: store.bucket, Prefix: result.key }));
    expect((versions.Versions ?? []).map((v) => v.VersionId)).toEqual([result.versionId]);
    expect(await multipartUploads(store.s3, store.bucket)).toBe(0);
  });

  it('a multipart upload whose metadata is rewritten by a single copy downloads with its checksums intact', async () => {
    const db = await seededDatabase(10);
    await addBulk(db.url, 14);
    const store = await newStore();
    const result = await runBackup({ ...store, db: dbSettings(db), startedBy: 'U0TEST3', reason: 'mid', partSize: 5 * 1024 * 1024 });
    expect(result.size).toBeGreaterThan(5 * 1024 * 1024);
    // A full download: the SDK validates the object's CRC32 as well, then our SHA-256.
    const res = await store.s3.send(new GetObjectCommand({ Bucket: store.bucket, Key: result.key, ChecksumMode: 'ENABLED' }));
    const bytes = Buffer.from(await res.Body!.transformToByteArray());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(result.sha256);
    expect((await head(store.s3, store.bucket, result.key)).Metadata?.sha256).toBe(result.sha256);
  });

  it('sizes parts so even a very large database stays within 10,000 parts', () => {
    const mib = 1024 * 1024;
    expect(partSizeFor(0)).toBe(8 * mib);
    expect(partSizeFor(1.6e9)).toBe(8 * mib);
    const huge = 200 * 1024 ** 3;
    expect(partSizeFor(huge) % mib).toBe(0);
    expect(Math.ceil(huge / partSizeFor(huge))).toBeLessThanOrEqual(9_000);
  });

  it('refuses a wrong password before writing anything', async () => {
    const db = await seededDatabase(1);
    const store = await newStore();
    const url = new URL(db.url);
    url.password = 'not-the-password';
    const error = await runBackup({ ...store, db: dbSettings(url.toString()), startedBy: 'U1', reason: 'x' }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/refused the password for user "postgres"/);
    expect((error as Error).message).not.toContain('not-the-password');
    expect(await keys(store.s3, store.bucket)).toEqual([]);
  });

  it('says when the server is unreachable', async () => {
    const store = await newStore();
    const error = await runBackup({ ...store, db: dbSettings('postgres://postgres:pw@127.0.0.1:1/autostack'), startedBy: 'U1', reason: 'x' }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/cannot reach PostgreSQL at 127\.0\.0\.1:1/);
    expect(await keys(store.s3, store.bucket)).toEqual([]);
  });
});
