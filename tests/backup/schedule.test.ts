import { allJobs } from '../../jobs/index.ts';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { backupModule, dailyBackupSchedule } from '../../commands/backup/index.ts';
import { listBackupObjects } from '../../commands/backup/objects.ts';
import { backupName } from '../../commands/backup/names.ts';
import { backupJob } from '../../jobs/backup.ts';
import { BACKUP_JOB } from '../../commands/backup/queues.ts';
import type { JobDefinition } from '../../src/core/types.ts';
import { redisConnection, uniqueName } from '../harness/env.ts';
import { lockKey } from '../../commands/backup/lock.ts';
import { newStore, seededDatabase } from './helpers.ts';
import { INCIDENT, OPS, backupConfig, finished, queueOf, startReplica, startSlack, waitFor } from './runtime.ts';
import type { Replica } from './runtime.ts';

const slackPromise = startSlack();
const replicas: Replica[] = [];
afterAll(async () => {
  await Promise.allSettled(replicas.map((r) => r.system.close()));
  await (await slackPromise).close();
});

describe('daily backup schedule', () => {
  it('declares the configured cron pattern and time zone, and is off without a database', () => {
    const config = backupConfig({ databaseUrl: 'postgres://u@h/autostack', bucket: 'b' });
    expect(dailyBackupSchedule.cron(config)).toEqual({ pattern: '0 2 * * *', tz: 'UTC' });
    expect(dailyBackupSchedule.job).toBe(BACKUP_JOB);
    expect(backupModule.schedules).toContain(dailyBackupSchedule);
    expect(dailyBackupSchedule.cron({ ...config, database: { ...config.database, url: undefined } })).toBeUndefined();
  });

  it('runs each slot exactly once across two replicas, one backup object per slot, result posted to ops', async () => {
    const slack = await slackPromise;
    const db = await seededDatabase(10);
    const store = await newStore();
    const config = backupConfig({ databaseUrl: db.url, bucket: store.bucket });
    // Every two seconds (6-field cron with seconds) instead of daily, through the real schedule.
    config.backup.schedule = '*/2 * * * * *';
    const processed: string[] = [];
    const counted: JobDefinition<unknown> = {
      ...(backupJob as JobDefinition<unknown>),
      process: async (run) => {
        processed.push(run.id);
        return (backupJob as JobDefinition<unknown>).process(run);
      },
    };
    const prefix = uniqueName('bq');
    const a = await startReplica({ config, slack, prefix, jobs: [counted] });
    const b = await startReplica({ config, slack, prefix, jobs: [counted] });
    replicas.push(a, b);
    // Both replicas register the schedule at start-up, as every replica does.
    await a.system.registerSchedules([dailyBackupSchedule]);
    await b.system.registerSchedules([dailyBackupSchedule]);

    await waitFor('three scheduled backups', async () => ((await listBackupObjects(store)).length >= 3 ? true : undefined));
    await a.system.queue.removeJobScheduler(dailyBackupSchedule.name);
    await a.system.close();
    await b.system.close();

    const queue = queueOf(prefix);
    const completed = await queue.getJobs(['completed']);
    const failed = await queue.getJobs(['failed']);
    await queue.close();
    expect(failed.map((j) => j.failedReason)).toEqual([]);
    const slotIds = completed.map((j) => j.id!);
    expect(slotIds.every((id) => id.startsWith(`repeat:${dailyBackupSchedule.name}:`))).toBe(true);
    expect(new Set(slotIds).size).toBe(slotIds.length);
    // Each slot was processed once, by one replica.
    expect([...processed].sort()).toEqual([...slotIds].sort());

    // One backup object per slot, each naming its slot's job.
    const objects = await listBackupObjects(store);
    expect(objects.length).toBe(slotIds.length);
    const jobIds = await Promise.all(
      objects.map(async (o) => decodeURIComponent((await store.s3.send(new HeadObjectCommand({ Bucket: store.bucket, Key: o.key }))).Metadata?.['job-id'] ?? '')),
    );
    expect(jobIds.sort()).toEqual([...slotIds].sort());
    const startedBy = (await store.s3.send(new HeadObjectCommand({ Bucket: store.bucket, Key: objects[0]!.key }))).Metadata?.['started-by'];
    expect(startedBy).toBe('schedule');

    // The one-line result of each run is in the ops channel.
    const parents = slack.channelMessages(OPS).filter((m) => m.text.startsWith('Scheduled database backup'));
    expect(parents.length).toBe(slotIds.length);
    expect(parents.every((m) => /Succeeded/.test(m.text))).toBe(true);
    expect(slack.channelMessages(INCIDENT)).toEqual([]);
  });

  it('a failing scheduled run pages the incident channel; a manual failure does not', async () => {
    const slack = await slackPromise;
    const store = await newStore();
    const config = backupConfig({ databaseUrl: 'postgres://postgres:pw@127.0.0.1:1/autostack', bucket: store.bucket });
    const replica = await startReplica({ config, slack, prefix: uniqueName('bq'), jobs: allJobs });
    replicas.push(replica);
    const before = slack.channelMessages(INCIDENT).length;

    const scheduled = await replica.system.start(BACKUP_JOB, { trigger: 'schedule' }, { channel: OPS, requestedBy: 'schedule' });
    const job = await finished(replica.system, scheduled.id);
    expect(job.failedReason).toBe('cannot reach PostgreSQL at 127.0.0.1:1 (ECONNREFUSED)');
    const pages = slack.channelMessages(INCIDENT).slice(before);
    expect(pages.map((m) => m.text)).toEqual([
      expect.stringMatching(/^:rotating_light: The scheduled database backup failed: cannot reach PostgreSQL at 127\.0\.0\.1:1 \(ECONNREFUSED\)/),
    ]);
    expect(pages[0]!.text).not.toContain(':pw@');

    const manual = await replica.system.start(BACKUP_JOB, { trigger: 'manual', reason: 'test' }, { channel: OPS, requestedBy: 'U0OPER0001' });
    await finished(replica.system, manual.id);
    expect(slack.channelMessages(INCIDENT).length).toBe(before + 1);
    expect(await listBackupObjects(store)).toEqual([]);
  });

  it('a scheduled run while another backup of the database runs is skipped, not paged', async () => {
    const slack = await slackPromise;
    const db = await seededDatabase(1);
    const store = await newStore();
    const config = backupConfig({ databaseUrl: db.url, bucket: store.bucket });
    const replica = await startReplica({ config, slack, prefix: uniqueName('bq'), jobs: allJobs });
    replicas.push(replica);
    const redis = redisConnection();
    await redis.set(lockKey(config.redis.prefix, db.name), 'manual-job-7|backup', 'PX', 60_000);
    const before = slack.channelMessages(INCIDENT).length;

    const ref = await replica.system.start(BACKUP_JOB, { trigger: 'schedule' }, { channel: OPS, requestedBy: 'schedule' });
    const job = await finished(replica.system, ref.id);
    expect(job.failedReason).toBeUndefined();
    expect(job.returnvalue).toEqual({ summary: `Skipped: a backup of ${db.name} (job manual-job-7) was already running` });
    expect(slack.channelMessages(INCIDENT).length).toBe(before);
    expect(await listBackupObjects(store)).toEqual([]);
    await redis.del(lockKey(config.redis.prefix, db.name));
  });

  it('a manual backup shows bytes, rate and duration in its thread, applies retention and audits the deletions', async () => {
    const slack = await slackPromise;
    const db = await seededDatabase(10);
    const store = await newStore();
    const old = [backupName(db.name, new Date(Date.UTC(2020, 0, 1))), backupName(db.name, new Date(Date.UTC(2020, 0, 2)))];
    for (const name of old) await store.s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: `db/${name}`, Body: 'old' }));
    const config = backupConfig({ databaseUrl: db.url, bucket: store.bucket, retentionDays: 30, keepAtLeast: 2 });
    const replica = await startReplica({ config, slack, prefix: uniqueName('bq'), jobs: allJobs });
    replicas.push(replica);

    const ref = await replica.system.start(BACKUP_JOB, { trigger: 'manual', reason: 'before migration' }, { channel: OPS, requestedBy: 'U0OPER0001' });
    const job = await finished(replica.system, ref.id);
    expect(job.failedReason).toBeUndefined();
    const objects = await listBackupObjects(store);
    // Keep at least two: the new one and the newer of the old ones.
    expect(objects.map((o) => o.name)).toEqual([expect.stringMatching(new RegExp(`^${db.name}-\\d{8}-\\d{4}\\.dump$`)), old[1]]);
    const thread = slack.thread(OPS, ref.threadTs!).map((m) => m.text).join('\n');
    expect(thread).toMatch(new RegExp(`Wrote ${objects[0]!.name}: [\\d.]+ (B|KiB|MiB) in \\d+s \\([\\d.]+ (B|KiB|MiB)/s\\), SHA-256 [0-9a-f]{16}…`));
    expect(thread).toMatch(/retention removed 1 old backup/);
    expect(replica.audits.find((e) => e.action === 'backup retention')).toMatchObject({ actor: 'U0OPER0001', result: 'deleted', detail: old[0] });
  });
});
