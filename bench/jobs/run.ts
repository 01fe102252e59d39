/**
 * Job pickup latency and Slack calls per job.
 *
 *   npx tsx bench/jobs/run.ts [--jobs 100] [--workers 2] [--ping-steps 3] [--backup-gb 0.3] [--deploy 1]
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
 *    --backup-gb 0 leaves the backup job out. And a deploy job, driven as a person drives it: the
 *    signed `/autostack deploy web 2.0` through the bot's HTTP receiver, then the click on its
 *    Confirm button, against the test harness's Kubernetes control plane (tests/harness/kube.ts;
 *    a Deployment of 2 pods run by kwok) and its fake backend for the health and smoke checks,
 *    counted from the click. --deploy 0 leaves it out.
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
import { SlackEmulator, findElement } from '../../dev/slack-emulator/index.ts';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { kubeClientsFrom } from '../../src/clients.ts';
import { allJobs } from '../../jobs/index.ts';
import { BACKUP_JOB } from '../../commands/backup/queues.ts';
import { deployModule } from '../../commands/deploy/index.ts';
import { FakeBackend } from '../../tests/harness/fake-backend.ts';
import { kubeConfigFor, startControlPlane, type ControlPlane } from '../../tests/harness/kube.ts';
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
const DEPLOY = option('deploy', 1) > 0;
const NAMESPACE = 'bench';
const REPO = 'registry.example/autostack/web';
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

/** A namespace with the Deployment `web` (2 pods, run by kwok), ready; the bot acts as the cluster admin here. */
async function deployTarget(plane: ControlPlane) {
  const admin = kubeConfigFor(plane, plane.adminToken, NAMESPACE);
  const core = admin.makeApiClient(CoreV1Api);
  const apps = admin.makeApiClient(AppsV1Api);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  const labels = { app: 'web' };
  await apps.createNamespacedDeployment({
    namespace: NAMESPACE,
    body: { metadata: { name: 'web', labels }, spec: { replicas: 2, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'web', image: `${REPO}:1.0` }] } } } },
  });
  for (let i = 0; (await apps.readNamespacedDeployment({ name: 'web', namespace: NAMESPACE })).status?.readyReplicas !== 2; i++) {
    if (i > 600) throw new Error('the Deployment web did not become ready within a minute');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return kubeClientsFrom(admin);
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
  let plane: ControlPlane | undefined;
  let backend: FakeBackend | undefined;
  let deployConfig = {};
  let kube: Awaited<ReturnType<typeof deployTarget>> | undefined;
  if (DEPLOY) {
    [plane, backend] = await Promise.all([startControlPlane(), FakeBackend.start()]);
    kube = await deployTarget(plane);
    deployConfig = {
      kubernetes: { namespace: NAMESPACE },
      backend: { url: backend.url },
      deploy: { apps: { web: { deployment: 'web', image: REPO, healthUrl: `${backend.url}/health`, smoke: [{ url: `${backend.url}/auth/github`, status: 307 }] } } },
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
      ...deployConfig,
    },
    {},
  );
  const bot = await createBot({
    config,
    receiver: { kind: 'http', signingSecret: emulator.signingSecret },
    redisUrl: redis.url,
    secretKey: randomSecretKey(),
    log: pino({ level: 'silent' }),
    modules: [benchModule, deployModule],
    jobs: [probe, ...allJobs],
    runWorkers: false,
    ...(kube ? { overrides: { kube: () => kube } } : {}),
  });
  const port = await freePort();
  const slackUrl = `http://127.0.0.1:${port}/slack/events`;
  try {
    await bot.start(port);
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
    /** Counts the Slack calls from `launch` (which returns the job's id) to the job's end. */
    async function slackCalls(launch: () => Promise<string>, label: string, timeoutMs: number): Promise<void> {
      const before = emulator.calls().length;
      const id = await launch();
      const t0 = performance.now();
      const deadline = Date.now() + timeoutMs;
      let state: string;
      for (;;) {
        state = await bot.jobs.queue.getJobState(id);
        if (state === 'completed' || state === 'failed') break;
        if (Date.now() > deadline) throw new Error(`the ${label} did not finish`);
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
    const startJob = (name: string, data: Record<string, unknown>) => async () => (await bot.jobs.start(name, data, { channel: OPS, requestedBy: USER })).id;
    await slackCalls(startJob('ping', { steps: PING_STEPS }), `ping job (${PING_STEPS} steps)`, (PING_STEPS + 20) * 1000);
    if (BACKUP_GB > 0) await slackCalls(startJob(BACKUP_JOB, { trigger: 'manual', reason: 'jobs benchmark' }), `backup job (database of --backup-gb ${BACKUP_GB})`, 600_000);
    if (DEPLOY) {
      // The command asks for confirmation (an ephemeral with the plan); the click starts the job.
      const asked = await emulator.deliver(slackUrl, emulator.slashCommand({ user: USER, channel: OPS, text: 'deploy web 2.0 jobs benchmark' }).body);
      await bot.dispatcher.settled();
      const confirm = emulator.ephemerals(USER).at(-1);
      const button = findElement(confirm?.blocks, 'confirm.run')?.element;
      if (asked.status !== 200 || !confirm || !button) throw new Error(`deploy did not ask for confirmation: ${confirm?.text ?? `HTTP ${asked.status}`}`);
      const click = async () => {
        const jobsBefore = new Set((await bot.jobs.queue.getJobs(['active', 'waiting', 'completed', 'failed'])).map((job) => job?.id));
        await emulator.deliver(slackUrl, emulator.blockAction({ user: USER, actionId: 'confirm.run', channel: OPS, messageTs: confirm.ts, action: { value: String(button.value) } }).body);
        await bot.dispatcher.settled();
        const job = (await bot.jobs.queue.getJobs(['active', 'waiting', 'completed', 'failed'])).find((candidate) => candidate?.name === 'deploy' && !jobsBefore.has(candidate.id));
        if (!job?.id) throw new Error(`the Confirm click started no deploy job: ${emulator.ephemerals(USER).at(-1)?.text ?? ''}`);
        return job.id;
      };
      await slackCalls(click, 'deploy job (web 1.0 → 2.0, 2 pods, from the Confirm click)', 300_000);
    }
    console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await bot.stop();
    await emulator.close();
    await redis.stop();
    await Promise.all([postgres?.stop(), moto?.stop(), plane?.stop(), backend?.close()]);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
