/**
 * One bot operation in its own process, so its peak memory (maxRSS) is the bot's alone.
 * Input: BENCH_TASK (JSON). Output: one JSON line on stdout.
 */
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { pgDumpArgs, runBackup } from '../../commands/backup/dump.ts';
import { compressorFor, writeFormat } from '../../commands/backup/format.ts';
import { restoreBackup } from '../../commands/backup/restore.ts';
import { errorLines, spawnTool } from '../../commands/backup/pg.ts';
import { HashCounter } from '../../commands/backup/streams.ts';
import { createS3Client } from '../../src/s3-client.ts';

interface Task {
  mode: 'backup-s3' | 'backup-null' | 'restore-s3' | 'read-null';
  endpoint: string;
  bucket: string;
  prefix: string;
  dbUrl: string;
  binDir: string;
  name?: string;
  target?: string;
  partMib?: number;
}

const task = JSON.parse(process.env.BENCH_TASK ?? '{}') as Task;
// The bot's S3 client, as the bot builds it (src/s3-client.ts).
const s3 = createS3Client({ endpoint: task.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const db = { url: task.dbUrl, binDir: task.binDir };
const store = { s3, bucket: task.bucket, prefix: task.prefix };

const discard = () =>
  new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });

async function main(): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  switch (task.mode) {
    case 'backup-s3': {
      const partSize = task.partMib ? task.partMib * 1024 * 1024 : undefined;
      const r = await runBackup({ ...store, db, startedBy: 'bench', reason: 'benchmark', partSize });
      return { ms: performance.now() - t0, uploadMs: r.uploadMs, metadataMs: r.metadataMs, bytes: r.size, name: r.name, sha256: r.sha256 };
    }
    case 'backup-null': {
      // The same pipeline as runBackup (pg_dump → zstd → SHA-256 counter) into a sink instead of S3.
      const format = writeFormat();
      const tool = spawnTool('pg_dump', pgDumpArgs(db, format), db, { stdin: 'ignore', stdout: 'pipe' });
      const counter = new HashCounter();
      const compressor = compressorFor(format);
      await (compressor ? pipeline(tool.child.stdout!, compressor, counter, discard()) : pipeline(tool.child.stdout!, counter, discard()));
      const exit = await tool.exited;
      if (exit.code !== 0 || errorLines(tool.stderr()).length) throw new Error(`pg_dump failed: ${tool.stderr()}`);
      return { ms: performance.now() - t0, bytes: counter.bytes, sha256: counter.digest() };
    }
    case 'restore-s3': {
      const r = await restoreBackup({ store, params: { name: task.name!, target: task.target! }, db, startedBy: 'bench' });
      return { ms: performance.now() - t0, restoreMs: r.restoreMs, bytes: r.bytes, tables: r.tables, created: r.created };
    }
    case 'read-null': {
      const res = await s3.send(new GetObjectCommand({ Bucket: task.bucket, Key: `${task.prefix}${task.name}` }));
      await pipeline(res.Body as Readable, discard());
      return { ms: performance.now() - t0 };
    }
  }
}

main().then(
  (result) => {
    const usage = process.resourceUsage();
    const cpuS = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
    process.stdout.write(`${JSON.stringify({ ...result, cpuS, maxRssKb: usage.maxRSS })}\n`);
    process.exit(0);
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
