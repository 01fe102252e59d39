/**
 * `status` with no app: the incident overview, the first thing to type when paged. The sections
 * other areas contribute (firing alerts, held Terraform locks: given by commands/index.ts), the
 * last deploy per app and whether its Deployment is healthy now, pending approvals, active IP
 * blocks and running jobs. Each section stands alone: one that fails says why and the others still
 * show.
 */
import type { Text } from '../../src/core/text.ts';
import { joinText, link, md, mention } from '../../src/core/text.ts';
import type { CommandContext } from '../../src/core/types.ts';
import type { Part, Reply } from '../../src/core/result.ts';
import { PendingStore } from '../../src/core/pending.ts';
import { sectionParts } from '../shared/status.ts';
import type { StatusSection } from '../shared/status.ts';
import { deployRecords } from '../shared/deploy-records.ts';
import type { DeployRecord } from '../shared/deploy-records.ts';
import { clockTime, imageTag } from '../shared/evidence.ts';
import { readDeployment } from '../shared/kube.ts';
import { deploymentRolloutState } from '../shared/kube-rollouts.ts';
import { records } from './ratelimit/block.ts';

async function lastDeploys(ctx: CommandContext): Promise<Text> {
  const now = ctx.clients.clock.now();
  const latest = new Map<string, DeployRecord>();
  for (const r of await deployRecords(ctx.clients.redis, ctx.config.redis.prefix).recent(100)) if (!latest.has(r.app)) latest.set(r.app, r);
  if (latest.size === 0) return 'No deploys recorded through the bot.';
  const lines = await Promise.all(
    [...latest.values()].map(async (r) => {
      let health: string;
      try {
        const state = deploymentRolloutState(await readDeployment(ctx.clients.kube(), ctx.config.kubernetes.namespace, r.deployment));
        health = state.done ? `:white_check_mark: ${state.ready}/${state.desired} ready` : `:warning: ${state.message}`;
      } catch (error) {
        health = `:warning: ${(error as Error).message}`;
      }
      return md`• *${r.app}* ${imageTag(r.to.image)} ${r.result.replace('_', ' ')} ${clockTime(new Date(r.finishedAt), now)} by ${mention(r.by)}; now ${health}`;
    }),
  );
  return joinText(lines, '\n');
}

async function activeBlocks(ctx: CommandContext): Promise<Text> {
  const now = ctx.clients.clock.now();
  const all = (await records(ctx.config, ctx.clients).all()).filter((b) => Date.parse(b.until) > now.getTime());
  if (all.length === 0) return 'None.';
  return joinText(all.map((b) => md`• ${b.cidr} until ${clockTime(new Date(b.until), now)}, by ${mention(b.by)}${b.reason ? md`: ${b.reason}` : ''}`), '\n');
}

async function pendingApprovals(ctx: CommandContext): Promise<Text> {
  const now = ctx.clients.clock.now();
  const open = await new PendingStore(ctx.clients.redis, ctx.config.redis.prefix).open(now.getTime(), 'approval');
  if (open.length === 0) return 'None.';
  return joinText(
    open.map((r) => {
      let title = r.verb;
      try {
        title = (JSON.parse(r.plan) as { title?: string }).title || r.verb;
      } catch {
        // an unreadable plan keeps the verb's name
      }
      return md`• ${title}: asked by ${mention(r.requester)} ${clockTime(new Date(r.createdAt), now)}, expires ${clockTime(new Date(r.expiresAt), now)}`;
    }),
    '\n',
  );
}

async function runningJobs(ctx: CommandContext): Promise<Text> {
  if (!ctx.jobs.recent) return 'not available here.';
  const now = ctx.clients.clock.now();
  const running = (await ctx.jobs.recent(200)).filter((job) => job.state === 'active' || (job.state === 'waiting' && job.requestedBy !== 'schedule'));
  if (running.length === 0) return 'None.';
  const lines = await Promise.all(
    running.map(async (job) => {
      const thread = job.parentTs ? await ctx.jobs.permalink(job.channel, job.parentTs) : undefined;
      const who = job.requestedBy === 'schedule' ? 'scheduled' : md`by ${mention(job.requestedBy)}`;
      const since = job.startedAt ? `, started ${clockTime(new Date(job.startedAt), now)}` : '';
      return md`• ${job.state === 'active' ? 'running' : 'queued'}: ${job.title || job.id} ${who}${since}${thread ? md` — ${link(thread, 'thread')}` : ''}`;
    }),
  );
  return joinText(lines, '\n');
}

/** The overview: the sections other areas contribute, then this area's. */
export async function incidentOverview(ctx: CommandContext, contributed: StatusSection[]): Promise<Reply> {
  const parts: Part[] = [
    { kind: 'heading', text: 'Incident overview' },
    ...(await sectionParts(
      [
        ...contributed,
        { title: 'Last deploy per app', read: lastDeploys },
        { title: 'Pending approvals', read: pendingApprovals },
        { title: 'Active IP blocks', read: activeBlocks },
        { title: 'Running jobs', read: runningJobs },
      ],
      ctx,
    )),
    { kind: 'context', text: 'Details: `/autostack status <app>`, `/autostack jobs`, `/autostack alerts`.' },
  ];
  return { summary: 'Incident overview', parts, visibility: 'ephemeral' };
}
