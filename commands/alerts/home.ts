/** The alerts area's status: open alert groups with their threads (Home tab and incident overview). */
import type { CommandContext } from '../../src/core/types.ts';
import type { Part } from '../../src/core/result.ts';
import { alertGroups } from '../shared/alert-store.ts';
import { sectionParts } from '../shared/status.ts';
import { formatDuration } from '../../src/core/durations.ts';
import type { StatusSection } from '../shared/status.ts';
import { RUNBOOK_ALERTS } from './view.ts';
import type { Text } from '../../src/core/text.ts';
import { joinText, link, md } from '../../src/core/text.ts';

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
      return md`• ${icon} ${title}${group.severity ? md` (${group.severity})` : ''} — ${firing.length} firing for ${formatDuration(now - since)}${thread ? md` ${link(thread, 'thread')}` : ''}`;
    }),
  );
  return joinText(lines, '\n');
}

/** The incident overview's name for it: what fires now. */
export const firingAlertsSection: StatusSection = { title: 'Firing alerts', read: openAlertsText };

/** The alerts area's Home section. */
export function alertsHome(ctx: CommandContext): Promise<Part[]> {
  return sectionParts([{ title: 'Open alerts', read: openAlertsText }], ctx);
}
