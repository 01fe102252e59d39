/**
 * Streams a backup object from S3 into pg_restore, checking size and SHA-256 of the stored bytes
 * on the way and decompressing them when the backup's format says so (format.ts); the last bytes
 * reach pg_restore only after the checksum matched, see VerifyingStream.
 */
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { UserFacingError } from '../../src/core/types.ts';
import { decompressorFor, readFormat } from './format.ts';
import { s3Failure } from './objects.ts';
import type { BackupDetails, BackupStore } from './objects.ts';
import { classifyToolFailure, connect, conninfoWithoutPassword, ident, serverInfo, spawnTool, toolVersion, assertToolMatchesServer } from './pg.ts';
import type { DbSettings, ServerInfo } from './pg.ts';
import { ChecksumMismatchError, VerifyingStream } from './streams.ts';

export interface LoadResult {
  bytes: number;
  sha256: string;
  durationMs: number;
}

/** pg_restore must read the archive (not older than the pg_dump that wrote it) and match the server. */
export async function checkPgRestore(backup: BackupDetails, db: DbSettings): Promise<ServerInfo> {
  const server = await serverInfo(db);
  const restoreVersion = await toolVersion('pg_restore', db.binDir);
  assertToolMatchesServer('pg_restore', restoreVersion, server);
  const dumpMajor = Number(/^(\d+)/.exec(backup.meta.pgDumpVersion ?? '')?.[1] ?? 0);
  if (dumpMajor > restoreVersion.major) {
    throw new UserFacingError(
      `pg_restore ${restoreVersion.text} is older than the pg_dump ${backup.meta.pgDumpVersion} that wrote ${backup.name} and cannot read it`,
      'Point database.binDir at newer PostgreSQL client tools.',
    );
  }
  return server;
}

/**
 * Restores `backup` into the database of `target` with the given pg_restore options. Throws a
 * UserFacingError when the checksum does not match, S3 fails or pg_restore fails; in each of those
 * cases pg_restore did not reach the end of the archive.
 */
export async function loadIntoDatabase(options: {
  store: BackupStore;
  backup: BackupDetails;
  target: DbSettings;
  pgRestoreOptions: string[];
  signal?: AbortSignal;
  onBytes?: (bytes: number) => void;
}): Promise<LoadResult> {
  const { store, backup, target, signal } = options;
  const sha256 = backup.meta.sha256;
  if (!sha256) throw new UserFacingError(`${backup.name} has no recorded SHA-256, so its integrity cannot be checked`);
  // Before anything is read: a format this bot cannot read is refused.
  const decompressor = decompressorFor(readFormat(backup.meta.format), backup.name);
  const t0 = performance.now();
  let body: Readable;
  try {
    const res = await store.s3.send(
      new GetObjectCommand({ Bucket: store.bucket, Key: backup.key, VersionId: backup.versionId && backup.versionId !== 'null' ? backup.versionId : undefined, IfMatch: backup.etag }),
    );
    body = res.Body as Readable;
  } catch (error) {
    throw s3Failure(error, `GetObject ${backup.key}`, store.bucket);
  }
  const checker = new VerifyingStream({ sha256, size: backup.meta.size ?? backup.size, what: backup.name }, options.onBytes);
  const tool = spawnTool('pg_restore', [...options.pgRestoreOptions, '--no-password', `--dbname=${conninfoWithoutPassword(target)}`], target, {
    stdin: 'pipe',
    stdout: 'ignore',
  });
  const kill = () => {
    tool.child.kill('SIGTERM');
    body.destroy();
  };
  signal?.addEventListener('abort', kill, { once: true });
  try {
    const streamed = decompressor ? pipeline(body, checker, decompressor, tool.child.stdin!) : pipeline(body, checker, tool.child.stdin!);
    const piped = await streamed.then(
      () => undefined,
      (error: unknown) => error,
    );
    const exit = await tool.exited;
    if (signal?.aborted) throw new UserFacingError('cancelled');
    if (piped instanceof ChecksumMismatchError) throw piped;
    if (exit.code !== 0) throw classifyToolFailure('pg_restore', exit, tool.stderr(), target);
    if (!checker.verified) {
      // pg_restore finished without the final bytes: it cannot have read the whole archive.
      const why = piped instanceof Error ? piped.message : 'the stream ended early';
      throw new UserFacingError(`pg_restore finished before the whole backup was read (${why}); the checksum could not be confirmed`);
    }
    return { bytes: checker.bytes, sha256: checker.actualSha256 ?? '', durationMs: performance.now() - t0 };
  } catch (error) {
    if (error instanceof UserFacingError) throw error;
    throw s3Failure(error, `reading ${backup.key}`, store.bucket);
  } finally {
    signal?.removeEventListener('abort', kill);
    if (tool.child.exitCode === null && tool.child.signalCode === null) tool.child.kill('SIGTERM');
  }
}

export async function databaseExists(db: DbSettings, name: string): Promise<boolean> {
  const client = await connect(db);
  try {
    const res = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return (res.rowCount ?? 0) > 0;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function createDatabase(db: DbSettings, name: string): Promise<void> {
  const client = await connect(db);
  try {
    await client.query(`CREATE DATABASE ${ident(name)} TEMPLATE template0`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops a database, disconnecting its sessions (PostgreSQL 13+: WITH (FORCE)). */
export async function dropDatabase(db: DbSettings, name: string, server: ServerInfo): Promise<void> {
  const client = await connect(db);
  try {
    if (server.major >= 13) {
      await client.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
    } else {
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
      await client.query(`DROP DATABASE IF EXISTS ${ident(name)}`);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
