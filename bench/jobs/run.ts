/**
 * Job pickup latency and Slack calls per job.
 *
 *   npx tsx bench/jobs/run.ts [--jobs 100] [--workers 2] [--ping-steps 3]
 *
 * 1. Pickup: the bot's job system (src/core/jobs.ts, BullMQ on a private Redis, the Slack
 *    emulator for its messages) with --workers concurrent workers; --jobs jobs of a probe job are
 *    started one after the other with `jobs.start` (what `ctx.jobs.start` is), and the time from
 *    each call to the first line of the probe's processor is recorded. Beside it, in the same run,
 *    a bare BullMQ Queue/Worker pair with the same concurrency: `queue.add` to the first line of
 *    its processor. Printed: p50/p99/max of each (target: the bot's p99 < 50 ms).
 * 2. Slack calls: a ping job of --ping-steps steps, and a database backup job (`backup now`:
 *    pg_dump → zstd → S3, on the test harness's PostgreSQL and moto_server, a generated database
 *    of --backup-gb), with the emulator's counters: calls made for the job (by method) and the
 *    most edits (chat.update) of one message within any second (target ≤ 1 edit/s).
 *    --backup-gb 0 leaves the backup job out.
 */
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createBot } from '../../src/bot.ts';
import { parseConfig } from '../../src/config.ts';
import { reply } from '../../src/core/result.ts';
import type { CommandModule, JobDefinition } from '../../src/core/types.ts';
import { randomSecretKey } from '../../src/core/secrets.ts';
import { freePort, startLocalRedis } from '../../dev/local-redis.ts';
import { SlackEmulator } from '../../dev/slack-emulator/index.ts';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { allJobs } from '../../jobs/index.ts';
import { BACKUP_JOB } from '../../commands/backup/queues.ts';
import { startMoto, startPostgres, type MotoInstance, type PostgresInstance } from '../../tests/harness/services.ts';
import { databaseUrl, fillDatabase, sql } from '../backup/data.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const JOBS = option('jobs', 100);
const WORKERS = option('workers', 2);
const PING_STEPS = option('ping-steps', 3);
const BACKUP_GB = option('backup-gb', 0.3);
const OPS = 'C0OPS';
const USER = 'U0BENCH';

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};
const stats = (values: number[]) => `p50 ${percentile(values, 50).toFixed(1)} ms, p99 ${percentile(values, 99).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms`;

/** First-line times of the probe jobs, by index. */
const firstLine = new Map<number, number>();
let allPicked: () => void = () => undefined;
const probe: JobDefinition<{ i: number }> = {
  name: 'bench-probe',
  title: (data) => `Probe ${data.i}`,
  cancellable: false,
  async process(run) {
    firstLine.set(run.data.i, performance.now());
    if (firstLine.size === JOBS) allPicked();
    return reply('probed');
  },
};
const benchModule: CommandModule = { area: 'bench', verbs: [] };

async function bareBullmq(redisUrl: string): Promise<number[]> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('bare', { connection, prefix: '{bare}' });
  const added = new Map<number, number>();
  const picked = new Map<number, number>();
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const worker = new Worker(
    'bare',
    async (job) => {
      picked.set(job.data.i as number, performance.now());
      if (picked.size === JOBS) done();
    },
    { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix: '{bare}', concurrency: WORKERS },
  );
  await worker.waitUntilReady();
  for (let i = 0; i < JOBS; i++) {
    added.set(i, performance.now());
    await queue.add('probe', { i }, { removeOnComplete: true });
  }
  await finished;
  await worker.close();
  await queue.close();
  await connection.quit();
  return [...picked].map(([i, at]) => at - added.get(i)!);
}

async function main(): Promise<void> {
  const redis = await startLocalRedis();
  let postgres: PostgresInstance | undefined;
  let moto: MotoInstance | undefined;
  let backupConfig = {};
  if (BACKUP_GB > 0) {
    [postgres, moto] = await Promise.all([startPostgres(), startMoto()]);
    await sql(postgres.url, 'CREATE DATABASE autostack');
    await fillDatabase(databaseUrl(postgres.url, 'autostack'), BACKUP_GB);
    const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await s3.send(new CreateBucketCommand({ Bucket: 'autostack-backups' }));
    s3.destroy();
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    backupConfig = {
      database: { url: databaseUrl(postgres.url, 'autostack'), binDir: postgres.binDir },
      backup: { bucket: 'autostack-backups' },
      aws: { endpoint: moto.endpoint, region: 'us-east-1', s3ForcePathStyle: true },
    };
  }
  const emulator = new SlackEmulator({ users: [{ id: USER, name: 'bench' }], channels: [{ id: OPS, name: 'ops' }] });
  await emulator.start();
  const config = parseConfig(
    {
      slack: { apiUrl: emulator.apiUrl, botToken: emulator.botToken, signingSecret: emulator.signingSecret },
      redis: { url: redis.url, prefix: 'benchjobs' },
      access: { approver: { users: [USER] } },
      channels: { ops: OPS },
      ...backupConfig,
    },
    {},
  );
  const bot = await createBot({ config, receiver: { kind: 'none' }, redisUrl: redis.url, secretKey: randomSecretKey(), log: pino({ level: 'silent' }), modules: [benchModule], jobs: [probe, ...allJobs], runWorkers: false });
  try {
    await bot.start(await freePort());
    await bot.jobs.runWorkers(WORKERS);
    console.log(`# Job pickup and Slack calls per job; node ${process.version}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

    // 1. Pickup latency.
    const started = new Map<number, number>();
    const picked = new Promise<void>((resolve) => (allPicked = resolve));
    for (let i = 0; i < JOBS; i++) {
      started.set(i, performance.now());
      await bot.jobs.start('bench-probe', { i }, { channel: OPS, requestedBy: USER });
    }
    await picked;
    const botPickup = [...firstLine].map(([i, at]) => at - started.get(i)!);
    const bare = await bareBullmq(redis.url);
    const botP99 = percentile(botPickup, 99);
    console.log(`pickup, ${JOBS} jobs started back to back, ${WORKERS} workers:`);
    console.log(`  bot  (jobs.start → processor's first line)   ${stats(botPickup)}   target p99 < 50 ms: ${botP99 < 50 ? 'met' : 'NOT met'}`);
    console.log(`  bare BullMQ (queue.add → processor's first line) ${stats(bare)}   (anchor)`);

    // 2. Slack calls per job, from the emulator's record.
    async function slackCalls(name: string, data: Record<string, unknown>, label: string, timeoutMs: number): Promise<void> {
      const before = emulator.calls().length;
      const ref = await bot.jobs.start(name, data, { channel: OPS, requestedBy: USER });
      const t0 = performance.now();
      const deadline = Date.now() + timeoutMs;
      let state: string;
      for (;;) {
        state = await bot.jobs.queue.getJobState(ref.id);
        if (state === 'completed' || state === 'failed') break;
        if (Date.now() > deadline) throw new Error(`the ${name} job did not finish`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const seconds = (performance.now() - t0) / 1000;
      // Let the final edits land.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const calls = emulator.calls().slice(before);
      const byMethod = new Map<string, number>();
      for (const call of calls) byMethod.set(call.method, (byMethod.get(call.method) ?? 0) + 1);
      const edits = new Map<string, number[]>();
      for (const call of calls.filter((c) => c.method === 'chat.update')) {
        const key = `${String(call.args.channel)}/${String(call.args.ts)}`;
        edits.set(key, [...(edits.get(key) ?? []), call.at]);
      }
      let maxPerSecond = 0;
      for (const times of edits.values()) {
        for (const t of times) maxPerSecond = Math.max(maxPerSecond, times.filter((u) => u >= t && u < t + 1000).length);
      }
      console.log(`Slack calls of one ${label} (${state} in ${seconds.toFixed(1)} s): ${calls.length} (${[...byMethod].map(([m, n]) => `${m} ${n}`).join(', ')}); most edits of one message within a second: ${maxPerSecond} (target ≤ 1: ${maxPerSecond <= 1 ? 'met' : 'NOT met'})`);
    }
    await slackCalls('ping', { steps: PING_STEPS }, `ping job (${PING_STEPS} steps)`, (PING_STEPS + 20) * 1000);
    if (BACKUP_GB > 0) await slackCalls(BACKUP_JOB, { trigger: 'manual', reason: 'jobs benchmark' }, `backup job (database of --backup-gb ${BACKUP_GB})`, 600_000);
    console.log('deploy job: not measured by this script yet (it needs a Kubernetes API: the test control plane, tests/harness/kube.ts, would do).');
    console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await bot.stop();
    await emulator.close();
    await redis.stop();
    await Promise.all([postgres?.stop(), moto?.stop()]);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
