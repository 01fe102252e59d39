/**
 * The approved restore of a backup (commands/backup/restore.ts): safety backup, single-transaction
 * pg_restore streamed from S3, sanity queries. The runtime inspects and plans when asked, at the
 * approval and right before `run`.
 */
import type { Operation } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { reply, table } from '../../src/core/result.ts';
import { pointToThread } from '../shared/threads.ts';
import { withDatabaseLock } from './lock.ts';
import { formatDuration } from '../../src/core/durations.ts';
import { formatBytes } from './names.ts';
import { progressReporter } from './progress.ts';
import { inspectRestore, restoreBackup, restorePlan } from './restore.ts';
import type { RestoreInspection, RestoreParams } from './restore.ts';
import { qualified } from './sanity.ts';
import { backupStore, dbSettings } from './settings.ts';

export const restoreOperation: Operation<RestoreParams, RestoreInspection> = {
  title: (params) => `Restore database backup ${params.name} into ${params.target}`,
  cancellable: true,
  onFailureNextStep: 'The message says the state of the database (a failed restore is rolled back). Check the backup with `/autostack backup verify <name>`.',
  inspect: (params, ctx) => inspectRestore(params, { store: backupStore(ctx.config, ctx.clients, ctx.actor.id), db: dbSettings(ctx.config) }),
  plan: (params, seen) => restorePlan(params, seen),
  async beforeStart(_params, ctx) {
    if (!ctx.config.database.url) throw new UserFacingError('No database is configured.', 'Set database.url or DATABASE_URL.');
  },
  async started(params, ref, ctx) {
    return reply(await pointToThread(ctx.jobs, ref, `Restoring ${params.name} into ${params.target} (safety backup first); progress and the result are in the job's thread`), [], 'channel');
  },
  async run(_params, _seen, run) {
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
