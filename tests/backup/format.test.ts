import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { pgDumpArgs, runBackup } from '../../commands/backup/dump.ts';
import { GZIP_FORMAT, ZSTD_FORMAT, writeFormat } from '../../commands/backup/format.ts';
import { backupDetails } from '../../commands/backup/objects.ts';
import { restoreBackup } from '../../commands/backup/restore.ts';
import { spawnTool } from '../../commands/backup/pg.ts';
import { verifyBackup } from '../../commands/backup/verify.ts';
import { testServices, uniqueName } from '../harness/env.ts';
import { addBulk, dbSettings, newStore, seededDatabase, sql } from './helpers.ts';

const admin = () => dbSettings(testServices().postgres.url);
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
/** node:zlib has zstd from Node.js 22.15 and 23.8. */
const zstdRuntime = major > 23 || (major === 23 && minor >= 8) || (major === 22 && minor >= 15);

async function restoredCounts(store: Awaited<ReturnType<typeof newStore>>, name: string): Promise<Array<{ table: string; rows: number }>> {
  const target = uniqueName('restored');
  try {
    const result = await restoreBackup({ store, params: { name, target }, db: admin(), startedBy: 'U2' });
    expect(result.created).toBe(true);
    return result.tables.map((t) => ({ table: t.table, rows: t.rows }));
  } finally {
    await sql(testServices().postgres.url, `DROP DATABASE IF EXISTS ${target} WITH (FORCE)`);
  }
}

/** pg_dump's own gzip custom format, stored the way the first versions of the bot stored it (no format entry). */
async function oldFormatBackup(db: Awaited<ReturnType<typeof seededDatabase>>, store: Awaited<ReturnType<typeof newStore>>, name: string): Promise<void> {
  const tool = spawnTool('pg_dump', pgDumpArgs(dbSettings(db), GZIP_FORMAT), dbSettings(db), { stdin: 'ignore', stdout: 'pipe' });
  const chunks: Buffer[] = [];
  for await (const chunk of tool.child.stdout!) chunks.push(chunk as Buffer);
  expect((await tool.exited).code).toBe(0);
  const bytes = Buffer.concat(chunks);
  expect(bytes.subarray(0, 5).toString()).toBe('PGDMP');
  await store.s3.send(
    new PutObjectCommand({
      Bucket: store.bucket,
      Key: `${store.prefix}${name}`,
      Body: bytes,
      Metadata: { database: db.name, sha256: createHash('sha256').update(bytes).digest('hex'), size: String(bytes.length), 'pg-dump-version': '15.0' },
    }),
  );
}

describe('backup formats', () => {
  it('writes zstd where the runtime has it; zstd, gzip and old unmarked backups restore to the same row counts', async () => {
    const db = await seededDatabase(40);
    await addBulk(db.url, 2);
    const store = await newStore();
    expect(writeFormat()).toBe(zstdRuntime ? ZSTD_FORMAT : GZIP_FORMAT);

    const current = await runBackup({ ...store, db: dbSettings(db), startedBy: 'U1', reason: 'current format', now: () => new Date(Date.UTC(2026, 0, 1, 1, 0)) });
    const gzip = await runBackup({ ...store, db: dbSettings(db), startedBy: 'U1', reason: 'gzip', format: GZIP_FORMAT, now: () => new Date(Date.UTC(2026, 0, 1, 2, 0)) });
    const oldName = `${db.name}-20260101-0300.dump`;
    await oldFormatBackup(db, store, oldName);

    expect((await backupDetails(store, current.key)).meta.format).toBe(writeFormat());
    expect((await backupDetails(store, gzip.key)).meta.format).toBe(GZIP_FORMAT);
    expect((await backupDetails(store, `${store.prefix}${oldName}`)).meta.format).toBe(GZIP_FORMAT);
    if (zstdRuntime) expect(current.size).toBeLessThan(gzip.size);

    const expected = [
      { table: 'bulk', rows: Number((await sql<{ n: string }>(db.url, 'SELECT count(*) AS n FROM bulk'))[0]!.n) },
      { table: 'customers', rows: 40 },
      { table: 'orders', rows: 80 },
    ];
    expect(await restoredCounts(store, current.name)).toEqual(expected);
    expect(await restoredCounts(store, gzip.name)).toEqual(expected);
    expect(await restoredCounts(store, oldName)).toEqual(expected);

    // Verify decompresses while streaming and checks the stored bytes' checksum.
    const verified = await verifyBackup({ store, name: current.name, db: admin() });
    expect(verified.problems).toEqual([]);
    expect(verified.actualSha256).toBe(current.sha256);
    expect(verified.bytes).toBe(current.size);
  });

  it('refuses a backup in a format it does not know before reading it, and changes nothing', async () => {
    const db = await seededDatabase(5);
    const store = await newStore();
    const bytes = Buffer.from('not a dump');
    const name = `${db.name}-20260101-0400.dump`;
    await store.s3.send(
      new PutObjectCommand({
        Bucket: store.bucket,
        Key: `${store.prefix}${name}`,
        Body: bytes,
        Metadata: { database: db.name, format: 'pg_dump-custom+brotli', sha256: createHash('sha256').update(bytes).digest('hex'), size: String(bytes.length), 'pg-dump-version': '15.0' },
      }),
    );
    const target = uniqueName('restored');
    const error = await restoreBackup({ store, params: { name, target }, db: admin(), startedBy: 'U2' }).catch((e: Error) => e);
    expect((error as Error).message).toContain(`${name} is stored as "pg_dump-custom+brotli", a format this version of the bot cannot read`);
    expect(await sql(testServices().postgres.url, 'SELECT 1 FROM pg_database WHERE datname = $1', [target])).toEqual([]);
  });
});
