/**
 * Deployment Procedures: `deploy <app> <image-tag> [reason]` (confirm), `deploy protected ...`
 * (approval, required for apps configured as protected), `deploy history [app] [n]`, the deploy
 * operation (operation.ts, queued by jobs/deploy.ts), the runbook's key metrics at GET /metrics/runbook and the Home tab's
 * deployments section. See docs/deploy.md.
 */
import type { CommandContext, CommandModule, HttpRoute, Verb } from '../../src/core/types.ts';
import { UsageError } from '../../src/core/types.ts';
import type { Part } from '../../src/core/result.ts';
import { reply } from '../../src/core/result.ts';
import type { DeployParams } from './apps.ts';
import { configuredApp, parseDeploy } from './apps.ts';
import { deployLock } from './lock.ts';
import { runbookMetrics } from './metrics.ts';
import { age, deployOperation } from './operation.ts';
import type { DeployRecord } from '../shared/deploy-records.ts';
import { deployRecords } from '../shared/deploy-records.ts';
import { clockTime, imageTag } from '../shared/evidence.ts';
import { alertGroups } from '../shared/alert-store.ts';
import { lastGoodDeploy } from './good.ts';
import { threadLink } from '../shared/threads.ts';
import type { Text } from '../../src/core/text.ts';
import { joinText, link as linkTo, md, mention } from '../../src/core/text.ts';
import { durationMs } from '../../src/core/durations.ts';

export { deployRecords } from '../shared/deploy-records.ts';
export type { DeployRecord, DeployResult } from '../shared/deploy-records.ts';
export { deployLock } from './lock.ts';
export { runbookMetrics } from './metrics.ts';

const RUNBOOK_STEP = 'Standard Deployment, steps 4–6: alembic upgrade head; docker-compose up -d; curl http://localhost:8000/health (rollback: Rollback Procedure)';
export const METRICS_PATH = '/metrics/runbook';

export const deployVerb: Verb<DeployParams> = {
  path: ['deploy'],
  section: 'deploy',
  runbookStep: RUNBOOK_STEP,
  summary: 'Deploys an image tag: migrations first if configured, image set, rollout followed, /health and smoke checks; rolls back automatically on any failure',
  usage: '<app> <image-tag> [reason]',
  example: 'backend 1.4.2 fixes the login redirect',
  minRole: 'operator',
  guard: 'confirm',
  positional: { min: 2, max: 60 },
  parse(args, { config }) {
    const params = parseDeploy(args.positional, config);
    if (configuredApp(config, params.app).protected) {
      throw new UsageError(`${params.app} is protected: its deploys need an approver. Run \`/autostack deploy protected ${params.app} ${params.tag}${args.positional.length > 2 ? ' <reason>' : ''}\` instead.`);
    }
    return params;
  },
  operation: deployOperation,
};

export const deployProtectedVerb: Verb<DeployParams> = {
  path: ['deploy', 'protected'],
  section: 'deploy',
  runbookStep: RUNBOOK_STEP,
  summary: 'The same deploy, approved by another approver first (required for apps configured as protected)',
  usage: '<app> <image-tag> [reason]',
  example: 'backend 1.4.2 fixes the login redirect',
  minRole: 'operator',
  guard: 'approval',
  positional: { min: 2, max: 60 },
  parse: (args, { config }) => parseDeploy(args.positional, config),
  operation: deployOperation,
};

const RESULT_ICON: Record<DeployRecord['result'], string> = { succeeded: ':white_check_mark:', rolled_back: ':rewind:', failed: ':x:' };

export const deployHistoryVerb: Verb<{ app?: string; limit: number }> = {
  path: ['deploy', 'history'],
  section: 'deploy',
  runbookStep: 'Rollback Procedure, step 1: identify the last good deployment (git log --oneline)',
  summary: 'Deploys made through the bot: when, who, from → to, result (rolled back or not), duration',
  usage: '[app] [n]',
  minRole: 'viewer',
  guard: 'none',
  positional: { min: 0, max: 2 },
  parse(args, { config }) {
    let app: string | undefined;
    let limit = 10;
    for (const word of args.positional) {
      if (/^\d+$/.test(word)) {
        limit = Number(word);
        if (limit < 1 || limit > 50) throw new UsageError(`n must be from 1 to 50, got ${word}`);
      } else {
        configuredApp(config, word);
        app = word;
      }
    }
    return { app, limit };
  },
  async execute({ app, limit }, ctx) {
    const recent = await deployRecords(ctx.clients.redis, ctx.config.redis.prefix).recent(limit, app);
    if (recent.length === 0) return reply(app ? `No deploys of ${app} recorded yet.` : 'No deploys recorded yet.');
    const now = ctx.clients.clock.now();
    // A list, not a table: people as mentions, short image tags, readable on a phone.
    const lines = recent.map(
      (r) => md`${RESULT_ICON[r.result]} ${clockTime(new Date(r.startedAt), now)} *${r.app}* ${imageTag(r.from.image)} → ${imageTag(r.to.image)}: ${r.result.replace('_', ' ')} in ${Math.round(r.durationMs / 1000)}s, by ${mention(r.by)}`,
    );
    const parts: Part[] = [{ kind: 'heading', text: app ? `Deploys of ${app}` : 'Deploys' }, { kind: 'text', text: joinText(lines, '\n') }];
    const firing = (await alertGroups(ctx.clients.redis, ctx.config.redis.prefix).open()).flatMap((group) =>
      group.alerts.filter((a) => a.status === 'firing').map((a) => ({ name: group.alertname, labels: a.labels })),
    );
    const verdict = lastGoodDeploy(recent, firing, now, durationMs(ctx.config.deploy.goodAfter));
    for (const { record, why } of verdict.notGood) parts.push({ kind: 'context', text: `Not good (yet): ${record.app} ${imageTag(record.to.image)}: ${why}.` });
    const good = verdict.good;
    parts.push({
      kind: 'context',
      text: good
        ? `Last good deploy: ${good.app} ${imageTag(good.to.image)}, finished ${clockTime(new Date(good.finishedAt), now)}. Roll back with \`/autostack rollback ${good.app} --to-revision ${good.to.revision ?? 'N'}\`.`
        : `No deploy listed here has proven good (live ${ctx.config.deploy.goodAfter} with no firing alert for its app).`,
    });
    return reply(`${recent.length} deploys`, parts);
  },
};

export const metricsRoute: HttpRoute = {
  method: 'GET',
  path: METRICS_PATH,
  async handle(_req, res, deps) {
    const { contentType, text } = await runbookMetrics(deps.config, deps.clients);
    res.writeHead(200, { 'content-type': contentType });
    res.end(text);
  },
};

/** Home tab: deploys running now (with their threads) and the latest results. */
async function home(ctx: CommandContext): Promise<Part[]> {
  const now = ctx.clients.clock.now();
  const running: Text[] = [];
  for (const app of Object.keys(ctx.config.deploy.apps)) {
    const holder = await deployLock(ctx.clients.redis, ctx.config, app).holder();
    if (!holder) continue;
    const info = holder.info;
    const link = await threadLink(ctx.jobs, info);
    running.push(md`• :gear: ${app} → ${info?.image ?? '?'}${info ? md` by ${mention(info.requestedBy)}, ${age(info.since, now)}` : ''}${link ? md` ${linkTo(link, 'thread')}` : ''}`);
  }
  const recent = await deployRecords(ctx.clients.redis, ctx.config.redis.prefix).recent(5);
  const lines = await Promise.all(
    recent.map(async (r) => {
      const link = await threadLink(ctx.jobs, r);
      return md`• ${RESULT_ICON[r.result]} ${r.app} ${r.to.tag} — ${r.result.replace('_', ' ')}, ${age(r.finishedAt, now)} ago${link ? md` ${linkTo(link, 'thread')}` : ''}`;
    }),
  );
  if (!running.length && !lines.length) return [];
  const text = joinText([`*Deployments*`, ...running, ...lines], '\n');
  return [{ kind: 'text', text }];
}

export const deployModule: CommandModule = {
  area: 'deploy',
  verbs: [deployVerb, deployProtectedVerb, deployHistoryVerb],
  routes: [metricsRoute],
  home,
};
