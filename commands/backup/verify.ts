/**
 * Verify a backup: restore it into a scratch database (autostack_verify_<random>) straight from S3,
 * recompute the checksum while streaming and compare it with the recorded one, run the sanity
 * queries (tables present, exact row count per table), and always drop the scratch database.
 * The outcome is recorded on the object as tags (verified-at, verify-result).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { UserFacingError } from '../../src/core/types.ts';
import { checkPgRestore, createDatabase, dropDatabase, loadIntoDatabase } from './load.ts';
import { backupDetails, listBackupObjects, recordVerification } from './objects.ts';
import type { BackupDetails, BackupStore } from './objects.ts';
import { connect, withDatabase } from './pg.ts';
import type { DbSettings } from './pg.ts';
import { tableCounts } from './sanity.ts';
import type { TableCount } from './sanity.ts';

export interface VerifyResult {
  name: string;
  key: string;
  ok: boolean;
  /** What failed; empty when ok. */
  problems: string[];
  recordedSha256?: string;
  actualSha256?: string;
  bytes: number;
  tables: TableCount[];
  durationMs: number;
  scratch: string;
  /** Set when the scratch database could not be dropped. */
  leftover?: string;
  /** Set when the result could not be recorded on the object. */
  tagError?: string;
}

/** `latest` → the newest backup's name; otherwise the name as given. */
export async function resolveBackupName(store: BackupStore, name: string): Promise<string> {
  if (name !== 'latest') return name;
  const newest = (await listBackupObjects(store))[0];
  if (!newest) throw new UserFacingError(`no backups in s3://${store.bucket}/${store.prefix}`);
  return newest.name;
}

export async function verifyBackup(options: {
  store: BackupStore;
  name: string;
  db: DbSettings;
  signal?: AbortSignal;
  onBytes?: (bytes: number) => void;
  now?: () => Date;
}): Promise<VerifyResult> {
  const { store, db } = options;
  const t0 = performance.now();
  const name = await resolveBackupName(store, options.name);
  const backup: BackupDetails = await backupDetails(store, `${store.prefix}${name}`);
  const scratch = `autostack_verify_${randomBytes(5).toString('hex')}`;
  const result: VerifyResult = {
    name,
    key: backup.key,
    ok: false,
    problems: [],
    recordedSha256: backup.meta.sha256,
    bytes: 0,
    tables: [],
    durationMs: 0,
    scratch,
  };
  if (!backup.meta.sha256) {
    result.problems.push('no SHA-256 recorded in the object metadata: integrity cannot be checked');
  } else {
    const server = await checkPgRestore(backup, db);
    await createDatabase(db, scratch);
    try {
      const target = withDatabase(db, scratch);
      const loaded = await loadIntoDatabase({
        store,
        backup,
        target,
        // The scratch copy is owned by the bot's user: ownership and grants are not what is checked.
        pgRestoreOptions: ['--no-owner', '--no-privileges', '--exit-on-error'],
        signal: options.signal,
        onBytes: options.onBytes,
      });
      result.bytes = loaded.bytes;
      result.actualSha256 = loaded.sha256;
      const client = await connect(target);
      try {
        result.tables = await tableCounts(client);
      } finally {
        await client.end().catch(() => undefined);
      }
      if (result.tables.length === 0) result.problems.push('the backup restores no tables');
    } catch (error) {
      if (!(error instanceof UserFacingError)) throw error;
      result.problems.push(error.message);
    } finally {
      try {
        await dropDatabase(db, scratch, server);
      } catch (error) {
        result.leftover = `scratch database ${scratch} could not be dropped (${(error as Error).message}): drop it by hand`;
      }
    }
  }
  result.ok = result.problems.length === 0;
  try {
    await recordVerification(store, backup.key, result.ok ? 'ok' : 'failed', (options.now ?? (() => new Date()))());
  } catch (error) {
    result.tagError = `the result could not be recorded on the object (${(error as Error).name})`;
  }
  result.durationMs = performance.now() - t0;
  return result;
}
