/**
 * Verifies a backup by restoring it into a scratch database (commands/backup/verify.ts).
 */
import type { JobDefinition } from '../src/core/types.ts';
import { UserFacingError } from '../src/core/types.ts';
import { reply, table } from '../src/core/result.ts';
import type { Part } from '../src/core/result.ts';
import { formatDuration } from '../src/core/durations.ts';
import { formatBytes } from '../commands/backup/names.ts';
import { progressReporter } from '../commands/backup/progress.ts';
import { qualified } from '../commands/backup/sanity.ts';
import { backupStore, dbSettings } from '../commands/backup/settings.ts';
import { verifyBackup } from '../commands/backup/verify.ts';
import type { VerifyResult } from '../commands/backup/verify.ts';

import { BACKUP_VERIFY_JOB } from '../commands/backup/queues.ts';
import type { VerifyJobData } from '../commands/backup/queues.ts';

function resultParts(result: VerifyResult): Part[] {
  const parts: Part[] = [
    {
      kind: 'fields',
      fields: [
        ['Backup', result.name],
        ['Checksum', result.actualSha256 ? (result.actualSha256 === result.recordedSha256 ? `matches (${result.actualSha256.slice(0, 16)}…)` : 'does not match') : 'not checked'],
        ['Read', formatBytes(result.bytes)],
        ['Duration', formatDuration(result.durationMs)],
        ['Scratch database', `${result.scratch} (${result.leftover ? 'NOT dropped' : 'dropped'})`],
      ],
    },
  ];
  if (result.tables.length > 0) {
    parts.push(table(['table', 'rows'], result.tables.map((t) => [qualified(t), String(t.rows)])));
  }
  for (const problem of result.problems) parts.push({ kind: 'text', text: `:x: ${problem}` });
  if (result.leftover) parts.push({ kind: 'text', text: `:warning: ${result.leftover}` });
  if (result.tagError) parts.push({ kind: 'context', text: result.tagError });
  return parts;
}

export const backupVerifyJob: JobDefinition<VerifyJobData> = {
  name: BACKUP_VERIFY_JOB,
  title: (data) => `Verify database backup ${data.name}`,
  cancellable: true,
  onFailureNextStep: 'Do not rely on this backup: take a new one with `/autostack backup now` and verify it.',

  async process(run) {
    const store = backupStore(run.config, run.clients, run.requestedBy);
    await run.step(`Restoring ${run.data.name} into a scratch database…`);
    const result = await verifyBackup({
      store,
      name: run.data.name,
      db: dbSettings(run.config),
      signal: run.signal,
      now: () => run.clients.clock.now(),
      onBytes: progressReporter((text) => run.step(text), 'restored'),
    });
    const totalRows = result.tables.reduce((n, t) => n + t.rows, 0);
    if (!result.ok) {
      await run.step(`Verification of ${result.name} failed:\n${result.problems.map((p) => `• ${p}`).join('\n')}`);
      throw new UserFacingError(`Backup ${result.name} failed verification: ${result.problems.join('; ')}${result.leftover ? `; ${result.leftover}` : ''}`);
    }
    const summary = `Backup ${result.name} verified: checksum matches, ${result.tables.length} tables, ${totalRows} rows restored in ${formatDuration(result.durationMs)}${result.leftover ? `; ${result.leftover}` : ''}`;
    return reply(summary, [{ kind: 'text', text: `:white_check_mark: ${summary}` }, ...resultParts(result)], 'channel');
  },
};
