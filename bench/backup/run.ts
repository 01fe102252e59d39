/**
 * Backup & restore benchmark. Starts a private PostgreSQL and moto_server, generates a database
 * whose plain dump is at least --gb GB (default 1.0), then in the same run measures:
 *
 *   backup:  `pg_dump -Fc --compress=6 --file=<local file>`  vs  the bot's backup to S3 (moto),
 *            and the bot's pipeline into a null sink (pg_dump → SHA-256 → discard) to separate
 *            the cost of the S3 emulator from the bot's own.
 *   restore: `pg_restore --clean --if-exists --single-transaction --exit-on-error` from the local
 *            file into a new database  vs  the bot's restore streamed from S3 into a new database,
 *            and a plain S3 read of the object into a null sink (the emulator's read cost).
 *   memory:  peak RSS of the bot process (each bot operation runs in its own process).
 *
 * Run: npx tsx bench/backup/run.ts [--gb 1.0] [--rounds 3] [--part-mib 8,16]
 */
import { ZSTD_FORMAT, writeFormat } from '../../commands/backup/format.ts';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { databaseUrl, fillDatabase, sql } from './data.ts';
import { startMoto, startPostgres } from '../../tests/harness/services.ts';

const execFileAsync = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

const gbArg = process.argv.indexOf('--gb');
const targetGb = gbArg > 0 ? Number(process.argv[gbArg + 1]) : 1.0;
// --part-mib 8,16: one backup to S3 per part size (0 = the bot's default).
const partArg = process.argv.indexOf('--part-mib');
const partSizes = partArg > 0 ? (process.argv[partArg + 1] ?? '0').split(',').map(Number) : [0];
const roundsArg = process.argv.indexOf('--rounds');
const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;

/** CPU seconds used so far by a process and its waited-for children (Linux /proc). */
function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
    return ticks / 100;
  } catch {
    return Number.NaN;
  }
}
const MB = 1024 * 1024;

const fmtS = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const fmtMB = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;

/** Runs a command, returns wall time (ms); stdout is counted (bytes) and discarded. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; stdoutBytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${path.basename(cmd)} exited ${code}: ${stderr.slice(-2000)}`));
      else resolve({ ms: performance.now() - t0, stdoutBytes: bytes });
    });
  });
}

interface ChildResult {
  ms: number;
  maxRssKb: number;
  cpuS: number;
  restoreMs?: number;
  uploadMs?: number;
  metadataMs?: number;
  /** CPU seconds moto_server used meanwhile (filled in here). */
  motoCpuS?: number;
  bytes?: number;
  name?: string;
  sha256?: string;
}

let motoPid = 0;

async function botTask(task: Record<string, unknown>): Promise<ChildResult> {
  const motoBefore = cpuSeconds(motoPid);
  const result = await botProcess(task);
  return { ...result, motoCpuS: cpuSeconds(motoPid) - motoBefore };
}

function botProcess(task: Record<string, unknown>): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const tsx = path.resolve(here, '../../node_modules/.bin/tsx');
    const child = spawn(tsx, [path.join(here, 'child.ts')], { env: { ...process.env, BENCH_TASK: JSON.stringify(task) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`bot ${String(task.mode)} failed: ${err.slice(-2000)}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as ChildResult);
    });
  });
}

async function main(): Promise<void> {
  console.log(`# Backup benchmark (target plain dump ≥ ${targetGb} GB)`);
  console.log(`machine: ${os.cpus().length} CPU (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 1024 ** 3).toFixed(0)} GB RAM, node ${process.version}`);
  const [postgres, moto] = await Promise.all([startPostgres(), startMoto()]);
  motoPid = moto.pid;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'backup-bench-'));
  try {
    const pgEnv = { ...process.env, PGPASSWORD: postgres.password };
    const conn = ['--host', postgres.host, '--port', String(postgres.port), '--username', postgres.superuser, '--no-password'];
    const dbUrl = (name: string) => databaseUrl(postgres.url, name);
    const version = (await execFileAsync(postgres.pgDump, ['--version'])).stdout.trim();
    console.log(`PostgreSQL ${postgres.majorVersion} (${version}), moto_server at ${moto.endpoint}`);

    // ---- data ------------------------------------------------------------------------------
    await sql(postgres.url, 'CREATE DATABASE autostack');
    const url = dbUrl('autostack');
    const tg = performance.now();
    await fillDatabase(url, targetGb);
    const plain = await timed(postgres.pgDump, [...conn, '--format=plain', 'autostack'], pgEnv);
    const dbSize = Number((await sql(url, "SELECT pg_database_size('autostack') AS n")).rows[0].n);
    console.log(`generated in ${fmtS(performance.now() - tg)}: database ${fmtMB(dbSize)} on disk, plain dump ${fmtMB(plain.stdoutBytes)} (${(plain.stdoutBytes / 1e9).toFixed(2)} GB) uncompressed`);
    if (plain.stdoutBytes < targetGb * 1e9) console.log(`WARNING: plain dump is below the ${targetGb} GB target`);

    const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const bucket = 'autostack-backups';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const common = { endpoint: moto.endpoint, bucket, prefix: 'db/', binDir: postgres.binDir };

    // ---- rounds ----------------------------------------------------------------------------
    // The machine may be shared: each round runs every measurement back to back, and ratios are
    // taken within a round (same conditions) before the median over rounds is reported.
    const file = path.join(work, 'autostack.dump');
    interface Round {
      baseDump: number;
      botNull: ChildResult;
      botS3: Array<{ partMib: number; result: ChildResult }>;
      baseRestore: number;
      botRestore: ChildResult;
      readNull: ChildResult;
      load: string;
    }
    const results: Round[] = [];
    let fileSize = 0;
    let rows = '';
    const rowsOf = async (db: string) =>
      (await sql(dbUrl(db), 'SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM deployments) + (SELECT count(*) FROM events) AS n')).rows[0].n as string;
    for (let round = 1; round <= rounds; round++) {
      const load = os.loadavg()[0]!.toFixed(1);
      fs.rmSync(file, { force: true });
      const baseDump = await timed(postgres.pgDump, [...conn, '--format=custom', '--compress=6', `--file=${file}`, 'autostack'], pgEnv);
      fileSize = fs.statSync(file).size;
      const botNull = await botTask({ ...common, mode: 'backup-null', dbUrl: url });
      const botS3: Round['botS3'] = [];
      for (const partMib of partSizes) botS3.push({ partMib, result: await botTask({ ...common, mode: 'backup-s3', dbUrl: url, partMib }) });
      const name = botS3[botS3.length - 1]!.result.name;

      await sql(postgres.url, 'CREATE DATABASE restore_base TEMPLATE template0');
      const baseRestore = await timed(postgres.pgRestore, [...conn, '--clean', '--if-exists', '--single-transaction', '--exit-on-error', '--dbname=restore_base', file], pgEnv);
      const readNull = await botTask({ ...common, mode: 'read-null', dbUrl: url, name });
      // The bot creates the missing target database itself (no safety backup is needed then).
      const botRestore = await botTask({ ...common, mode: 'restore-s3', dbUrl: url, name, target: 'restore_bot' });
      const [rowsBase, rowsBot] = await Promise.all([rowsOf('restore_base'), rowsOf('restore_bot')]);
      if (rowsBase !== rowsBot) throw new Error(`restored row counts differ: pg_restore ${rowsBase}, bot ${rowsBot}`);
      rows = rowsBot;
      await sql(postgres.url, 'DROP DATABASE restore_base');
      await sql(postgres.url, 'DROP DATABASE restore_bot');
      results.push({ baseDump: baseDump.ms, botNull, botS3, baseRestore: baseRestore.ms, botRestore, readNull, load: `${load}→${os.loadavg()[0]!.toFixed(1)}` });
      const r = results[results.length - 1]!;
      console.log(
        `round ${round} (load ${r.load}): pg_dump ${fmtS(r.baseDump)}, bot→null ${fmtS(r.botNull.ms)}, ${r.botS3.map((b) => `bot→S3${b.partMib ? `/${b.partMib}MiB` : ''} ${fmtS(b.result.ms)} (RSS ${(b.result.maxRssKb / 1024).toFixed(0)} MB; upload ${fmtS(b.result.uploadMs ?? 0)} + metadata copy ${fmtS(b.result.metadataMs ?? 0)}; CPU bot ${b.result.cpuS.toFixed(1)} s, moto ${(b.result.motoCpuS ?? 0).toFixed(1)} s)`).join(', ')}; ` +
          `pg_restore ${fmtS(r.baseRestore)}, bot restore ${fmtS(r.botRestore.ms)} (streaming ${fmtS(r.botRestore.restoreMs ?? 0)}), S3 read→null ${fmtS(r.readNull.ms)}`,
      );
    }

    // ---- report ----------------------------------------------------------------------------
    const median = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const mid = Math.floor(sorted.length / 2);
      return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    };
    const med = (pick: (r: Round) => number) => median(results.map(pick));
    const verdict = (ok: boolean) => (ok ? 'meets' : 'MISSES');
    const row = (label: string, time: number, ratio?: number, target?: number) =>
      console.log(`| ${label} | ${fmtS(time)} | ${ratio === undefined ? '1.00' : `${ratio.toFixed(2)}x`} | ${target === undefined ? '' : `≤ ${target}x: ${verdict((ratio ?? 0) <= target)}`} |`);
    console.log('');
    const botSize = results[results.length - 1]!.botNull.bytes ?? 0;
    console.log(`backup format of the bot: ${writeFormat()} (node ${process.version}); stored size ${fmtMB(botSize)} vs pg_dump -Fc ${fmtMB(fileSize)}: ${(botSize / fileSize).toFixed(2)}x (target ≤ 1.00x: ${botSize <= fileSize ? 'meets' : 'MISSES'})`);
    console.log(`compressed dump: ${fmtMB(fileSize)}; rows restored: ${rows} (same by pg_restore and by the bot); ${rounds} round(s), medians below (ratios: median of the per-round ratios)`);
    console.log('');
    console.log('| measurement | time | ratio | target |');
    console.log('| --- | --- | --- | --- |');
    row('pg_dump -Fc --compress=6 > local file', med((r) => r.baseDump));
    partSizes.forEach((partMib, i) => {
      const part = partMib ? `${partMib} MiB parts` : '8 MiB parts (default)';
      row(`bot backup → S3 (moto), ${part}, 2 in flight, then metadata copy`, med((r) => r.botS3[i]!.result.ms), med((r) => r.botS3[i]!.result.ms / r.baseDump), 0.75);
    });
    row(`bot backup pipeline (pg_dump${writeFormat() === ZSTD_FORMAT ? ' -Z0 → zstd' : ''} → SHA-256) → null sink, no S3`, med((r) => r.botNull.ms), med((r) => r.botNull.ms / r.baseDump), 0.75);
    row('pg_restore --clean --if-exists --single-transaction from local file', med((r) => r.baseRestore));
    row('bot restore ← S3 (moto), checksum checked while streaming, whole job', med((r) => r.botRestore.ms), med((r) => r.botRestore.ms / r.baseRestore), 1.25);
    row('… of which S3 → pg_restore until commit', med((r) => r.botRestore.restoreMs ?? 0), med((r) => (r.botRestore.restoreMs ?? 0) / r.baseRestore));
    row('S3 (moto) read of the object → null sink (emulator cost)', med((r) => r.readNull.ms), med((r) => r.readNull.ms / r.baseRestore));
    const rss = (pick: (r: Round) => number) => Math.max(...results.map(pick)) / 1024;
    const peaksS3 = partSizes.map((partMib, i) => ({ partMib, mb: rss((r) => r.botS3[i]!.result.maxRssKb) }));
    const peakNull = rss((r) => r.botNull.maxRssKb);
    const peakRestore = rss((r) => r.botRestore.maxRssKb);
    const peakDefault = Math.max(peakNull, peakRestore, ...peaksS3.filter((p) => !p.partMib).map((p) => p.mb));
    console.log('');
    console.log(
      `peak RSS of the bot process (max over rounds): ${peaksS3.map((p) => `backup → S3 with ${p.partMib ? `${p.partMib} MiB` : '8 MiB (default)'} parts ${p.mb.toFixed(0)} MB`).join(', ')}, backup → null ${peakNull.toFixed(0)} MB, restore ${peakRestore.toFixed(0)} MB`,
    );
    console.log(`bot memory with its defaults: max ${peakDefault.toFixed(0)} MB (target < 200 MB: ${verdict(peakDefault < 200)})`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    await Promise.allSettled([postgres.stop(), moto.stop()]);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
