import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { runBackup } from '../../commands/backup/dump.ts';
import { backupJob } from '../../jobs/backup.ts';
import { BACKUP_JOB } from '../../commands/backup/queues.ts';
import { backupVerifyJob } from '../../jobs/backup-verify.ts';
import { backupModule } from '../../commands/backup/index.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { runJob, testContext } from '../harness/context.ts';
import { testServices } from '../harness/env.ts';
import { addBulk, dbSettings, keys, multipartUploads, newStore, seededDatabase } from './helpers.ts';
import { waitFor } from './runtime.ts';

function contextFor(databaseUrl: string, bucket: string, role: 'operator' | 'viewer' = 'operator') {
  return testContext({
    role,
    userId: 'U0OPER0001',
    config: { database: { url: databaseUrl, binDir: testServices().postgres.binDir }, backup: { bucket } },
  });
}

describe('backup jobs through the harness context', () => {
  it('backup now records the job to start with the reason; the job writes the backup', async () => {
    const db = await seededDatabase(3);
    const store = await newStore();
    const ctx = contextFor(db.url, store.bucket);
    const now = backupModule.verbs.find((v) => v.path.join(' ') === 'backup now')!;
    await now.execute!({ trigger: 'manual', reason: 'schema change' }, ctx);
    expect(ctx.started).toEqual([{ name: BACKUP_JOB, data: { trigger: 'manual', reason: 'schema change' }, options: { channel: 'C0TEST', requestedBy: 'U0OPER0001' } }]);

    const result = await runJob(backupJob, ctx.started[0]!.data as { trigger: 'manual'; reason: string }, ctx);
    expect(result.reply.summary).toMatch(new RegExp(`^Backup ${db.name}-\\d{8}-\\d{4}\\.dump: `));
    expect(result.steps[0]).toBe(`pg_dump of ${db.name} → s3://${store.bucket}/db/ (custom format, compressed, streamed)`);
    expect(await keys(store.s3, store.bucket)).toHaveLength(1);
  });

  it('a cancelled backup aborts its multipart upload and leaves nothing', async () => {
    const db = await seededDatabase(3);
    await addBulk(db.url, 80);
    const store = await newStore();
    const ctx = contextFor(db.url, store.bucket);
    const controller = new AbortController();
    const running = runJob(backupJob, { trigger: 'manual' }, ctx, controller.signal).catch((e: unknown) => e);
    await waitFor('the multipart upload to start', async () => ((await multipartUploads(store.s3, store.bucket)) > 0 ? true : undefined));
    controller.abort();
    const error = await running;
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toBe('backup cancelled; no object was written');
    expect(await multipartUploads(store.s3, store.bucket)).toBe(0);
    expect(await keys(store.s3, store.bucket)).toEqual([]);
  });

  it('verify reports tables and rows, and fails the job on a bad checksum', async () => {
    const db = await seededDatabase(12);
    const store = await newStore();
    const ctx = contextFor(db.url, store.bucket);
    const backup = await runBackup({ ...store, db: dbSettings(db), startedBy: 'U1', reason: 'r' });

    const ok = await runJob(backupVerifyJob, { name: 'latest' }, ctx);
    expect(ok.reply.summary).toMatch(new RegExp(`^Backup ${backup.name} verified: checksum matches, 2 tables, 36 rows restored in \\d+s$`));
    expect(ok.reply.parts).toContainEqual({ kind: 'table', columns: ['table', 'rows'], rows: [['customers', '12'], ['orders', '24']] });

    const bad = `${db.name}-20200101-0000.dump`;
    await store.s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: `db/${bad}`, Body: 'not a dump', Metadata: { sha256: 'f'.repeat(64), database: db.name } }));
    await expect(runJob(backupVerifyJob, { name: bad }, ctx)).rejects.toThrow(new RegExp(`^Backup ${bad} failed verification: ${bad} has SHA-256`));
  });

  it('viewers can list; the list says where backups live when there are none', async () => {
    const store = await newStore();
    const ctx = contextFor('postgres://u@127.0.0.1:1/autostack', store.bucket, 'viewer');
    const list = backupModule.verbs.find((v) => v.path.join(' ') === 'backup list')!;
    const answer = await list.execute!({ count: 10 }, ctx);
    expect(answer.summary).toBe(`No backups in s3://${store.bucket}/db/ yet.`);
  });
});
