/**
 * The Home tab's status sections: open alert threads (this area), and, read through the owning
 * areas' exported functions, the Terraform lock state (commands/tf) and the last database backup
 * with its age (commands/backup). Each section stands alone: one that fails or is slow shows why
 * and the others still appear.
 */
import type { CommandContext } from '../../src/core/types.ts';
import type { Part } from '../../src/core/result.ts';
import { tfClients } from '../tf/clients.ts';
import { describeLock, readLocks } from '../tf/locks.ts';
import { s3Uri, tfStates } from '../tf/states.ts';
import { listBackups } from '../backup/list.ts';
import { formatBytes } from '../backup/names.ts';
import { backupStore, s3Location } from '../backup/settings.ts';
import { alertGroups } from '../shared/alert-store.ts';
import { RUNBOOK_ALERTS } from './view.ts';
import type { Text } from '../../src/core/text.ts';
import { joinText, link, md } from '../../src/core/text.ts';

export const SECTION_TIMEOUT_MS = 8000;
/** The daily backup runs at 02:00; older than this, the last one is flagged. */
export const BACKUP_STALE_MS = 26 * 3_600_000;

function ago(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

async function section(title: string, render: () => Promise<Text>): Promise<Part> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${SECTION_TIMEOUT_MS / 1000}s`)), SECTION_TIMEOUT_MS)));
    return { kind: 'text', text: joinText([`*${title}*\n`, await Promise.race([render(), timeout])]) };
  } catch (error) {
    return { kind: 'text', text: `*${title}*\n:warning: unavailable: ${(error as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}

export async function openAlertsText(ctx: CommandContext): Promise<Text> {
  const open = await alertGroups(ctx.clients.redis, ctx.config.redis.prefix).open(20);
  if (open.length === 0) return 'None firing.';
  const now = ctx.clients.clock.now().getTime();
  const lines = await Promise.all(
    open.map(async (group) => {
      const thread = await ctx.jobs.permalink(group.channel, group.ts).catch(() => undefined);
      const firing = group.alerts.filter((a) => a.status === 'firing');
      const starts = firing.map((a) => Date.parse(a.startsAt)).filter((t) => Number.isFinite(t) && t > 0);
      const since = starts.length ? Math.min(...starts) : Date.parse(group.openedAt);
      const title = RUNBOOK_ALERTS[group.alertname]?.title ?? group.alertname;
      const icon = group.severity === 'critical' ? ':rotating_light:' : ':warning:';
      return md`• ${icon} ${title}${group.severity ? md` (${group.severity})` : ''} — ${firing.length} firing for ${ago(now - since)}${thread ? md` ${link(thread, 'thread')}` : ''}`;
    }),
  );
  return joinText(lines, '\n');
}

export async function terraformLocksText(ctx: CommandContext): Promise<string> {
  const clients = await tfClients(ctx.clients, ctx.actor.id);
  const now = ctx.clients.clock.now();
  const lines = await Promise.all(
    tfStates(ctx.config).map(async (state) => {
      try {
        const locks = await readLocks(clients, state);
        if (locks.length === 0) return `• :white_check_mark: ${state.name} (${s3Uri(state.bucket, state.key)}): no lock held`;
        return `• :lock: ${state.name}: ${describeLock(locks[0]!, now)}${locks.length > 1 ? ` (held in ${locks.length} places)` : ''} — \`/autostack tf lock\``;
      } catch (error) {
        return `• :warning: ${state.name}: ${(error as Error).message}`;
      }
    }),
  );
  return lines.join('\n');
}

export async function lastBackupText(ctx: CommandContext): Promise<string> {
  const { backups, total } = await listBackups(backupStore(ctx.config, ctx.clients, ctx.actor.id), 1);
  const last = backups[0];
  if (!last) return `:warning: No backup in ${s3Location(ctx.config)} yet — \`/autostack backup now\``;
  // The time in its name: when the dump began (the data is as of then).
  const taken = last.time;
  const age = ctx.clients.clock.now().getTime() - taken.getTime();
  const stale = age > BACKUP_STALE_MS;
  return `${stale ? ':warning:' : ':white_check_mark:'} ${last.name} — ${ago(age)} old (${taken.toISOString().slice(0, 16).replace('T', ' ')} UTC), ${formatBytes(last.size)}, checksum ${last.checksum}; ${total} backup${total === 1 ? '' : 's'} kept${stale ? ' — older than the daily schedule: check the backup job' : ''}`;
}

/** The alerts area's Home sections. */
export async function alertsHome(ctx: CommandContext): Promise<Part[]> {
  return Promise.all([
    section('Open alerts', () => openAlertsText(ctx)),
    section('Terraform state locks', () => terraformLocksText(ctx)),
    section('Last database backup', () => lastBackupText(ctx)),
  ]);
}
