import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { runBackup } from '../../commands/backup/dump.ts';
import { writeFormat } from '../../commands/backup/format.ts';
import { backupDetails, listBackupObjects } from '../../commands/backup/objects.ts';
import type { BackupStore } from '../../commands/backup/objects.ts';
import { inspectRestore, restoreBackup, restorePlan } from '../../commands/backup/restore.ts';
import { testServices, uniqueName } from '../harness/env.ts';
import { addBulk, dbSettings, newStore, seededDatabase, sql } from './helpers.ts';

type Row = { id: number; name: string };
const customers = (url: string) => sql<Row>(url, 'SELECT id, name FROM customers ORDER BY id');
const counts = async (url: string) =>
  (await sql<{ c: string; o: string }>(url, 'SELECT (SELECT count(*) FROM customers) AS c, (SELECT count(*) FROM orders) AS o'))[0];

/** Changes that a restore must undo (or, when it fails, keep). */
async function changeAfterBackup(url: string): Promise<void> {
  await sql(url, "DELETE FROM orders WHERE customer_id <= 5; DELETE FROM customers WHERE id <= 5; UPDATE customers SET name = 'changed' WHERE id = 6; INSERT INTO customers VALUES (1000, 'new')");
}

/** Stores `bytes` as another backup with recorded metadata (as the bot writes it). */
async function putBackup(store: BackupStore, name: string, bytes: Buffer, meta: { sha256: string; size: number; database: string; format?: string }): Promise<void> {
  await store.s3.send(
    new PutObjectCommand({
      Bucket: store.bucket,
      Key: `${store.prefix}${name}`,
      Body: bytes,
      Metadata: { sha256: meta.sha256, size: String(meta.size), database: meta.database, 'pg-dump-version': '15.0', 'started-by': 'U1', ...(meta.format ? { format: meta.format } : {}) },
    }),
  );
}

async function objectBytes(store: BackupStore, key: string): Promise<Buffer> {
  const res = await store.s3.send(new GetObjectCommand({ Bucket: store.bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('restoreBackup', () => {
  it('brings back the rows of the backup into a database changed since, after a safety backup', async () => {
    const db = await seededDatabase(50);
    const store = await newStore();
    const before = await customers(db.url);
    const backup = await runBackup({ ...store, db: dbSettings(db), startedBy: 'U1', reason: 'before change', now: () => new Date(Date.UTC(2026, 0, 1, 2, 0)) });
    await changeAfterBackup(db.url);
    expect(await customers(db.url)).not.toEqual(before);

    const admin = dbSettings(testServices().postgres.url);
    const plan = restorePlan({ name: backup.name, target: db.name }, await inspectRestore({ name: backup.name, target: db.name }, { store, db: admin }));
    expect(plan.steps[0]).toMatch(/^Safety backup: pg_dump of /);
    expect(plan.steps[1]).toContain('pg_restore --clean --if-exists --single-transaction --exit-on-error');
    // Same inputs, same plan: the approval binds to it.
    expect(restorePlan({ name: backup.name, target: db.name }, await inspectRestore({ name: backup.name, target: db.name }, { store, db: admin }))).toEqual(plan);

    const steps: string[] = [];
    const result = await restoreBackup({ store, params: { name: backup.name, target: db.name }, db: admin, startedBy: 'U2', onStep: (t) => void steps.push(t) });

    expect(await customers(db.url)).toEqual(before);
    expect(await counts(db.url)).toEqual({ c: '50', o: '100' });
    expect(result.tables).toEqual([
      { schema: 'public', table: 'customers', rows: 50 },
      { schema: 'public', table: 'orders', rows: 100 },
    ]);
    expect(result.created).toBe(false);
    // The safety backup holds the changed rows.
    expect(result.safety).toBeDefined();
    const safety = await backupDetails(store, result.safety!.key);
    expect(safety.meta.reason).toBe(`safety backup before restore of ${backup.name}`);
    expect(safety.meta.startedBy).toBe('U2');
    expect((await listBackupObjects(store)).map((b) => b.name)).toEqual([result.safety!.name, backup.name]);
    expect(steps.some((s) => s.startsWith('Safety backup'))).toBe(true);
  });

  it('a truncated backup fails to restore and leaves the database exactly as it was', async () => {
    const db = await seededDatabase(50);
    await addBulk(db.url, 6);
    const store = await newStore();
    const backup = await runBackup({ ...store, db: dbSettings(db), startedBy: 'U1', reason: 'r' });
    await changeAfterBackup(db.url);
    const changed = await customers(db.url);

    const full = await objectBytes(store, backup.key);
    const truncated = full.subarray(0, Math.floor(full.length * 0.9));
    const name = `${db.name}-20260101-0100.dump`;
    await putBackup(store, name, truncated, { sha256: sha(truncated), size: truncated.length, database: db.name, format: writeFormat() });

    const error = await restoreBackup({ store, params: { name, target: db.name }, db: dbSettings(testServices().postgres.url), startedBy: 'U2' }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(new RegExp(`^restore of ${name} into ${db.name} failed: pg_restore`));
    expect((error as Error).message).toContain(`${db.name} is unchanged (the restore ran in a single transaction and was rolled back)`);
    expect(await customers(db.url)).toEqual(changed);
    expect(await counts(db.url)).toEqual({ c: '46', o: '90' });
    expect((await sql(db.url, 'SELECT count(*)::int AS n FROM bulk'))[0]).toEqual({ n: expect.any(Number) });
  });

  it('an intact dump whose bytes do not match the recorded checksum is never committed', async () => {
    const db = await seededDatabase(50);
    const store = await newStore();
    const backup = await runBackup({ ...store, db: dbSettings(db), startedBy: 'U1', reason: 'r' });
    await changeAfterBackup(db.url);
    const changed = await customers(db.url);

    // pg_restore alone would restore these bytes successfully; only the checksum says no.
    const bytes = await objectBytes(store, backup.key);
    const name = `${db.name}-20260101-0200.dump`;
    await putBackup(store, name, bytes, { sha256: sha(Buffer.from('something else')), size: bytes.length, database: db.name, format: writeFormat() });

    const error = await restoreBackup({ store, params: { name, target: db.name }, db: dbSettings(testServices().postgres.url), startedBy: 'U2' }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/has SHA-256 [0-9a-f]{12}… but [0-9a-f]{12}… was recorded/);
    expect((error as Error).message).toContain('is unchanged');
    expect(await customers(db.url)).toEqual(changed);
  });

  it('restores into a database that does not exist yet by creating it', async () => {
    const db = await seededDatabase(20);
    const store = await newStore();
    const backup = await runBackup({ ...store, db: dbSettings(db), startedBy: 'U1', reason: 'r' });
    const target = uniqueName('restored');
    const admin = dbSettings(testServices().postgres.url);
    const plan = restorePlan({ name: backup.name, target }, await inspectRestore({ name: backup.name, target }, { store, db: admin }));
    expect(plan.steps[0]).toBe(`Create database ${target} (it does not exist yet)`);
    try {
      const result = await restoreBackup({ store, params: { name: backup.name, target }, db: admin, startedBy: 'U2' });
      expect(result.created).toBe(true);
      expect(result.safety).toBeUndefined();
      const url = new URL(testServices().postgres.url);
      url.pathname = `/${target}`;
      expect(await counts(url.toString())).toEqual({ c: '20', o: '40' });
    } finally {
      await sql(testServices().postgres.url, `DROP DATABASE IF EXISTS ${target} WITH (FORCE)`);
    }
  });
});
