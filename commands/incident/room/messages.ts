/**
 * What an incident channel shows: its topic, the pinned status message and the announcement, all
 * written from the incident's record so every change rewrites them the same way.
 */
import type { Config } from '../../../src/config.ts';
import type { Reply } from '../../../src/core/result.ts';
import { channelRef, md, mention } from '../../../src/core/text.ts';
import { clockTime } from '../../shared/evidence.ts';
import type { IncidentRecord, RoomEvent } from './store.ts';

/** Slack channel names: at most 80 characters of lowercase letters, digits, dashes and underscores. */
const MAX_CHANNEL_NAME = 80;

/** The channel name from the configured pattern: {date} is YYYYMMDD (UTC), {slug} the title's words. */
export function channelName(config: Config, title: string, now: Date): string {
  const date = now.toISOString().slice(0, 10).replace(/-/g, '');
  const withDate = config.incidents.channelName.replace(/\{date\}/g, date);
  const room = MAX_CHANNEL_NAME - (withDate.length - '{slug}'.length);
  const slug =
    title
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, Math.max(1, room))
      .replace(/-+$/, '') || 'incident';
  return withDate.replace(/\{slug\}/g, slug).slice(0, MAX_CHANNEL_NAME);
}

/** Plain text (a topic does not render mentions): "SEV2 | investigating | lead: alice | db down". */
export function topicText(record: IncidentRecord, leadName: string): string {
  return `${record.severity.toUpperCase()} | ${record.phase} | lead: ${leadName} | ${record.title}`;
}

function lastUpdate(record: IncidentRecord): RoomEvent | undefined {
  return record.events.filter((e) => e.kind === 'update' || e.kind === 'resolved').at(-1);
}

export function statusReply(record: IncidentRecord, now: Date): Reply {
  const update = lastUpdate(record);
  const resolved = record.phase === 'resolved';
  return {
    summary: `${record.severity.toUpperCase()} ${record.phase}: ${record.title}`,
    visibility: 'channel',
    parts: [
      { kind: 'heading', text: `${resolved ? '✅ Resolved' : '🚨 Incident'}: ${record.title}` },
      {
        kind: 'fields',
        fields: [
          ['Severity', record.severity.toUpperCase()],
          ['Status', resolved && record.resolvedAt ? `resolved ${clockTime(new Date(record.resolvedAt), now)}` : record.phase],
          ['Lead', mention(record.lead)],
          ['Declared', md`${clockTime(new Date(record.declaredAt), now)} by ${mention(record.declaredBy)}`],
        ],
      },
      ...(update ? [{ kind: 'text' as const, text: md`*Latest update* (${clockTime(new Date(update.at), now)}, ${mention(update.by)}): ${update.text}` }] : []),
      {
        kind: 'context',
        text: resolved
          ? 'The post-incident report is in this channel; `/autostack incident timeline` shows what happened.'
          : '`/autostack incident update <text>` · `incident lead @person` · `incident sev <1-3>` · `incident timeline` · `incident resolve [summary]`',
      },
    ],
  };
}

export function announcementReply(record: IncidentRecord, now: Date): Reply {
  const resolved = record.phase === 'resolved';
  const text = resolved
    ? md`✅ *Resolved* ${record.severity.toUpperCase()} incident *${record.title}* in ${channelRef(record.channel)} (declared ${clockTime(new Date(record.declaredAt), now)}, lead ${mention(record.lead)}).`
    : md`🚨 *${record.severity.toUpperCase()} incident declared:* *${record.title}*. Join ${channelRef(record.channel)}; lead ${mention(record.lead)}, declared by ${mention(record.declaredBy)}.`;
  return { summary: `${record.severity.toUpperCase()} incident ${resolved ? 'resolved' : 'declared'}: ${record.title}`, visibility: 'channel', parts: [{ kind: 'text', text }] };
}
