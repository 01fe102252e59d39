/**
 * The bot's own verbs: help, jobs, audit and the harmless ping demo job.
 */
import type { ActionHandler, CommandModule, Verb } from '../../src/core/types.ts';
import { SECTIONS, UsageError } from '../../src/core/types.ts';
import type { Part } from '../../src/core/result.ts';
import { errorReply, reply, table } from '../../src/core/result.ts';
import { roleAtLeast, usageLine, verbsBySection } from '../../src/core/registry.ts';
import type { JobSummary } from '../../src/core/jobs.ts';
import type { StoredAuditEntry } from '../../src/core/audit.ts';
import { joinText, link as linkTo, md, mention } from '../../src/core/text.ts';
import type { BreakGlassReview } from '../../src/core/break-glass.ts';

export interface CoreServices {
  verbs(): Verb<unknown>[];
  recentJobs(limit: number): Promise<JobSummary[]>;
  cancelJob(id: string): Promise<'cancelled' | 'removed' | 'not-running'>;
  jobRequester(id: string): Promise<string | undefined>;
  latestAudit(count: number): Promise<StoredAuditEntry[]>;
  /** The latest break-glass reviews, newest first. */
  breakGlassReviews(count: number): Promise<BreakGlassReview[]>;
  permalink(channel: string, ts: string): Promise<string | undefined>;
}

export const MAX_PING_STEPS = 20;

/** The demo job (jobs/ping.ts). */
export const PING_JOB = 'ping';
export interface PingData {
  steps: number;
}

function positiveInt(value: string, what: string, max: number): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${what} must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < 1 || n > max) throw new UsageError(`${what} must be between 1 and ${max}, got ${n}`);
  return n;
}

export function createCoreModule(services: CoreServices): CommandModule {
  const help: Verb<{ topic?: string }> = {
    path: ['help'],
    section: 'bot',
    runbookStep: 'Table of contents',
    summary: 'Commands you may run, grouped by runbook section',
    usage: '[topic]',
    minRole: 'viewer',
    guard: 'none',
    positional: { min: 0, max: 1 },
    parse: (args) => ({ topic: args.positional[0]?.toLowerCase() }),
    async execute({ topic }, ctx) {
      const role = ctx.actor.role;
      const mine = services.verbs().filter((v) => roleAtLeast(role, v.minRole));
      const matching = topic ? mine.filter((v) => v.path[0] === topic || v.section === topic || SECTIONS[v.section].toLowerCase().includes(topic)) : mine;
      if (topic && matching.length === 0) {
        return errorReply(`No commands you may run match "${topic}".`, 'Type `/autostack help` for all of them.');
      }
      const parts: Part[] = [{ kind: 'heading', text: 'AutoStack ChatOps' }];
      for (const group of verbsBySection(matching)) {
        parts.push({ kind: 'text', text: `*${group.title}*` });
        parts.push({
          kind: 'text',
          text: group.verbs.map((v) => `• \`${usageLine(v)}\` — ${v.summary}${guardNote(v)}\n      _runbook: ${v.runbookStep}_`).join('\n'),
        });
      }
      parts.push({ kind: 'context', text: `Your role: ${role}. Commands needing a higher role are not listed.` });
      return reply(`${matching.length} commands`, parts);
    },
  };

  const jobs: Verb<{ limit: number }> = {
    path: ['jobs'],
    section: 'bot',
    runbookStep: 'All long-running steps (restores, unlocks, rotations, deploys)',
    summary: 'Running and recent jobs with links to their threads',
    usage: '[n]',
    minRole: 'viewer',
    guard: 'none',
    positional: { min: 0, max: 1 },
    parse: (args) => ({ limit: args.positional[0] ? positiveInt(args.positional[0], 'n', 100) : 15 }),
    async execute({ limit }) {
      const recent = await services.recentJobs(limit);
      if (recent.length === 0) return reply('No jobs yet.');
      const rows = await Promise.all(
        recent.map(async (job) => {
          const link = job.parentTs ? await services.permalink(job.channel, job.parentTs) : undefined;
          return md`• *${job.state}* ${job.title}${job.requestedBy === 'schedule' ? ' (scheduled)' : md` — ${mention(job.requestedBy)}`}${job.startedAt ? ` — ${new Date(job.startedAt).toISOString().slice(0, 16).replace('T', ' ')}` : ''}${link ? md` — ${linkTo(link, 'thread')}` : ''} \`${job.id}\``;
        }),
      );
      return reply(`${recent.length} jobs`, [{ kind: 'text', text: joinText(rows, '\n') }]);
    },
  };

  const audit: Verb<{ count: number; breakGlass: boolean }> = {
    path: ['audit'],
    section: 'bot',
    runbookStep: 'Every action is audited',
    summary: 'The latest audit entries; --break-glass: the break-glass runs and their reviews',
    usage: '[n] [--break-glass]',
    minRole: 'approver',
    guard: 'none',
    positional: { min: 0, max: 1 },
    flags: { 'break-glass': 'boolean' },
    parse: (args) => ({ count: args.positional[0] ? positiveInt(args.positional[0], 'n', 200) : 20, breakGlass: args.flags['break-glass'] === true }),
    async execute({ count, breakGlass }) {
      if (breakGlass) {
        const reviews = await services.breakGlassReviews(count);
        if (reviews.length === 0) return reply('No break-glass run is recorded.');
        const time = (at: number) => new Date(at).toISOString().slice(0, 16).replace('T', ' ');
        const rows = reviews.map((r) => [time(r.at), r.requester, r.verb, r.reason.slice(0, 60), r.acknowledgedBy ? `acknowledged by ${r.acknowledgedBy} ${r.acknowledgedAt ? time(r.acknowledgedAt) : ''}`.trim() : `OPEN (${r.reminders} reminder${r.reminders === 1 ? '' : 's'})`]);
        const open = reviews.filter((r) => !r.acknowledgedBy).length;
        const summary = `${reviews.length} break-glass run${reviews.length === 1 ? '' : 's'}, ${open} not reviewed`;
        return reply(summary, [{ kind: 'text', text: `*${summary}*` }, table(['when (UTC)', 'who', 'what', 'reason', 'review'], rows)]);
      }
      const entries = await services.latestAudit(count);
      if (entries.length === 0) return reply('The audit trail is empty.');
      const rows = entries.map((e) => [e.at.slice(0, 19).replace('T', ' '), e.actor, e.action, e.result, (e.detail ?? '').slice(0, 80)]);
      return reply(`${entries.length} audit entries`, [table(['when (UTC)', 'who', 'what', 'result', 'detail'], rows)]);
    },
  };

  const ping: Verb<{ steps?: number }> = {
    path: ['ping'],
    section: 'bot',
    runbookStep: 'Demo: a harmless job reporting progress in a thread',
    summary: 'Answers pong; with --slow N runs a job that reports N progress steps',
    usage: '[--slow N]',
    minRole: 'viewer',
    guard: 'none',
    flags: { slow: 'string' },
    parse: (args) => ({ steps: typeof args.flags.slow === 'string' ? positiveInt(args.flags.slow, '--slow', MAX_PING_STEPS) : undefined }),
    async execute({ steps }, ctx) {
      if (!steps) return reply('pong');
      await ctx.jobs.start<PingData>(PING_JOB, { steps }, { channel: ctx.channel, requestedBy: ctx.actor.id });
      return reply(`Started a ${steps}-step ping job; progress is in its thread.`);
    },
  };

  const cancel: ActionHandler = {
    action: 'job.cancel',
    minRole: 'viewer',
    async handle(jobId, ctx) {
      const requester = await services.jobRequester(jobId);
      if (requester !== ctx.actor.id && !roleAtLeast(ctx.actor.role, 'operator')) {
        return errorReply('Only the requester or an operator can cancel this job.');
      }
      const outcome = await services.cancelJob(jobId);
      const text = outcome === 'not-running' ? 'That job is no longer running.' : outcome === 'removed' ? 'Cancelled before it started.' : 'Cancelling: the job stops at its next safe point.';
      await ctx.audit.record({ actor: ctx.actor.id, action: 'job cancel', result: outcome, channel: ctx.channel, detail: jobId });
      return reply(text);
    },
  };

  return {
    area: 'core',
    verbs: [help, jobs, audit, ping],
    actions: [cancel],
    async home(ctx) {
      const running = (await services.recentJobs(50)).filter((job) => job.state === 'active' || job.state === 'waiting' || job.state === 'delayed');
      const lines = await Promise.all(
        running.slice(0, 10).map(async (job) => {
          const link = job.parentTs ? await services.permalink(job.channel, job.parentTs) : undefined;
          return md`• ${job.title} (${job.state})${link ? md` ${linkTo(link, 'thread')}` : ''}`;
        }),
      );
      const mine = services.verbs().filter((v) => roleAtLeast(ctx.actor.role, v.minRole));
      return [
        { kind: 'text', text: joinText(['*Running jobs*\n', lines.length ? joinText(lines, '\n') : 'None right now.']) },
        { kind: 'text', text: `*Commands you may run* (${ctx.actor.role})\n${mine.map((v) => `\`${usageLine(v)}\``).join('\n')}` },
      ];
    },
  };
}

function guardNote(verb: Verb<unknown>): string {
  if (verb.guard === 'approval') return ' _(needs approval)_';
  if (verb.guard === 'confirm') return ' _(asks to confirm)_';
  return '';
}

