/**
 * The database backup job, run by `/autostack backup now` and by the daily schedule: pg_dump
 * streamed to S3 (commands/backup/dump.ts), then retention. A scheduled run that fails also
 * posts to the incident channel.
 */
import type { JobDefinition, JobRun } from '../src/core/types.ts';
import { UserFacingError } from '../src/core/types.ts';
import { reply } from '../src/core/result.ts';
import { runBackup } from '../commands/backup/dump.ts';
import type { BackupResult } from '../commands/backup/dump.ts';
import { LockHeldError, withDatabaseLock } from '../commands/backup/lock.ts';
import { formatDuration } from '../src/core/durations.ts';
import { formatBytes, formatRate } from '../commands/backup/names.ts';
import { connInfo } from '../commands/backup/pg.ts';
import { progressReporter } from '../commands/backup/progress.ts';
import { applyRetention } from '../commands/backup/retention.ts';
import type { RetentionResult } from '../commands/backup/retention.ts';
import { backupStore, dbSettings, retentionPolicy, s3Location } from '../commands/backup/settings.ts';

import { BACKUP_JOB } from '../commands/backup/queues.ts';
import type { BackupJobData } from '../commands/backup/queues.ts';
import { link as linkTo, md } from '../src/core/text.ts';

function describeStarter(requestedBy: string): string {
  return requestedBy === 'schedule' ? 'schedule' : requestedBy;
}

async function pageIncident(run: JobRun<BackupJobData>, message: string): Promise<void> {
  const channel = run.config.channels.incident;
  if (!channel) return;
  const threadTs = await run.thread();
  const link = threadTs ? await run.jobs.permalink(run.channel, threadTs).catch(() => undefined) : undefined;
  const text = md`:rotating_light: The scheduled database backup failed: ${message}${link ? md` (${linkTo(link, 'details')})` : ''}`;
  await run.clients.notify.post(channel, text).catch((error: Error) => run.log.warn({ err: error.message }, 'incident page failed'));
}

export const backupJob: JobDefinition<BackupJobData> = {
  name: BACKUP_JOB,
  title: (data) => (data.trigger === 'schedule' ? 'Scheduled database backup' : `Database backup${data.reason ? `: ${data.reason}` : ''}`),
  cancellable: true,
  onFailureNextStep: 'Nothing partial is left in S3 (the multipart upload is aborted). Fix the cause shown, then run `/autostack backup now`.',

  async process(run) {
    try {
      const db = dbSettings(run.config);
      const store = backupStore(run.config, run.clients, run.requestedBy);
      const database = connInfo(db).database;
      const reason = run.data.reason ?? (run.data.trigger === 'schedule' ? 'daily schedule' : 'manual backup');
      return await withDatabaseLock(run.clients.redis, { prefix: run.config.redis.prefix, database }, run.id, 'backup', async () => {
        await run.step(`pg_dump of ${database} → ${s3Location(run.config)} (custom format, compressed, streamed)`);
        const result: BackupResult = await runBackup({
          ...store,
          db,
          startedBy: describeStarter(run.requestedBy),
          reason,
          jobId: run.id,
          now: () => run.clients.clock.now(),
          signal: run.signal,
          onBytes: progressReporter((text) => run.step(text), 'written'),
        });
        const rate = formatRate(result.size, result.durationMs);
        await run.step(`Wrote ${result.name}: ${formatBytes(result.size)} in ${formatDuration(result.durationMs)} (${rate}), SHA-256 ${result.sha256.slice(0, 16)}…`);

        let retention: RetentionResult | undefined;
        let retentionError: string | undefined;
        try {
          retention = await applyRetention(store, retentionPolicy(run.config), run.clients.clock.now());
        } catch (error) {
          retentionError = error instanceof Error ? error.message : String(error);
        }
        if (retention && retention.deleted.length > 0) {
          await run.audit.record({
            actor: run.requestedBy,
            action: 'backup retention',
            args: { retentionDays: run.config.backup.retentionDays, keepAtLeast: run.config.backup.keepAtLeast },
            result: 'deleted',
            channel: run.channel,
            detail: retention.deleted.join(', '),
          });
        }
        const retentionText = retentionError
          ? `retention failed: ${retentionError}`
          : retention && retention.failed.length > 0
            ? `retention removed ${retention.deleted.length}, could not delete ${retention.failed.map((f) => `${f.key} (${f.error})`).join(', ')}`
            : retention && retention.deleted.length > 0
              ? `retention removed ${retention.deleted.length} old backup${retention.deleted.length === 1 ? '' : 's'}`
              : 'nothing expired';
        const summary = `Backup ${result.name}: ${formatBytes(result.size)} in ${formatDuration(result.durationMs)} (${rate}), SHA-256 ${result.sha256.slice(0, 12)}…; ${retentionText}`;
        return reply(
          summary,
          [
            { kind: 'text', text: `${retentionError || retention?.failed.length ? ':warning:' : ':white_check_mark:'} Backup *${result.name}* written to s3://${result.bucket}/${result.key}` },
            {
              kind: 'fields',
              fields: [
                ['Size', formatBytes(result.size)],
                ['Duration', formatDuration(result.durationMs)],
                ['Rate', rate],
                ['SHA-256', result.sha256],
                ['pg_dump / server', `${result.pgDumpVersion} / ${result.serverVersion}`],
                ['Reason', reason],
                ['Retention', retentionText],
              ],
            },
            ...(retention && retention.deleted.length > 0 ? [{ kind: 'context' as const, text: `Deleted: ${retention.deleted.join(', ')}` }] : []),
          ],
          'channel',
        );
      });
    } catch (error) {
      if (run.data.trigger === 'schedule' && error instanceof LockHeldError && error.running === 'backup') {
        // A backup of the same database is being taken right now: that one covers this slot.
        const summary = `Skipped: a backup of ${error.database} (job ${error.holder}) was already running`;
        return reply(summary, [{ kind: 'text', text: `:fast_forward: ${summary}` }], 'channel');
      }
      if (run.data.trigger === 'schedule' && !run.signal.aborted) {
        await pageIncident(run, error instanceof UserFacingError ? error.message : 'internal error (see the bot logs)');
      }
      throw error;
    }
  },
};
