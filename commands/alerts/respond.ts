/**
 * Acknowledge, Silence and Unsilence of an alert group: commands (operator) that the buttons of its
 * thread request for the person who clicked, so role, channel limits and audit apply as typed.
 *
 * - Acknowledge records who, on the parent message and in the thread, until the group resolves
 *   and fires again.
 * - Silence creates a silence in Alertmanager (`alerts.alertmanager.url`) matching the labels the
 *   group's firing alerts share, created by the clicker's name, its comment linking the thread;
 *   the thread shows who silenced until when, with Unsilence, which expires it.
 * Each runs under the group's lock (the webhook's deliveries wait for it). When Alertmanager
 * fails, the thread says so and nothing is recorded; when Slack fails after a silence was created,
 * the silence is expired again, so no silence exists that the thread does not show.
 */
import type { Args, CommandContext, Verb } from '../../src/core/types.ts';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import type { Reply } from '../../src/core/result.ts';
import { reply } from '../../src/core/result.ts';
import { withRateLimit } from '../../src/core/thread.ts';
import { durationFlag } from '../../src/core/durations.ts';
import type { Text } from '../../src/core/text.ts';
import { md, mention } from '../../src/core/text.ts';
import type { AlertSilence, GroupRecord } from '../shared/alert-store.ts';
import { alertGroups } from '../shared/alert-store.ts';
import { PeopleNames } from '../shared/people.ts';
import { createSilence, expireSilence, sharedLabelMatchers } from './alertmanager.ts';
import { ACTIONS, RUNBOOK_ALERTS, activeSilence, groupMessage, when } from './view.ts';
import { payloadSchema } from './webhook.ts';

const SLACK_WAIT_MS = 10_000;
const MIN_SILENCE_MS = 5 * 60_000;
const MAX_SILENCE_MS = 24 * 3_600_000;
const GROUP_ID = /^[0-9a-f]{32}$/;
const ALERT_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$/;

interface GroupParams {
  /** A group ID, or the alert name of exactly one firing group. */
  group: string;
}

function groupParam(args: Args): GroupParams {
  const group = args.positional[0]!;
  if (!GROUP_ID.test(group) && !ALERT_NAME.test(group)) throw new UsageError(`"${group.slice(0, 40)}" is neither an alert group ID nor an alert name (such as HighErrorRate)`);
  return { group };
}

function titleOf(record: GroupRecord): string {
  return RUNBOOK_ALERTS[record.alertname]?.title ?? record.alertname;
}

async function findGroup(word: string, ctx: CommandContext): Promise<GroupRecord> {
  const store = alertGroups(ctx.clients.redis, ctx.config.redis.prefix);
  if (GROUP_ID.test(word)) {
    const record = await store.get(word);
    if (!record) throw new UserFacingError(`No alert group ${word} is known (alert groups are kept 30 days after their last change).`);
    return record;
  }
  const named = (await store.open()).filter((group) => group.alertname === word);
  if (named.length === 1) return named[0]!;
  if (named.length === 0) throw new UserFacingError(`No ${word} alert is firing; \`/autostack alerts\` lists the firing ones.`);
  throw new UserFacingError(`${named.length} ${word} alert groups are firing: use the buttons in their threads (\`/autostack alerts\` links them).`);
}

/** Runs `work` on the group's current record while holding its lock (the webhook waits meanwhile). */
async function withGroup<T>(ctx: CommandContext, id: string, work: (current: GroupRecord) => Promise<T>): Promise<T> {
  const store = alertGroups(ctx.clients.redis, ctx.config.redis.prefix);
  const locked = await store.withLock(id, async () => {
    const current = await store.get(id);
    if (!current) throw new UserFacingError(`Alert group ${id} is no longer known.`);
    return work(current);
  });
  if (!locked) throw new UserFacingError('Alertmanager is updating this alert right now; click again in a moment.');
  return locked.value;
}

function refuse(message: Text): never {
  throw new UserFacingError(message);
}

async function postInThread(ctx: CommandContext, record: GroupRecord, message: Reply): Promise<string> {
  const ts = await withRateLimit(() => ctx.clients.notify.post(record.channel, message, { threadTs: record.ts }), SLACK_WAIT_MS);
  if (!ts) throw new Error('Slack answered chat.postMessage without a message ts');
  return ts;
}

/**
 * The parent message drawn again with who acknowledged and the silence. Drawn as of the last
 * notification (its times stay what Alertmanager last said); a record without a kept notification
 * keeps its message, the thread reply says what changed.
 */
async function redrawParent(ctx: CommandContext, record: GroupRecord): Promise<void> {
  const parsed = payloadSchema.safeParse(record.payload);
  if (!parsed.success) return;
  const view = {
    id: record.id,
    alertname: record.alertname,
    title: titleOf(record),
    severity: record.severity,
    status: record.status,
    alerts: record.alerts,
    payload: parsed.data,
    ...(record.acknowledged ? { acknowledged: record.acknowledged } : {}),
    ...(record.silence ? { silence: record.silence } : {}),
  };
  const message = groupMessage(view, ctx.config, new Date(record.updatedAt));
  await withRateLimit(() => ctx.clients.notify.update(record.channel, record.ts, message), SLACK_WAIT_MS);
}

/** Redraws the parent; a failure leaves the state as it is (the thread shows it) and is said in the answer. */
async function redrawOrSay(ctx: CommandContext, record: GroupRecord): Promise<string> {
  try {
    await redrawParent(ctx, record);
    return '';
  } catch (error) {
    ctx.log.warn({ err: (error as Error).message, group: record.id }, 'alert message not redrawn');
    return ` The alert message itself could not be updated (${(error as Error).message}); its thread shows the change.`;
  }
}

function alertmanagerUrl(ctx: CommandContext, what: string): string {
  const url = ctx.config.alerts.alertmanager.url;
  if (!url) refuse(`${what} needs Alertmanager's address: alerts.alertmanager.url is not configured, so the bot cannot reach Alertmanager. Silence it in Alertmanager itself, or ask an admin to set it.`);
  return url;
}

/** An Alertmanager failure, said in the thread for everyone (best effort) and then to the person. */
async function reportFailure(ctx: CommandContext, record: GroupRecord, what: string, error: unknown): Promise<never> {
  const message = (error as Error).message;
  await postInThread(ctx, record, reply(md`:warning: ${mention(ctx.actor.id)}: ${what} failed, nothing changed. ${message}`, [], 'channel')).catch((posting: Error) => {
    ctx.log.warn({ err: posting.message, group: record.id }, 'alert failure not posted in its thread');
  });
  throw new UserFacingError(`${what} failed, nothing changed: ${message}`);
}

/** A command on one alert group (operator), named by its ID or alert name. */
function groupVerb(described: Pick<Verb, 'path' | 'runbookStep' | 'summary'>, execute: (params: GroupParams, ctx: CommandContext) => Promise<Reply>): Verb<GroupParams> {
  return { ...described, section: 'monitoring', usage: '<group-id|alertname>', example: 'HighErrorRate', minRole: 'operator', guard: 'none', positional: { min: 1, max: 1 }, parse: groupParam, execute };
}

export const ackVerb = groupVerb(
  {
    path: ['alerts', 'ack'],
    runbookStep: 'Alert Thresholds: "Page on-call engineer": the engineer paged acknowledges',
    summary: "Acknowledges a firing alert group: who is on it shows on the alert's message and in its thread (the Acknowledge button)",
  },
  async ({ group }, ctx) => {
    const found = await findGroup(group, ctx);
    const store = alertGroups(ctx.clients.redis, ctx.config.redis.prefix);
    return withGroup(ctx, found.id, async (current) => {
      const title = titleOf(current);
      if (current.status !== 'firing') refuse(`${title} is resolved; there is nothing to acknowledge.`);
      if (current.acknowledged) refuse(md`${title} was already acknowledged by ${mention(current.acknowledged.by)} at ${when(current.acknowledged.at)}.`);
      const next: GroupRecord = { ...current, acknowledged: { by: ctx.actor.id, at: ctx.clients.clock.now().toISOString() } };
      await store.save(next);
      try {
        await postInThread(ctx, current, reply(md`:eyes: ${mention(ctx.actor.id)} acknowledged this alert and is on it.`, [], 'channel'));
      } catch (error) {
        await store.save(current);
        throw error;
      }
      const note = await redrawOrSay(ctx, next);
      return reply(`Acknowledged: ${title}. The alert's message and thread show it is yours.${note}`);
    });
  },
);

export const silenceVerb: Verb<GroupParams & { forMs: number; length: string }> = {
  path: ['alerts', 'silence'],
  section: 'monitoring',
  runbookStep: 'Alert Thresholds: silence a known alert while it is worked on (Alertmanager silence)',
  summary: 'Silences a firing alert group in Alertmanager for a while (5m to 24h, default 1h); its thread shows who and until when, with Unsilence (the Silence 1h / 4h buttons)',
  usage: '<group-id|alertname> [--for 1h]',
  example: 'HighErrorRate --for 4h',
  minRole: 'operator',
  guard: 'none',
  positional: { min: 1, max: 1 },
  flags: { for: 'string' },
  parse(args) {
    const length = typeof args.flags.for === 'string' ? args.flags.for : '1h';
    return { ...groupParam(args), forMs: durationFlag(length, 'for', MIN_SILENCE_MS, MAX_SILENCE_MS), length };
  },
  async execute({ group, forMs, length }, ctx) {
    const url = alertmanagerUrl(ctx, 'Silence');
    const found = await findGroup(group, ctx);
    const store = alertGroups(ctx.clients.redis, ctx.config.redis.prefix);
    return withGroup(ctx, found.id, async (current) => {
      const title = titleOf(current);
      const now = ctx.clients.clock.now();
      if (current.status !== 'firing') refuse(`${title} is resolved; there is nothing to silence.`);
      const active = activeSilence(current.silence, now);
      if (active) refuse(md`${title} is already silenced by ${mention(active.by)} until ${when(active.endsAt)}; Unsilence in its thread ends that first.`);
      const matchers = sharedLabelMatchers(current.alerts.filter((a) => a.status === 'firing').map((a) => a.labels));
      if (matchers.length === 0) refuse(`The firing alerts of ${title} share no label, so no silence would match exactly them; silence them in Alertmanager itself.`);
      const thread = await ctx.jobs.permalink(current.channel, current.ts).catch(() => undefined);
      const createdBy = await new PeopleNames(ctx.clients, ctx.config.redis.prefix).name(ctx.actor.id);
      const endsAt = new Date(now.getTime() + forMs).toISOString();
      const what = `Silence ${length}`;
      const comment = `Silenced from Slack for ${length} while it is worked on; thread: ${thread ?? `channel ${current.channel}, message ${current.ts}`}`;
      const id = await createSilence(ctx.clients.http, url, { matchers, startsAt: now.toISOString(), endsAt, createdBy, comment }).catch((error: unknown) => reportFailure(ctx, current, what, error));
      let silence: AlertSilence;
      let replyTs: string | undefined;
      try {
        replyTs = await postInThread(ctx, current, silenceReply(current.id, { id, by: ctx.actor.id, endsAt }, length, matchers.map((m) => `${m.name}="${m.value}"`)));
        silence = { id, by: ctx.actor.id, endsAt, replyTs };
        await store.save({ ...current, silence });
      } catch (error) {
        throw await undoSilence(ctx, url, current.channel, { id, replyTs }, error as Error);
      }
      // An earlier silence that ended loses its Unsilence button: that button would end this one.
      const earlier = current.silence;
      if (earlier) await closeSilenceReply(ctx, current.channel, earlier, md`:bell: ${mention(earlier.by)} silenced this alert until ${when(earlier.endsAt)}; that silence has ended.`);
      const note = await redrawOrSay(ctx, { ...current, silence });
      await ctx.audit.record({ actor: ctx.actor.id, action: 'alert silenced', args: { group: current.id, alertname: current.alertname, for: length, until: endsAt }, result: 'ok', channel: current.channel, detail: `Alertmanager silence ${id}` });
      return reply(`Silenced in Alertmanager until ${when(endsAt)}: ${title} (silence ${id}). Unsilence is in the alert's thread.${note}`);
    });
  },
};

/**
 * Slack or Redis failed after the silence was made: it is expired again (and its reply, if posted,
 * says so), so Alertmanager holds no silence that the thread and the record do not show.
 */
async function undoSilence(ctx: CommandContext, url: string, channel: string, made: { id: string; replyTs?: string }, cause: Error): Promise<UserFacingError> {
  const undone = await expireSilence(ctx.clients.http, url, made.id).then(
    () => 'so it was expired again',
    (error: Error) => `and expiring it again failed too (${error.message}): expire silence ${made.id} in Alertmanager`,
  );
  ctx.log.error({ err: cause.message, silence: made.id }, 'silence created but not recorded');
  const said = `Alertmanager created silence ${made.id}, but the bot could not record it (${cause.message}), ${undone}.`;
  if (made.replyTs) await closeSilenceReply(ctx, channel, { id: made.id, replyTs: made.replyTs }, `:warning: ${said}`);
  return new UserFacingError(said);
}

/** A silence's thread reply rewritten without its Unsilence button; best effort, the record already says it ended. */
async function closeSilenceReply(ctx: CommandContext, channel: string, silence: Pick<AlertSilence, 'id' | 'replyTs'>, said: Text): Promise<void> {
  const message = reply(said, [{ kind: 'text', text: said }, { kind: 'context', text: `Alertmanager silence ${silence.id}` }], 'channel');
  await withRateLimit(() => ctx.clients.notify.update(channel, silence.replyTs, message), SLACK_WAIT_MS).catch((error: Error) => {
    ctx.log.warn({ err: error.message, silence: silence.id }, 'silence reply not updated');
  });
}

function silenceReply(group: string, silence: Omit<AlertSilence, 'replyTs'>, length: string, matchers: string[]): Reply {
  const said = md`:no_bell: ${mention(silence.by)} silenced this alert in Alertmanager for ${length}, until ${when(silence.endsAt)}.`;
  return reply(
    said,
    [
      { kind: 'text', text: said },
      { kind: 'context', text: `Alertmanager silence ${silence.id}, matching ${matchers.join(', ')}` },
      { kind: 'buttons', buttons: [{ label: 'Unsilence', action: ACTIONS.unsilence, value: group }] },
    ],
    'channel',
  );
}

export const unsilenceVerb = groupVerb(
  {
    path: ['alerts', 'unsilence'],
    runbookStep: 'Alert Thresholds: end a silence made from Slack (Alertmanager silence expired)',
    summary: "Expires the Alertmanager silence made from an alert group's thread, so its notifications flow again (the Unsilence button)",
  },
  async ({ group }, ctx) => {
    const url = alertmanagerUrl(ctx, 'Unsilence');
    const found = await findGroup(group, ctx);
    const store = alertGroups(ctx.clients.redis, ctx.config.redis.prefix);
    return withGroup(ctx, found.id, async (current) => {
      const title = titleOf(current);
      const silence = current.silence;
      if (!silence) refuse(`${title} has no silence made from Slack; silences made in Alertmanager itself are ended there.`);
      const outcome = await expireSilence(ctx.clients.http, url, silence.id).catch((error: unknown) => reportFailure(ctx, current, 'Unsilence', error));
      const { silence: _ended, ...next } = current;
      await store.save(next);
      const at = when(ctx.clients.clock.now().toISOString());
      const ended: Text =
        outcome === 'expired'
          ? md`:bell: ${mention(silence.by)} silenced this alert until ${when(silence.endsAt)}; ${mention(ctx.actor.id)} ended the silence at ${at}.`
          : md`:bell: ${mention(silence.by)} silenced this alert until ${when(silence.endsAt)}; Alertmanager shows that silence already expired (checked at ${at}).`;
      await closeSilenceReply(ctx, current.channel, silence, ended);
      const note = await redrawOrSay(ctx, next);
      await ctx.audit.record({ actor: ctx.actor.id, action: 'alert unsilenced', args: { group: current.id, alertname: current.alertname }, result: outcome, channel: current.channel, detail: `Alertmanager silence ${silence.id}` });
      return reply(`${outcome === 'expired' ? 'Unsilenced' : 'Already expired in Alertmanager'}: ${title} (silence ${silence.id}); its notifications flow again.${note}`);
    });
  },
);

export const respondVerbs = [ackVerb, silenceVerb, unsilenceVerb];
