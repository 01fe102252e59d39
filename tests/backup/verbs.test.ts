import { planHash } from '../../src/core/operation.ts';
import { planOf } from '../harness/context.ts';
import { allJobs } from '../../jobs/index.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { backupModule } from '../../commands/backup/index.ts';
import { runBackup } from '../../commands/backup/dump.ts';
import { listBackupObjects } from '../../commands/backup/objects.ts';
import { formatBytes } from '../../commands/backup/names.ts';
import { verifyBackup } from '../../commands/backup/verify.ts';
import { backupRestoreJob } from '../../jobs/backup-restore.ts';
import { buildRegistry } from '../../src/core/registry.ts';
import type { Args, Verb } from '../../src/core/types.ts';
import { UsageError } from '../../src/core/types.ts';
import type { Part } from '../../src/core/result.ts';
import { uniqueName } from '../harness/env.ts';
import { dbSettings, newStore, seededDatabase, sql } from './helpers.ts';
import { OPS, backupConfig, commandContext, finished, startReplica, startSlack } from './runtime.ts';
import type { Replica } from './runtime.ts';

const slackPromise = startSlack();
const replicas: Replica[] = [];
afterAll(async () => {
  await Promise.allSettled(replicas.map((r) => r.system.close()));
  await (await slackPromise).close();
});

function verb(name: string): Verb<unknown> {
  const found = backupModule.verbs.find((v) => v.path.join(' ') === name);
  if (!found) throw new Error(`no verb ${name}`);
  return found as Verb<unknown>;
}

const args = (positional: string[], flags: Args['flags'] = {}): Args => ({ positional, flags });
const config = backupConfig({ databaseUrl: 'postgres://postgres@db.autostack.svc:5432/autostack', bucket: 'autostack-backups' });
const parse = (name: string, a: Args, c = config) => verb(name).parse(a, { config: c, actor: { id: 'U0OPER0001', role: 'operator' } });

describe('backup verbs: parsing', () => {
  it('registers cleanly with roles and guards as the runbook needs', () => {
    expect(() => buildRegistry([backupModule])).not.toThrow();
    expect(backupModule.verbs.map((v) => [v.path.join(' '), v.minRole, v.guard])).toEqual([
      ['backup now', 'operator', 'none'],
      ['backup list', 'viewer', 'none'],
      ['backup verify', 'operator', 'none'],
      ['backup restore', 'operator', 'approval'],
    ]);
  });

  it('backup now takes an optional free-text reason', () => {
    expect(parse('backup now', args([]))).toEqual({ trigger: 'manual' });
    expect(parse('backup now', args(['before', 'the', 'migration']))).toEqual({ trigger: 'manual', reason: 'before the migration' });
    expect(() => parse('backup now', args(['x'.repeat(201)]))).toThrow(new UsageError('the reason is 201 characters; keep it under 200'));
  });

  it('backup list takes n from 1 to 50', () => {
    expect(parse('backup list', args([]))).toEqual({ count: 10 });
    expect(parse('backup list', args(['3']))).toEqual({ count: 3 });
    expect(() => parse('backup list', args(['0']))).toThrow(new UsageError('n must be from 1 to 50, got 0'));
    expect(() => parse('backup list', args(['51']))).toThrow(UsageError);
    expect(() => parse('backup list', args(['ten']))).toThrow(new UsageError('n must be a whole number from 1 to 50, got "ten"'));
  });

  it('backup verify takes a backup name (prefix and backticks tolerated) or latest', () => {
    expect(parse('backup verify', args(['latest']))).toEqual({ name: 'latest' });
    expect(parse('backup verify', args(['`db/autostack-20261128-0200.dump`']))).toEqual({ name: 'autostack-20261128-0200.dump' });
    expect(() => parse('backup verify', args(['backup.sql']))).toThrow(/"backup\.sql" is not a backup name/);
  });

  it('backup restore needs an exact name; the target defaults to the configured database and must be typed by the approver', () => {
    expect(parse('backup restore', args(['autostack-20261128-0200-2.dump']))).toEqual({ name: 'autostack-20261128-0200-2.dump', target: 'autostack' });
    expect(parse('backup restore', args(['autostack-20261128-0200.dump'], { target: 'autostack_copy' }))).toEqual({ name: 'autostack-20261128-0200.dump', target: 'autostack_copy' });
    expect(() => parse('backup restore', args(['latest']))).toThrow(/restore needs the exact backup name/);
    expect(() => parse('backup restore', args(['autostack-20261128-0200.dump'], { target: 'x; DROP' }))).toThrow(/"x; DROP" is not a database name/);
    expect(() => parse('backup restore', args(['autostack-20261128-0200.dump'], { target: true }))).toThrow(/--target needs a database name/);
    const noDb = { ...config, database: { ...config.database, url: undefined } };
    expect(() => parse('backup restore', args(['autostack-20261128-0200.dump']), noDb)).toThrow(/pass --target <database>/);
    expect(verb('backup restore').approverMustType!({ name: 'autostack-20261128-0200.dump', target: 'autostack' })).toEqual({
      label: 'Type the name of the database that will be overwritten (autostack)',
      expected: 'autostack',
    });
  });
});

describe('backup verbs: execution', () => {
  it('backup list shows newest first with time, size, checksum state and who started each', async () => {
    const slack = await slackPromise;
    const db = await seededDatabase(5);
    const store = await newStore();
    const cfg = backupConfig({ databaseUrl: db.url, bucket: store.bucket });
    const replica = await startReplica({ config: cfg, slack, prefix: uniqueName('bq'), jobs: allJobs });
    replicas.push(replica);
    const a = await runBackup({ ...store, db: dbSettings(db), startedBy: 'schedule', reason: 'daily schedule', now: () => new Date(Date.UTC(2026, 10, 27, 2, 0)) });
    const b = await runBackup({ ...store, db: dbSettings(db), startedBy: 'U0OPER0001', reason: 'before deploy', now: () => new Date(Date.UTC(2026, 10, 28, 9, 15)) });
    await verifyBackup({ store, name: a.name, db: dbSettings(db), now: () => new Date(Date.UTC(2026, 10, 27, 3, 0)) });

    const ctx = commandContext({ config: cfg, slack, jobs: replica.system });
    const result = await verb('backup list').execute!({ count: 10 }, ctx);
    expect(result.summary).toBe(`2 newest of 2 backups in s3://${store.bucket}/db/`);
    const t = result.parts.find((p): p is Extract<Part, { kind: 'table' }> => p.kind === 'table')!;
    expect(t.columns).toEqual(['name', 'time', 'size', 'checksum', 'started by', 'reason']);
    expect(t.rows).toEqual([
      [b.name, '2026-11-28 09:15 UTC', formatBytes(b.size), 'recorded', '<@U0OPER0001>', 'before deploy'],
      [a.name, '2026-11-27 02:00 UTC', formatBytes(a.size), 'verified 2026-11-27', 'schedule', 'daily schedule'],
    ]);
  });

  it('backup now starts the backup job, whose thread reports the result', async () => {
    const slack = await slackPromise;
    const db = await seededDatabase(5);
    const store = await newStore();
    const cfg = backupConfig({ databaseUrl: db.url, bucket: store.bucket });
    const replica = await startReplica({ config: cfg, slack, prefix: uniqueName('bq'), jobs: allJobs });
    replicas.push(replica);
    const ctx = commandContext({ config: cfg, slack, jobs: replica.system });
    const answer = await verb('backup now').execute!({ trigger: 'manual', reason: 'hotfix' }, ctx);
    expect(answer.summary).toMatch(new RegExp(`^Backing up the database to s3://${store.bucket}/db/`));
    const [job] = await replica.system.queue.getJobs(['waiting', 'active', 'completed', 'delayed']);
    const done = await finished(replica.system, job!.id!);
    expect(done.failedReason).toBeUndefined();
    const objects = await listBackupObjects(store);
    expect(objects).toHaveLength(1);
    const parent = slack.channelMessages(OPS).find((m) => m.ts === (done.data as { meta: { parentTs: string } }).meta.parentTs)!;
    expect(parent.text).toMatch(/^Database backup: hotfix: Succeeded/);
  });

  it('backup restore: the approved job inspects and plans again, then restores the backup', async () => {
    const slack = await slackPromise;
    const db = await seededDatabase(20);
    const store = await newStore();
    const cfg = backupConfig({ databaseUrl: db.url, bucket: store.bucket });
    const replica = await startReplica({ config: cfg, slack, prefix: uniqueName('bq'), jobs: allJobs });
    replicas.push(replica);
    const backup = await runBackup({ ...store, db: dbSettings(db), startedBy: 'U1', reason: 'r' });
    await sql(db.url, 'DELETE FROM orders; DELETE FROM customers');

    const ctx = commandContext({ config: cfg, slack, jobs: replica.system });
    const params = { name: backup.name, target: db.name };
    const plan = await planOf(verb('backup restore'), params, ctx);
    expect(plan.title).toBe(`Restore ${backup.name} into database ${db.name}`);

    const ref = await replica.system.start(backupRestoreJob.name, params, { channel: ctx.channel, requestedBy: ctx.actor.id, approved: { verb: 'backup restore', hash: planHash('backup restore', params, plan) } });
    const answer = await backupRestoreJob.operation!.started!(params, ref, ctx);
    expect(answer.summary).toMatch(new RegExp(`^Restoring ${backup.name} into ${db.name} \\(safety backup first\\)`));
    const [job] = (await replica.system.queue.getJobs(['waiting', 'active', 'completed', 'failed'])).filter((j) => j.name === backupRestoreJob.name);
    const done = await finished(replica.system, job!.id!);
    expect(done.failedReason).toBeUndefined();
    expect(await sql(db.url, 'SELECT count(*)::int AS n FROM customers')).toEqual([{ n: 20 }]);
    expect(replica.audits.find((e) => e.action === 'backup restore')).toMatchObject({ result: 'restored', detail: '2 tables, 60 rows' });
    // The safety backup holds the emptied tables.
    expect((await listBackupObjects(store)).length).toBe(2);
  });
});
