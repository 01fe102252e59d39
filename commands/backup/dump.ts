/**
 * A backup: pg_dump (custom format; compressed with zstd by the bot, see format.ts) streamed
 * through a SHA-256 counter straight into an S3 multipart upload. No temporary file, memory
 * bounded by partSize × (queueSize + 1).
 *
 * The upload is only allowed to complete after pg_dump has exited successfully; on any failure the
 * multipart upload is aborted, so no partial object is ever left. Size and SHA-256 are known only
 * at the end, so they are written into the object's metadata by an in-place copy afterwards; if
 * that fails, the object is deleted again.
 */
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { UserFacingError } from '../../src/core/types.ts';
import { compressorFor, pgDumpCompression, writeFormat } from './format.ts';
import type { BackupFormat } from './format.ts';
import { nextFreeName, safeDatabasePart, stamp } from './names.ts';
import { abortUnfinishedUploads, deleteBackupObject, encodeMetadata, replaceMetadata, s3Failure } from './objects.ts';
import type { BackupMetadata, BackupStore } from './objects.ts';
import {
  assertToolMatchesServer,
  classifyToolFailure,
  connInfo,
  conninfoWithoutPassword,
  errorLines,
  serverInfo,
  spawnTool,
  toolVersion,
} from './pg.ts';
import type { DbSettings } from './pg.ts';
import { HashCounter } from './streams.ts';

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
export const DEFAULT_QUEUE_SIZE = 2;
/** S3 allows 10,000 parts; leave headroom for a dump larger than the estimate. */
const PLANNED_PARTS = 9_000;

/**
 * Part size for a database of `databaseBytes` on disk (a compressed dump is nearly always
 * smaller): 8 MiB up to ~70 GB, larger beyond so the upload stays within S3's 10,000 parts.
 * Memory in use is about partSize × (queueSize + 1).
 */
export function partSizeFor(databaseBytes: number): number {
  const mib = 1024 * 1024;
  return Math.max(DEFAULT_PART_SIZE, Math.ceil(databaseBytes / PLANNED_PARTS / mib) * mib);
}
/** S3 refuses smaller parts (except the last). */
const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface BackupOptions extends BackupStore {
  db: DbSettings;
  /** Slack user id, or what started it (e.g. "schedule"). */
  startedBy: string;
  reason: string;
  jobId?: string;
  now?: () => Date;
  signal?: AbortSignal;
  /** Called as bytes flow (often; throttle before posting anything). */
  onBytes?: (bytes: number) => void;
  partSize?: number;
  queueSize?: number;
  /** How to store the dump (default: zstd where the runtime has it, see format.ts). */
  format?: BackupFormat;
  /** For tests: objects above this size get their metadata by multipart copy. */
  singleCopyLimit?: number;
  copyPartSize?: number;
}

export interface BackupResult {
  bucket: string;
  key: string;
  name: string;
  database: string;
  size: number;
  sha256: string;
  startedAt: Date;
  durationMs: number;
  /** Of which: the streamed upload (until S3 completed it), and recording size and checksum. */
  uploadMs: number;
  metadataMs: number;
  serverVersion: string;
  pgDumpVersion: string;
  versionId?: string;
}

/** The pg_dump arguments for a backup format (never a password: that is in the child's environment). */
export function pgDumpArgs(db: DbSettings, format: BackupFormat = writeFormat()): string[] {
  return ['--format=custom', pgDumpCompression(format), '--no-password', `--dbname=${conninfoWithoutPassword(db)}`];
}

async function chooseKey(store: BackupStore, database: string, time: Date): Promise<string> {
  const base = `${store.prefix}${safeDatabasePart(database)}-${stamp(time)}`;
  let taken: string[];
  try {
    const page = await store.s3.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: base }));
    taken = (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key.slice(store.prefix.length)] : []));
  } catch (error) {
    throw s3Failure(error, 'ListObjectsV2', store.bucket);
  }
  return `${store.prefix}${nextFreeName(database, time, taken)}`;
}

export async function runBackup(options: BackupOptions): Promise<BackupResult> {
  const { db, signal } = options;
  const store: BackupStore = { s3: options.s3, bucket: options.bucket, prefix: options.prefix };
  const startedAt = (options.now ?? (() => new Date()))();
  const t0 = performance.now();
  const database = connInfo(db).database;

  // Before anything is written: reachable, credentials valid, pg_dump new enough.
  const server = await serverInfo(db);
  const dumpVersion = await toolVersion('pg_dump', db.binDir);
  assertToolMatchesServer('pg_dump', dumpVersion, server);
  if (signal?.aborted) throw new UserFacingError('backup cancelled before it started; nothing was written');

  const key = await chooseKey(store, database, startedAt);
  const name = key.slice(store.prefix.length);
  const format = options.format ?? writeFormat();
  const meta: BackupMetadata = {
    database,
    format,
    pgDumpVersion: dumpVersion.text,
    serverVersion: server.version,
    startedBy: options.startedBy,
    reason: options.reason,
    jobId: options.jobId,
  };

  const tool = spawnTool('pg_dump', pgDumpArgs(db, format), db, { stdin: 'ignore', stdout: 'pipe' });
  // What is stored (and hashed): pg_dump's output, or its zstd compression.
  const compressor = compressorFor(format);
  const counter = new HashCounter(options.onBytes);
  const upload = new Upload({
    client: store.s3,
    params: { Bucket: store.bucket, Key: key, Body: counter, ContentType: 'application/octet-stream', Metadata: encodeMetadata(meta) },
    partSize: Math.max(options.partSize ?? partSizeFor(server.databaseBytes), MIN_PART_SIZE),
    queueSize: options.queueSize ?? DEFAULT_QUEUE_SIZE,
    leavePartsOnError: false,
  });

  // The counter (the upload's body) ends only once pg_dump has exited cleanly; otherwise it is
  // destroyed with the error, which makes the upload abort its multipart upload.
  let dumpFailure: UserFacingError | undefined;
  // pipeline (not pipe) so an error of pg_dump's stdout or of the compressor destroys the counter
  // with it and the upload fails with it. It resolves once the last byte (the compressor's final
  // block) has been written into the counter.
  const delivered = compressor
    ? pipeline(tool.child.stdout!, compressor, counter, { end: false })
    : pipeline(tool.child.stdout!, counter, { end: false });
  delivered.catch((error: unknown) => {
    if (compressor) counter.destroy(new UserFacingError(`compressing the dump failed: ${(error as Error).message}`));
  });
  const kill = () => tool.child.kill('SIGTERM');
  signal?.addEventListener('abort', kill, { once: true });
  void tool.exited.then(async (exit) => {
    const stderr = tool.stderr();
    if (exit.code === 0 && errorLines(stderr).length === 0) {
      if (await delivered.then(() => true, () => false)) counter.end();
      return;
    }
    dumpFailure = signal?.aborted ? new UserFacingError('backup cancelled') : classifyToolFailure('pg_dump', exit, stderr, db);
    counter.destroy(dumpFailure);
  });

  let uploaded: { ETag?: string; VersionId?: string };
  const tUpload = performance.now();
  try {
    uploaded = await upload.done();
  } catch (error) {
    kill();
    await tool.exited;
    const cause = dumpFailure ?? s3Failure(error, 'multipart upload', store.bucket);
    let left = 'no object was written';
    try {
      // Upload.done() already aborted its multipart upload; make sure no part survives.
      await abortUnfinishedUploads(store, key);
    } catch {
      left = `an unfinished multipart upload of ${key} may remain (abort it or let a lifecycle rule expire it)`;
    }
    throw new UserFacingError(`${cause.message}; ${left}`, cause.hint);
  } finally {
    signal?.removeEventListener('abort', kill);
  }

  await tool.exited;
  const tMetadata = performance.now();
  const size = counter.bytes;
  const sha256 = counter.digest();
  let versionId: string | undefined;
  try {
    versionId = await replaceMetadata(
      store,
      key,
      { etag: uploaded.ETag, versionId: uploaded.VersionId, size },
      encodeMetadata({ ...meta, sha256, size, durationMs: tMetadata - t0 }),
      { singleCopyLimit: options.singleCopyLimit, copyPartSize: options.copyPartSize },
    );
  } catch (error) {
    const reason = s3Failure(error, 'CopyObject (recording the checksum)', store.bucket).message;
    try {
      await deleteBackupObject(store, key, [uploaded.VersionId]);
      await abortUnfinishedUploads(store, key);
    } catch {
      throw new UserFacingError(`${reason}; the dump was uploaded as ${key} without a recorded checksum and could not be deleted: delete it by hand`);
    }
    throw new UserFacingError(`${reason}; the uploaded dump was deleted again, nothing is left`);
  }

  return {
    bucket: store.bucket,
    key,
    name,
    database,
    size,
    sha256,
    startedAt,
    durationMs: performance.now() - t0,
    uploadMs: tMetadata - tUpload,
    metadataMs: performance.now() - tMetadata,
    serverVersion: server.version,
    pgDumpVersion: dumpVersion.text,
    versionId,
  };
}
