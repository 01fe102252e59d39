/**
 * `status` with no app: the incident overview, the first thing to type when paged. Firing alerts
 * and held Terraform locks (read through the alerts area's Home sections), the last deploy per app
 * and whether its Deployment is healthy now, and active IP blocks. Each section stands alone: one
 * that fails says why and the others still show.
 */
import type { Text } from '../../src/core/text.ts';
import { joinText, md, mention } from '../../src/core/text.ts';
import type { CommandContext } from '../../src/core/types.ts';
import type { Part, Reply } from '../../src/core/result.ts';
import { openAlertsText, terraformLocksText } from '../alerts/home.ts';
import { deployRecords } from '../shared/deploy-records.ts';
import type { DeployRecord } from '../shared/deploy-records.ts';
import { clockTime, imageTag } from '../shared/evidence.ts';
import { deploymentRolloutState, readDeployment } from '../shared/kube.ts';
import { records } from './ratelimit/block.ts';

async function section(title: string, render: () => Promise<Text>): Promise<Part> {
  try {
    return { kind: 'text', text: joinText([`*${title}*\n`, await render()]) };
  } catch (error) {
    return { kind: 'text', text: `*${title}*\n:warning: unavailable: ${(error as Error).message}` };
  }
}

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

export async function incidentOverview(ctx: CommandContext): Promise<Reply> {
  const parts: Part[] = [
    { kind: 'heading', text: 'Incident overview' },
    ...(await Promise.all([
      section('Firing alerts', () => openAlertsText(ctx)),
      section('Terraform state locks', () => terraformLocksText(ctx)),
      section('Last deploy per app', () => lastDeploys(ctx)),
      section('Active IP blocks', () => activeBlocks(ctx)),
    ])),
    { kind: 'context', text: 'Details: `/autostack status <app>`, `/autostack jobs`, `/autostack alerts`.' },
  ];
  return { summary: 'Incident overview', parts, visibility: 'ephemeral' };
}
