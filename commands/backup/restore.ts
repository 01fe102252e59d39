/**
 * Restore a backup into a database of the configured server: a safety backup of the target first
 * (or create it when it does not exist), then S3 → pg_restore --clean --if-exists
 * --single-transaction --exit-on-error, then the sanity queries. pg_restore runs everything in one
 * transaction and never sees the archive's last bytes unless the checksum matched, so a failed
 * restore leaves the target as it was.
 */
import { performance } from 'node:perf_hooks';
import type { Plan } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { runBackup } from './dump.ts';
import type { BackupResult } from './dump.ts';
import { checkPgRestore, createDatabase, databaseExists, dropDatabase, loadIntoDatabase } from './load.ts';
import { formatBytes } from './names.ts';
import { backupDetails } from './objects.ts';
import type { BackupDetails, BackupStore } from './objects.ts';
import { connInfo, connect, withDatabase } from './pg.ts';
import type { DbSettings } from './pg.ts';
import { tableCounts } from './sanity.ts';
import type { TableCount } from './sanity.ts';

export const RESTORE_OPTIONS = ['--clean', '--if-exists', '--single-transaction', '--exit-on-error'] as const;

export interface RestoreParams {
  name: string;
  target: string;
}

/** Connection used to create or drop `target`: never `target` itself. */
function maintenance(db: DbSettings, target: string): DbSettings {
  return connInfo(db).database === target ? withDatabase(db, 'postgres') : db;
}

/** The plan an approver sees; recomputed before the job runs (same inputs → same plan). */
export interface RestoreInspection {
  bucket: string;
  prefix: string;
  backup: BackupDetails & { meta: { sha256: string } };
  /** Whether the target database exists (then it gets a safety backup first). */
  exists: boolean;
  host: string;
  port: number;
}

/** Reads the backup's details and whether the target exists; refuses a backup without a checksum. */
export async function inspectRestore(params: RestoreParams, deps: { store: BackupStore; db: DbSettings }): Promise<RestoreInspection> {
  const { store, db } = deps;
  const backup = await backupDetails(store, `${store.prefix}${params.name}`);
  const sha256 = backup.meta.sha256;
  if (!sha256) throw new UserFacingError(`${params.name} has no recorded SHA-256: its integrity cannot be checked, so it is not restored`);
  const info = connInfo(db);
  const exists = await databaseExists(maintenance(db, params.target), params.target);
  return { bucket: store.bucket, prefix: store.prefix, backup: { ...backup, meta: { ...backup.meta, sha256 } }, exists, host: info.host, port: info.port };
}

export function restorePlan(params: RestoreParams, seen: RestoreInspection): Plan {
  const { backup, exists } = seen;
  const store = { bucket: seen.bucket, prefix: seen.prefix };
  const info = { host: seen.host, port: seen.port };
  const object = `s3://${store.bucket}/${backup.key}`;
  const steps = [
    exists
      ? `Safety backup: pg_dump of ${params.target} to s3://${store.bucket}/${store.prefix}${params.target}-<now>.dump (reason "safety backup before restore of ${params.name}")`
      : `Create database ${params.target} (it does not exist yet)`,
    `pg_restore ${RESTORE_OPTIONS.join(' ')} --dbname=${params.target} < ${object} (${formatBytes(backup.size)}, SHA-256 ${backup.meta.sha256.slice(0, 16)}… checked while streaming)`,
    `Sanity queries on ${params.target}: tables present, exact row count per table`,
  ];
  const warnings = exists
    ? [
        `Every table, view and function in the backup is dropped and recreated in ${params.target}: changes made since ${backup.time.toISOString().slice(0, 16).replace('T', ' ')} UTC are lost (the safety backup keeps them).`,
        `Sessions using ${params.target}'s tables make the restore wait for their locks.`,
      ]
    : [];
  return {
    title: `Restore ${params.name} into database ${params.target}`,
    steps,
    resources: [
      `${object} (ETag ${backup.etag ?? '?'}${backup.versionId && backup.versionId !== 'null' ? `, version ${backup.versionId}` : ''})`,
      `postgres://${info.host}:${info.port}/${params.target}`,
    ],
    warnings,
  };
}

export interface RestoreResult {
  name: string;
  target: string;
  /** The safety backup taken first (absent when the target did not exist). */
  safety?: BackupResult;
  created: boolean;
  bytes: number;
  durationMs: number;
  /** Of which: streaming into pg_restore until it committed. */
  restoreMs: number;
  tables: TableCount[];
  /** Set when the restore succeeded but the sanity queries failed. */
  sanityError?: string;
}

export async function restoreBackup(options: {
  store: BackupStore;
  params: RestoreParams;
  db: DbSettings;
  startedBy: string;
  jobId?: string;
  signal?: AbortSignal;
  onStep?: (text: string) => Promise<void> | void;
  onBytes?: (phase: 'safety' | 'restore', bytes: number) => void;
}): Promise<RestoreResult> {
  const { store, params, db } = options;
  const t0 = performance.now();
  const step = async (text: string) => options.onStep?.(text);
  const backup: BackupDetails = await backupDetails(store, `${store.prefix}${params.name}`);
  if (!backup.meta.sha256) throw new UserFacingError(`${params.name} has no recorded SHA-256: its integrity cannot be checked, so it is not restored`);
  const admin = maintenance(db, params.target);
  const target = withDatabase(db, params.target);
  const server = await checkPgRestore(backup, admin);

  let safety: BackupResult | undefined;
  let created = false;
  if (await databaseExists(admin, params.target)) {
    await step(`Safety backup of ${params.target}…`);
    try {
      safety = await runBackup({
        s3: store.s3,
        bucket: store.bucket,
        prefix: store.prefix,
        db: target,
        startedBy: options.startedBy,
        reason: `safety backup before restore of ${params.name}`,
        jobId: options.jobId,
        signal: options.signal,
        onBytes: (bytes) => options.onBytes?.('safety', bytes),
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new UserFacingError(`safety backup of ${params.target} failed: ${message}. Nothing was restored; ${params.target} is unchanged.`);
    }
    await step(`Safety backup ${safety.name} written (${formatBytes(safety.size)}).`);
  } else {
    await createDatabase(admin, params.target);
    created = true;
    await step(`Created database ${params.target}.`);
  }

  await step(`Restoring ${params.name} into ${params.target}…`);
  let loaded;
  try {
    loaded = await loadIntoDatabase({
      store,
      backup,
      target,
      pgRestoreOptions: [...RESTORE_OPTIONS],
      signal: options.signal,
      onBytes: (bytes) => options.onBytes?.('restore', bytes),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    let state: string;
    if (created) {
      state = await dropDatabase(admin, params.target, server).then(
        () => `the database ${params.target} that was created for it was dropped again`,
        () => `the empty database ${params.target} created for it could not be dropped`,
      );
    } else {
      state = `${params.target} is unchanged (the restore ran in a single transaction and was rolled back); safety backup: ${safety?.name}`;
    }
    if (/finished before the whole backup was read/.test(message)) {
      state = `${params.target} may hold a partial restore: check it, or restore the safety backup ${safety?.name ?? ''}`.trim();
    }
    throw new UserFacingError(`restore of ${params.name} into ${params.target} failed: ${message}. ${state}.`);
  }

  const result: RestoreResult = {
    name: params.name,
    target: params.target,
    safety,
    created,
    bytes: loaded.bytes,
    durationMs: 0,
    restoreMs: loaded.durationMs,
    tables: [],
  };
  try {
    const client = await connect(target);
    try {
      result.tables = await tableCounts(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    result.sanityError = error instanceof Error ? error.message : String(error);
  }
  result.durationMs = performance.now() - t0;
  return result;
}
