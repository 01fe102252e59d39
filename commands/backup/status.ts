/** The backup area's status: the last database backup and its age (Home tab). */
import type { CommandContext } from '../../src/core/types.ts';
import type { Part } from '../../src/core/result.ts';
import { sectionParts } from '../shared/status.ts';
import { formatDuration } from '../../src/core/durations.ts';
import { listBackups } from './list.ts';
import { formatBytes } from './names.ts';
import { backupStore, s3Location } from './settings.ts';

/** The daily backup runs at 02:00; older than this, the last one is flagged. */
export const BACKUP_STALE_MS = 26 * 3_600_000;

export async function lastBackupText(ctx: CommandContext): Promise<string> {
  const { backups, total } = await listBackups(backupStore(ctx.config, ctx.clients, ctx.actor.id), 1);
  const last = backups[0];
  if (!last) return `:warning: No backup in ${s3Location(ctx.config)} yet — \`/autostack backup now\``;
  // The time in its name: when the dump began (the data is as of then).
  const taken = last.time;
  const age = ctx.clients.clock.now().getTime() - taken.getTime();
  const stale = age > BACKUP_STALE_MS;
  return `${stale ? ':warning:' : ':white_check_mark:'} ${last.name} — ${formatDuration(age)} old (${taken.toISOString().slice(0, 16).replace('T', ' ')} UTC), ${formatBytes(last.size)}, checksum ${last.checksum}; ${total} backup${total === 1 ? '' : 's'} kept${stale ? ' — older than the daily schedule: check the backup job' : ''}`;
}

/** The backup area's Home section. */
export function backupHome(ctx: CommandContext): Promise<Part[]> {
  return sectionParts([{ title: 'Last database backup', read: lastBackupText }], ctx);
}
