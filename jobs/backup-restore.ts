/**
 * Restores a backup into a database after approval (commands/backup/restore.ts): safety backup,
 * single-transaction pg_restore streamed from S3, sanity queries.
 */
import type { JobDefinition } from '../src/core/types.ts';
import { reply, table } from '../src/core/result.ts';
import { withDatabaseLock } from '../commands/backup/lock.ts';
import { formatBytes, formatDuration } from '../commands/backup/names.ts';
import { progressReporter } from '../commands/backup/progress.ts';
import { restoreBackup, restorePlan } from '../commands/backup/restore.ts';
import type { RestoreParams } from '../commands/backup/restore.ts';
import { qualified } from '../commands/backup/sanity.ts';
import { backupStore, dbSettings } from '../commands/backup/settings.ts';

export const BACKUP_RESTORE_JOB = 'backup-restore';

export const backupRestoreJob: JobDefinition<RestoreParams> = {
  name: BACKUP_RESTORE_JOB,
  title: (data) => `Restore database backup ${data.name} into ${data.target}`,
  cancellable: true,
  onFailureNextStep: 'The message says the state of the database (a failed restore is rolled back). Check the backup with `/autostack backup verify <name>`.',

  async replan(data, run) {
    return restorePlan(data, { store: backupStore(run.config, run.clients, run.requestedBy), db: dbSettings(run.config) });
  },

  async process(run) {
    const store = backupStore(run.config, run.clients, run.requestedBy);
    const db = dbSettings(run.config);
    const { name, target } = run.data;
    return withDatabaseLock(run.clients.redis, { prefix: run.config.redis.prefix, database: target }, run.id, 'restore', async () => {
      const safetyProgress = progressReporter((text) => run.step(`safety backup: ${text}`), 'written');
      const restoreProgress = progressReporter((text) => run.step(`restore: ${text}`), 'read');
      const result = await restoreBackup({
        store,
        params: { name, target },
        db,
        startedBy: run.requestedBy,
        jobId: run.id,
        signal: run.signal,
        onStep: (text) => run.step(text),
        onBytes: (phase, bytes) => (phase === 'safety' ? safetyProgress(bytes) : restoreProgress(bytes)),
      });
      const rows = result.tables.reduce((n, t) => n + t.rows, 0);
      await run.audit.record({
        actor: run.requestedBy,
        action: 'backup restore',
        args: { name, target, safetyBackup: result.safety?.name ?? null },
        result: 'restored',
        channel: run.channel,
        detail: `${result.tables.length} tables, ${rows} rows`,
      });
      const safety = result.safety ? `safety backup ${result.safety.name}` : `created database ${target}`;
      const sanity = result.sanityError ? `sanity queries failed: ${result.sanityError}` : `${result.tables.length} tables, ${rows} rows`;
      const summary = `Restored ${name} into ${target} (${formatBytes(result.bytes)} in ${formatDuration(result.durationMs)}): ${sanity}; ${safety}`;
      return reply(
        summary,
        [
          { kind: 'text', text: `${result.sanityError || result.tables.length === 0 ? ':warning:' : ':white_check_mark:'} ${summary}` },
          ...(result.tables.length > 0 ? [table(['table', 'rows'], result.tables.map((t) => [qualified(t), String(t.rows)]))] : []),
          ...(result.safety ? [{ kind: 'context' as const, text: `Undo: \`/autostack backup restore ${result.safety.name} --target ${target}\` (needs approval).` }] : []),
        ],
        'channel',
      );
    });
  },
};
