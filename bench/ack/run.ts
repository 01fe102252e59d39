/**
 * Slash-command acknowledgement latency under a burst: 1,000 signed requests at 100 per second
 * while a job runs in the bot's process, against the bot and, in the same run, a bare Bolt app
 * answering the same requests. Slack (the emulator, and the load generator) run in processes of
 * their own, as in real life. Prints p50/p99 beside the targets (p99 < 25 ms, within 1.5x of
 * bare Bolt), per mode:
 *
 *   demo    the demo job (`ping --slow 20`) reports into its thread during the round;
 *   backup  a database backup (`backup now`: pg_dump → zstd → SHA-256 → multipart upload to S3)
 *           runs in the bot's process during each burst, the bot's and bare Bolt's alike (a new
 *           backup is started before each burst, so both see the same machine). Needs the test
 *           harness's PostgreSQL and moto_server; the database is generated (--backup-gb).
 *
 *   npx tsx bench/ack/run.ts [--requests 1000] [--rate 100] [--rounds 5] [--mode demo,backup] [--backup-gb 1.0]
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeleteObjectsCommand, CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BACKUP_JOB } from '../../commands/backup/queues.ts';
import { QUEUE_NAME } from '../../src/core/jobs.ts';
import { randomSecretKey } from '../../src/core/secrets.ts';
import { freePort, startLocalRedis } from '../../dev/local-redis.ts';
import { startMoto, startPostgres, type MotoInstance, type PostgresInstance } from '../../tests/harness/services.ts';
import { databaseUrl, fillDatabase, sql } from '../backup/data.ts';
import type { Answer, Request } from './slack-side.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const REQUESTS = option('requests', 1000);
const RATE = option('rate', 100);
const ROUNDS = option('rounds', 5);
const BACKUP_GB = option('backup-gb', 1.0);
const modeAt = args.indexOf('--mode');
const MODES = (modeAt === -1 ? 'demo,backup' : args[modeAt + 1]!).split(',') as Array<'demo' | 'backup'>;
for (const mode of MODES) if (mode !== 'demo' && mode !== 'backup') throw new Error(`--mode takes demo, backup or both (demo,backup), not "${mode}"`);
const PREFIX = 'bench';
const BUCKET = 'autostack-backups';

/** The arguments of `npm start` after `node` (package.json), so the bot is measured as it runs in production. */
const START_ARGS = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/).slice(1);

async function until(url: string, status: number): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const answered = await fetch(url, { method: status === 401 ? 'POST' : 'GET' }).then((r) => r.status === status, () => false);
    if (answered) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered ${status}`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

type Side = { ask(request: Request): Promise<Answer>; ready: Promise<Answer> };

function startSide(role: 'emulator' | 'load'): Side {
  const child = fork(fileURLToPath(new URL('./slack-side.ts', import.meta.url)), [role], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () => new Promise<Answer>((resolve) => child.once('message', (m: Answer) => resolve(m)));
  const ready = next();
  return {
    ready,
    async ask(request) {
      const answer = next();
      child.send(request);
      if (request.kind === 'stop') return { kind: 'latencies', latencies: [] };
      const result = await answer;
      if (result.kind === 'error') throw new Error(result.message);
      return result;
    },
  };
}

async function main(): Promise<void> {
  const slack = startSide('emulator');
  const load = startSide('load');
  const ready = await slack.ready;
  await load.ready;
  if (ready.kind !== 'ready') throw new Error('the Slack side did not start');
  const bodies = async (count: number, text: string) => ((await slack.ask({ kind: 'bodies', count, text })) as { bodies: string[] }).bodies;
  const burst = async (url: string, count: number) =>
    ((await load.ask({ kind: 'burst', url, bodies: await bodies(count, 'ping'), rate: RATE, signingSecret: ready.signingSecret })) as { latencies: number[] }).latencies.sort((a, b) => a - b);

  // The bot runs exactly as `npm start` runs it (HTTP mode), and bare Bolt in a process of its own.
  const redis = await startLocalRedis();
  const dir = mkdtempSync(join(tmpdir(), 'autostack-bench-'));
  const configFile = join(dir, 'autostack.yaml');
  let config = `redis:\n  prefix: ${PREFIX}\naccess:\n  approver:\n    users: [U0BENCH]\n`;
  let postgres: PostgresInstance | undefined;
  let moto: MotoInstance | undefined;
  let s3: S3Client | undefined;
  const awsEnv = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' };
  if (MODES.includes('backup')) {
    [postgres, moto] = await Promise.all([startPostgres(), startMoto()]);
    await sql(postgres.url, 'CREATE DATABASE autostack');
    const started = performance.now();
    await fillDatabase(databaseUrl(postgres.url, 'autostack'), BACKUP_GB);
    const size = Number((await sql(databaseUrl(postgres.url, 'autostack'), "SELECT pg_database_size('autostack') AS n")).rows[0].n);
    console.log(`backup mode: database generated in ${((performance.now() - started) / 1000).toFixed(1)} s, ${(size / 2 ** 20).toFixed(0)} MB on disk (--backup-gb ${BACKUP_GB})`);
    s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    config += `database:\n  url: ${JSON.stringify(databaseUrl(postgres.url, 'autostack'))}\n  binDir: ${JSON.stringify(postgres.binDir)}\nbackup:\n  bucket: ${BUCKET}\naws:\n  endpoint: ${moto.endpoint}\n  region: us-east-1\n  s3ForcePathStyle: true\n`;
  }
  writeFileSync(configFile, config);
  const slackEnv = { SLACK_BOT_TOKEN: ready.botToken, SLACK_SIGNING_SECRET: ready.signingSecret, SLACK_API_URL: ready.apiUrl };
  const botPort = await freePort();
  // `npm start` runs the build (prestart); so does the benchmark, once.
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  const bot = spawn(process.execPath, START_ARGS, {
    env: { ...process.env, ...slackEnv, ...awsEnv, REDIS_URL: redis.url, AUTOSTACK_SECRET_KEY: randomSecretKey(), AUTOSTACK_CONFIG: configFile, PORT: String(botPort), LOG_LEVEL: 'warn', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const barePort = await freePort();
  const bare = fork(fileURLToPath(new URL('./bare.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...slackEnv, PORT: String(barePort) }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const botUrl = `http://127.0.0.1:${botPort}/slack/events`;
  const bareUrl = `http://127.0.0.1:${barePort}/slack/events`;
  await Promise.all([until(`http://127.0.0.1:${botPort}/health`, 200), until(bareUrl, 401)]);

  // A short warm-up keeps JIT and connection set-up out of the numbers.
  await burst(botUrl, 200);
  await burst(bareUrl, 200);

  const command = async (text: string) => load.ask({ kind: 'burst', url: botUrl, bodies: await bodies(1, text), rate: RATE, signingSecret: ready.signingSecret });
  // The bot's job queue, read from Redis: is a backup running, and how long did it take?
  const queueConnection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE_NAME, { connection: queueConnection, prefix: `{${PREFIX}}` });
  const backupJobs = async (states: Array<'active' | 'waiting' | 'completed' | 'failed'>) => (await queue.getJobs(states)).filter((job) => job?.name === BACKUP_JOB);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** Starts `backup now`, waits until its processor has run for a second (pg_dump streaming). */
  async function startBackup(): Promise<string> {
    const before = new Set((await backupJobs(['completed', 'failed'])).map((job) => job.id));
    await command('backup now ack benchmark');
    for (let i = 0; i < 600; i++) {
      const active = await backupJobs(['active']);
      if (active[0]?.processedOn && Date.now() - active[0].processedOn >= 1000) return active[0].id!;
      const ended = (await backupJobs(['completed', 'failed'])).find((job) => !before.has(job.id));
      if (ended) throw new Error(`the backup job ended before the burst: ${ended.failedReason ?? 'completed'} (use a larger --backup-gb)`);
      await sleep(100);
    }
    throw new Error('the backup job did not start within a minute');
  }
  /** Whether the backup was still running, then waits for its end; its wall time and outcome. */
  async function finishBackup(id: string): Promise<{ throughout: boolean; seconds: number; outcome: string }> {
    const throughout = (await queue.getJobState(id)) === 'active';
    for (let i = 0; ; i++) {
      const state = await queue.getJobState(id);
      if (state === 'completed' || state === 'failed') {
        const job = (await queue.getJob(id))!;
        // Keep moto's memory small: the benchmark's backups are not needed afterwards.
        const listed = await s3!.send(new ListObjectsV2Command({ Bucket: BUCKET }));
        const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key! }));
        if (keys.length) await s3!.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys } }));
        return { throughout, seconds: ((job.finishedOn ?? Date.now()) - (job.processedOn ?? Date.now())) / 1000, outcome: state === 'failed' ? `failed: ${job.failedReason}` : 'completed' };
      }
      if (i > 6000) throw new Error('the backup job did not finish within 10 minutes');
      await sleep(100);
    }
  }

  const row = (name: string, l: number[], note = '') => `${name.padEnd(16)} ${percentile(l, 50).toFixed(2).padStart(8)} ${percentile(l, 99).toFixed(2).padStart(8)} ${l[l.length - 1]!.toFixed(2).padStart(8)}${note}`;
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  for (const mode of MODES) {
    // Rounds alternate the two so both see the same machine; the verdict uses the median round.
    const rounds: Array<{ bot: number[]; bare: number[]; notes: [string, string]; load: string }> = [];
    const loadBefore = loadavg().map((l) => l.toFixed(2)).join(' ');
    for (let round = 0; round < ROUNDS; round++) {
      const load = loadavg()[0]!.toFixed(2);
      if (mode === 'demo') {
        // ping's 20 one-second steps outlast a round's two bursts.
        await command('ping --slow 20');
        rounds.push({ bot: await burst(botUrl, REQUESTS), bare: await burst(bareUrl, REQUESTS), notes: ['', ''], load });
      } else {
        const note = (b: { throughout: boolean; seconds: number; outcome: string }) => `   backup ${b.outcome} in ${b.seconds.toFixed(1)} s, ${b.throughout ? 'running throughout the burst' : 'ENDED BEFORE THE BURST DID'}`;
        let id = await startBackup();
        const bot = await burst(botUrl, REQUESTS);
        const botBackup = await finishBackup(id);
        id = await startBackup();
        const bare = await burst(bareUrl, REQUESTS);
        const bareBackup = await finishBackup(id);
        rounds.push({ bot, bare, notes: [note(botBackup), note(bareBackup)], load });
      }
    }
    const what = mode === 'demo' ? 'demo job (ping --slow 20) running' : 'a backup job running in the bot\'s process during each burst';
    console.log(`\nack latency, mode ${mode}: ${REQUESTS} signed slash commands at ${RATE}/s per burst, ${what} (ms); load average before ${loadBefore}, after ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${cpus().length} CPUs)`);
    console.log(`${''.padEnd(16)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}`);
    rounds.forEach((r, i) => {
      console.log(row(`autostack #${i + 1}`, r.bot, `   load ${r.load}${r.notes[0]}`));
      console.log(row(`bare Bolt #${i + 1}`, r.bare, r.notes[1]));
    });
    const botP99 = median(rounds.map((r) => percentile(r.bot, 99)));
    const ratio = median(rounds.map((r) => percentile(r.bot, 99) / percentile(r.bare, 99)));
    console.log(`mode ${mode}, median of ${ROUNDS} rounds: autostack p99 ${botP99.toFixed(2)} ms, p99 ratio autostack/bare ${ratio.toFixed(2)}x   (target: p99 < 25 ms and within 1.5x of bare Bolt)`);
    console.log(`verdict (${mode}): p99 ${botP99 < 25 ? 'meets' : 'misses'} 25 ms; ratio ${ratio <= 1.5 ? 'meets' : 'misses'} 1.5x`);
  }
  await queue.close();
  await queueConnection.quit();

  await slack.ask({ kind: 'stop' });
  await load.ask({ kind: 'stop' });
  const exited = (child: ChildProcess) => new Promise((resolve) => child.once('exit', resolve));
  await Promise.all([exited(bot), exited(bare), bot.kill('SIGTERM'), bare.kill('SIGTERM')]);
  await redis.stop();
  s3?.destroy();
  await Promise.all([postgres?.stop(), moto?.stop()]);
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
