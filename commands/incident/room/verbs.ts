/**
 * Incident rooms: `incident declare` opens a channel for one incident (people invited, topic,
 * pinned status and overview, an announcement); `incident lead|update|sev|resolve` keep its topic,
 * pinned status and announcement current; `incident timeline` and the report `incident resolve`
 * uploads tell what happened in it. Every step the bot could not take is named in the answer.
 */
import type { Args, CommandContext, Verb } from '../../../src/core/types.ts';
import { UsageError, UserFacingError } from '../../../src/core/types.ts';
import type { Reply } from '../../../src/core/result.ts';
import type { Text } from '../../../src/core/text.ts';
import { channelRef, groupMention, joinText, md, mention } from '../../../src/core/text.ts';
import { alertGroups } from '../../shared/alert-store.ts';
import { PeopleNames } from '../../shared/people.ts';
import { incidentOverview } from '../overview.ts';
import type { StatusSection } from '../../shared/status.ts';
import { announcementReply, channelName, statusReply, topicText } from './messages.ts';
import { PHASES, SEVERITIES, incidentRooms } from './store.ts';
import type { IncidentRecord, Phase, RoomEvent, Severity } from './store.ts';
import { MAX_AUDIT_ENTRIES, collectTimeline, postIncidentReport, timelineLine } from './timeline.ts';

const MAX_TITLE = 100;
const MAX_UPDATE = 2000;
/** A taken channel name gets -2, -3, ... up to this. */
const NAME_ATTEMPTS = 5;
/** Lines of the timeline shown in a message; the whole of it is attached as a file. */
const SHOWN_LINES = 40;

function severity(word: string | undefined): Severity {
  const normalized = word?.toLowerCase().replace(/^(sev)?/, 'sev');
  if (!normalized || !(SEVERITIES as readonly string[]).includes(normalized)) throw new UsageError(`severity must be sev1, sev2 or sev3 (or 1, 2, 3); got "${(word ?? '').slice(0, 20)}"`);
  return normalized as Severity;
}

function text(words: string[], what: string, max: number, required = true): string | undefined {
  const joined = words.join(' ').trim();
  if (joined === '') {
    if (required) throw new UsageError(`give the ${what}`);
    return undefined;
  }
  if (joined.length > max) throw new UsageError(`the ${what} is ${joined.length} characters; at most ${max}`);
  return joined;
}

/** `<@U123>` or `<@U123|alice>` (a mention typed in the command) or a bare user ID. */
function userId(word: string | undefined): string {
  const match = /^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$/.exec(word ?? '') ?? /^([UW][A-Z0-9]{2,})$/.exec(word ?? '');
  if (!match) throw new UsageError(`name the new lead as a mention (@person); got "${(word ?? '').slice(0, 40)}"`);
  return match[1]!;
}

function event(ctx: CommandContext, kind: RoomEvent['kind'], eventText: string): RoomEvent {
  return { at: ctx.clients.clock.now().toISOString(), by: ctx.actor.id, kind, text: eventText };
}

/** Rewrites the topic, the pinned status and the announcement from the record; what failed is returned, named. */
async function refresh(record: IncidentRecord, ctx: CommandContext): Promise<Text[]> {
  const now = ctx.clients.clock.now();
  const failed: Text[] = [];
  const notify = ctx.clients.notify;
  const lead = await new PeopleNames(ctx.clients, ctx.config.redis.prefix).name(record.lead);
  await notify.setTopic(record.channel, topicText(record, lead)).catch((e: Error) => failed.push(`the topic (${e.message})`));
  if (record.statusTs) await notify.update(record.channel, record.statusTs, statusReply(record, now)).catch((e: Error) => failed.push(`the pinned status (${e.message})`));
  if (record.announcement) {
    const { channel, ts } = record.announcement;
    await notify.update(channel, ts, announcementReply(record, now)).catch((e: Error) => failed.push(md`the announcement in ${channelRef(channel)} (${e.message})`));
  }
  return failed;
}

function changed(summary: Text, failed: Text[]): Reply {
  const parts: Reply['parts'] = [{ kind: 'text', text: summary }];
  if (failed.length) parts.push({ kind: 'context', text: joinText([':warning: Not updated: ', joinText(failed, '; '), '.']) });
  return { summary: typeof summary === 'string' ? summary : summary.plain, parts, visibility: 'channel' };
}

async function createChannel(ctx: CommandContext, title: string): Promise<{ id: string; name: string }> {
  const base = channelName(ctx.config, title, ctx.clients.clock.now());
  for (let attempt = 1; attempt <= NAME_ATTEMPTS; attempt++) {
    const name = attempt === 1 ? base : `${base.slice(0, 80 - String(attempt).length - 1)}-${attempt}`;
    try {
      return { id: await ctx.clients.notify.createChannel(name), name };
    } catch (error) {
      if ((error as { data?: { error?: string } }).data?.error !== 'name_taken') throw new UserFacingError(`Could not create the incident channel #${name}: ${(error as Error).message}. Nothing was declared.`);
    }
  }
  throw new UserFacingError(`The channel names #${base} to #${base}-${NAME_ATTEMPTS} are all taken; give the incident a more specific title. Nothing was declared.`);
}

export interface DeclareParams {
  severity: Severity;
  title: string;
}

/** `overview`: the other areas' status sections pinned with the incident's overview. */
export const incidentDeclareVerb = (sections: StatusSection[]): Verb<DeclareParams> => ({
  path: ['incident', 'declare'],
  section: 'incident',
  runbookStep: 'Incident Response: open an incident (its own channel, on-call invited, the overview pinned, announced)',
  summary: 'Creates the incident channel, invites you and the on-call group, sets the topic, pins the status and the overview (firing alerts, locks, last deploys) and announces it',
  usage: '<sev1|sev2|sev3> <title>',
  minRole: 'operator',
  guard: 'none',
  positional: { min: 2, max: 50 },
  parse: (args) => ({ severity: severity(args.positional[0]), title: text(args.positional.slice(1), 'title', MAX_TITLE)! }),
  async execute({ severity: sev, title }, ctx) {
    const notify = ctx.clients.notify;
    const rooms = incidentRooms(ctx.clients.redis, ctx.config.redis.prefix);
    const created = await createChannel(ctx, title);
    const now = ctx.clients.clock.now();
    const record: IncidentRecord = {
      channel: created.id,
      name: created.name,
      title,
      severity: sev,
      phase: 'investigating',
      lead: ctx.actor.id,
      declaredBy: ctx.actor.id,
      declaredAt: now.toISOString(),
      declaredIn: ctx.channel,
      alertGroups: (await alertGroups(ctx.clients.redis, ctx.config.redis.prefix).open().catch(() => [])).map((g) => g.id),
      events: [event(ctx, 'declared', `declared ${sev.toUpperCase()}: ${title}`)],
    };
    await rooms.save(record);

    const done: Text[] = [md`created ${channelRef(created.id)}`];
    const failed: Text[] = [];
    const group = ctx.config.incidents.oncallUsergroup ?? ctx.config.alerts.oncallUsergroup;
    let invited = [ctx.actor.id];
    if (group) {
      await notify
        .groupMembers(group)
        .then((members) => (invited = [...new Set([...invited, ...members])]))
        .catch((e: Error) => failed.push(md`reading the on-call group ${groupMention(group)} (${e.message})`));
    }
    await notify
      .invite(created.id, invited)
      .then(() => done.push(md`invited ${joinText(invited.map(mention), ', ')}${group ? md` (you and ${groupMention(group)})` : ''}`))
      .catch((e: Error) => failed.push(`inviting people (${e.message})`));

    const statusTs = await notify.post(created.id, statusReply(record, now)).catch((e: Error) => void failed.push(`the status message (${e.message})`));
    if (statusTs) {
      record.statusTs = statusTs;
      await notify.pin(created.id, statusTs).then(() => done.push('pinned the status'), (e: Error) => failed.push(`pinning the status (${e.message})`));
    }
    const overview = await incidentOverview({ ...ctx, channel: created.id }, sections);
    const overviewTs = await notify.post(created.id, { ...overview, summary: `Overview at declaration: ${overview.summary}` }).catch((e: Error) => void failed.push(`the overview (${e.message})`));
    if (overviewTs) await notify.pin(created.id, overviewTs).then(() => done.push('pinned the overview'), (e: Error) => failed.push(`pinning the overview (${e.message})`));

    const announceIn = ctx.config.incidents.announce ?? ctx.channel;
    const announced = await notify.post(announceIn, announcementReply(record, now)).catch((e: Error) => void failed.push(md`the announcement in ${channelRef(announceIn)} (${e.message})`));
    if (announced) {
      record.announcement = { channel: announceIn, ts: announced };
      done.push(md`announced it in ${channelRef(announceIn)}`);
    }
    await rooms.save(record);
    const lead = await new PeopleNames(ctx.clients, ctx.config.redis.prefix).name(record.lead);
    await notify.setTopic(created.id, topicText(record, lead)).then(() => done.push('set the topic'), (e: Error) => failed.push(`the topic (${e.message})`));

    const parts: Reply['parts'] = [{ kind: 'text', text: md`🚨 ${sev.toUpperCase()} incident *${title}* declared: ${joinText(done, ', ')}.` }];
    if (failed.length) parts.push({ kind: 'context', text: joinText([':warning: Not done: ', joinText(failed, '; '), '.']) });
    return { summary: `${sev.toUpperCase()} incident declared: ${title} (#${created.name})`, parts, visibility: 'ephemeral' };
  },
});

export const incidentLeadVerb: Verb<{ lead: string }> = {
  path: ['incident', 'lead'],
  section: 'incident',
  runbookStep: 'Incident Response: name who leads the incident',
  summary: "Makes someone the incident's lead (invited to the channel; topic and pinned status updated). In the incident channel",
  usage: '<@person>',
  minRole: 'operator',
  guard: 'none',
  positional: { min: 1, max: 1 },
  parse: (args) => ({ lead: userId(args.positional[0]) }),
  async execute({ lead }, ctx) {
    const rooms = incidentRooms(ctx.clients.redis, ctx.config.redis.prefix);
    const record = await rooms.change(ctx.channel, (r) => ({ ...r, lead, events: [...r.events, event(ctx, 'lead', `lead is now ${lead}`)] }));
    const failed = await refresh(record, ctx);
    await ctx.clients.notify.invite(ctx.channel, [lead]).catch((e: Error) => failed.push(md`inviting ${mention(lead)} (${e.message})`));
    return changed(md`${mention(lead)} now leads this incident (set by ${mention(ctx.actor.id)}).`, failed);
  },
};

export interface UpdateParams {
  text: string;
  phase?: Phase;
}

export const incidentUpdateVerb: Verb<UpdateParams> = {
  path: ['incident', 'update'],
  section: 'incident',
  runbookStep: 'Incident Response: tell everyone where things stand',
  summary: 'Posts a status update into the incident timeline and the pinned status; --status investigating|identified|monitoring also changes the topic. In the incident channel',
  usage: '<text> [--status investigating|identified|monitoring]',
  minRole: 'operator',
  guard: 'none',
  positional: { min: 1, max: 300 },
  flags: { status: 'string' },
  parse(args: Args) {
    const status = args.flags.status;
    if (status !== undefined && (typeof status !== 'string' || !(PHASES as readonly string[]).includes(status))) throw new UsageError(`--status must be one of ${PHASES.join(', ')}`);
    return { text: text(args.positional, 'update', MAX_UPDATE)!, phase: status as Phase | undefined };
  },
  async execute(params, ctx) {
    const rooms = incidentRooms(ctx.clients.redis, ctx.config.redis.prefix);
    const record = await rooms.change(ctx.channel, (r) => {
      if (r.phase === 'resolved') throw new UserFacingError('This incident is resolved; declare a new one if it is back.');
      return { ...r, phase: params.phase ?? r.phase, events: [...r.events, event(ctx, 'update', params.phase ? `${params.phase}: ${params.text}` : params.text)] };
    });
    const failed = await refresh(record, ctx);
    return changed(md`*Update* from ${mention(ctx.actor.id)}${params.phase ? md` (now ${params.phase})` : ''}: ${params.text}`, failed);
  },
};

export const incidentSevVerb: Verb<{ severity: Severity }> = {
  path: ['incident', 'sev'],
  section: 'incident',
  runbookStep: "Incident Response: change the incident's severity",
  summary: 'Changes the severity (topic, pinned status and announcement updated). In the incident channel',
  usage: '<1|2|3>',
  minRole: 'operator',
  guard: 'none',
  positional: { min: 1, max: 1 },
  parse: (args) => ({ severity: severity(args.positional[0]) }),
  async execute({ severity: sev }, ctx) {
    const rooms = incidentRooms(ctx.clients.redis, ctx.config.redis.prefix);
    let before: Severity = sev;
    const record = await rooms.change(ctx.channel, (r) => {
      before = r.severity;
      if (r.severity === sev) throw new UserFacingError(`The incident is already ${sev.toUpperCase()}; nothing changed.`);
      return { ...r, severity: sev, events: [...r.events, event(ctx, 'severity', `severity ${r.severity.toUpperCase()} → ${sev.toUpperCase()}`)] };
    });
    const failed = await refresh(record, ctx);
    return changed(md`Severity is now *${sev.toUpperCase()}* (was ${before.toUpperCase()}; set by ${mention(ctx.actor.id)}).`, failed);
  },
};

export const incidentResolveVerb: Verb<{ summary?: string }> = {
  path: ['incident', 'resolve'],
  section: 'incident',
  runbookStep: 'Incident Response: close the incident and write the post-incident report',
  summary: 'Resolves the incident (topic, pinned status, announcement) and uploads the post-incident report: summary, impact window, timeline, commands and outcomes, follow-ups. In the incident channel',
  usage: '[summary]',
  minRole: 'operator',
  guard: 'none',
  positional: { min: 0, max: 300 },
  parse: (args) => ({ summary: text(args.positional, 'summary', MAX_UPDATE, false) }),
  async execute({ summary }, ctx) {
    const rooms = incidentRooms(ctx.clients.redis, ctx.config.redis.prefix);
    const now = ctx.clients.clock.now();
    const record = await rooms.change(ctx.channel, (r) => {
      if (r.phase === 'resolved') throw new UserFacingError(`This incident was already resolved at ${r.resolvedAt}; its report is in this channel.`);
      return { ...r, phase: 'resolved', resolvedAt: now.toISOString(), summary, events: [...r.events, event(ctx, 'resolved', summary ? `resolved: ${summary}` : 'resolved')] };
    });
    const failed = await refresh(record, ctx);
    const timeline = await collectTimeline(record, ctx.clients, ctx.config.redis.prefix, now);
    const names = await new PeopleNames(ctx.clients, ctx.config.redis.prefix).names([record.declaredBy, record.lead]);
    const report = postIncidentReport(record, timeline, names);
    const filename = `${record.name}-report.md`;
    const uploaded = await ctx.clients.notify
      .upload(record.channel, { filename, title: `Post-incident report: ${record.title}`, content: report })
      .then(() => true, (e: Error) => void failed.push(`the report upload (${e.message}); \`incident timeline\` still shows the timeline`));
    const ran = timeline.entries.filter((e) => e.kind !== 'incident' && e.kind !== 'alert').length;
    return changed(
      md`✅ Incident resolved by ${mention(ctx.actor.id)}.${uploaded ? md` Post-incident report ${filename} uploaded here: ${timeline.entries.length} timeline entries, ${ran} commands, approvals and job outcomes.` : ''}`,
      failed,
    );
  },
};

export const incidentTimelineVerb: Verb<Record<string, never>> = {
  path: ['incident', 'timeline'],
  section: 'incident',
  runbookStep: 'Incident Response: what happened so far, for whoever joins',
  summary: "The incident's timeline: declaration, lead and severity changes, updates, commands, approvals, job outcomes and alerts, with names. In the incident channel",
  usage: '',
  minRole: 'viewer',
  guard: 'none',
  parse: () => ({}),
  async execute(_params, ctx) {
    const record = await incidentRooms(ctx.clients.redis, ctx.config.redis.prefix).require(ctx.channel);
    const now = ctx.clients.clock.now();
    const timeline = await collectTimeline(record, ctx.clients, ctx.config.redis.prefix, record.resolvedAt ? new Date(record.resolvedAt) : now);
    const withDate = timeline.from.toISOString().slice(0, 10) !== timeline.to.toISOString().slice(0, 10);
    const lines = timeline.entries.map((e) => timelineLine(e, withDate));
    const shown = lines.slice(-SHOWN_LINES);
    const parts: Reply['parts'] = [
      { kind: 'heading', text: `Timeline (UTC): ${record.title}` },
      { kind: 'code', text: shown.join('\n') },
      {
        kind: 'context',
        text: `${lines.length} entries from ${timeline.from.toISOString()} to ${timeline.to.toISOString()}${lines.length > shown.length ? `; the ${lines.length - shown.length} earlier ones are in the attached file` : ''}${timeline.truncated ? `; only the first ${MAX_AUDIT_ENTRIES} audit entries were read` : ''}.`,
      },
    ];
    return {
      summary: `Timeline of ${record.title}: ${lines.length} entries`,
      parts,
      visibility: 'ephemeral',
      ...(lines.length > shown.length ? { attachment: { filename: `${record.name}-timeline.txt`, title: `Timeline: ${record.title}`, content: lines.join('\n') } } : {}),
    };
  },
};

export const roomVerbs = (overview: StatusSection[]) => [incidentDeclareVerb(overview), incidentLeadVerb, incidentUpdateVerb, incidentSevVerb, incidentResolveVerb, incidentTimelineVerb];
