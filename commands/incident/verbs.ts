/**
 * Incident Response, scenarios 1, 3 and 4: `logs`, `history`, `status`, `rollback`, `restart`,
 * `oauth check`, `db check`, `db restart`, `db migrate`.
 */
import type { Args, Verb } from '../../src/core/types.ts';
import { UsageError } from '../../src/core/types.ts';
import { rolloutHistory } from '../shared/kube-rollouts.ts';
import { appChoices, appName, podName, resolveApp } from '../shared/apps.ts';
import { checkDatabase, dbCheckReply } from './db.ts';
import { expectedHead, pendingText } from './pending.ts';
import { historyReply } from './history.ts';
import { appStatus } from './status.ts';
import { incidentOverview } from './overview.ts';
import type { StatusSection } from '../shared/status.ts';
import { DEFAULT_TAIL, MAX_TAIL, collectLogs, logsReply } from '../shared/logs.ts';
import type { LogsOptions } from '../shared/logs.ts';
import { PROVIDERS, checkProvider, oauthReply, oauthStateErrors } from '../shared/oauth-check.ts';
import type { Provider } from '../shared/oauth-check.ts';
import type { RollbackParams } from './rollback.ts';
import { parseRollback } from './rollback.ts';
import { appRestartOperation, dbMigrateOperation, dbRestartOperation, rollbackOperation } from './operations.ts';
import type { RestartParams } from './restart.ts';
import type { DbMigrateParams, DbRestartParams } from './operations.ts';
import { durationFlag } from '../../src/core/durations.ts';

const MAX_SINCE_MS = 7 * 86_400_000;
const MAX_GREP = 200;

function flag(args: Args, name: string): string | undefined {
  const value = args.flags[name];
  return typeof value === 'string' ? value : undefined;
}

function sinceSeconds(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return Math.ceil(durationFlag(text, 'since', 1000, MAX_SINCE_MS) / 1000);
}

function tail(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TAIL;
  if (!/^\d{1,6}$/.test(text) || Number(text) < 1 || Number(text) > MAX_TAIL) throw new UsageError(`--tail must be a number of lines from 1 to ${MAX_TAIL} (got "${text.slice(0, 40)}")`);
  return Number(text);
}

// ---------------------------------------------------------------------------------------------
// Scenario 1: deployment failed

export interface LogsParams extends LogsOptions {
  app: string;
}

export const logsVerb: Verb<LogsParams> = {
  path: ['logs'],
  section: 'incident',
  runbookStep: 'Scenario 1, step 1: kubectl logs -n autostack deployment/app-name',
  summary: "Logs of all pods of an app (each line prefixed with its pod), redacted; --previous for a crashed container's logs",
  usage: '<app> [--since 15m] [--tail 200] [--grep text] [--previous] [--pod NAME] [--container NAME]',
  example: 'backend --since 30m --grep 429',
  minRole: 'viewer',
  guard: 'none',
  positional: { min: 1, max: 1 },
  picker: { label: 'App', choices: appChoices },
  flags: { since: 'string', tail: 'string', grep: 'string', previous: 'boolean', pod: 'string', container: 'string' },
  parse(args) {
    const grep = flag(args, 'grep');
    if (grep !== undefined && (grep.trim() === '' || grep.length > MAX_GREP)) throw new UsageError(`--grep takes plain text of 1 to ${MAX_GREP} characters`);
    const pod = flag(args, 'pod');
    const container = flag(args, 'container');
    return {
      app: appName(args.positional[0]),
      pod: pod === undefined ? undefined : podName(pod),
      container: container === undefined ? undefined : appName(container, 'container'),
      sinceSeconds: sinceSeconds(flag(args, 'since')),
      tail: tail(flag(args, 'tail')),
      grep,
      previous: args.flags.previous === true,
    };
  },
  async execute(params, ctx) {
    const { app, ...options } = params;
    const target = resolveApp(ctx.config, app);
    const result = await collectLogs(ctx.clients.kube(), ctx.config.kubernetes.namespace, target, options);
    return logsReply(result, options, app, ctx.clients.clock.now());
  },
};

export const historyVerb: Verb<{ app: string }> = {
  path: ['history'],
  section: 'incident',
  runbookStep: 'Scenario 1, step 2: check recent changes (git log --oneline -10; kubectl rollout history)',
  summary: 'Rollout history of an app: revision, images, change-cause, when, ready replicas, which is live',
  usage: '<app>',
  example: 'backend',
  minRole: 'viewer',
  guard: 'none',
  positional: { min: 1, max: 1 },
  picker: { label: 'App', choices: appChoices },
  parse: (args) => ({ app: appName(args.positional[0]) }),
  async execute({ app }, ctx) {
    const target = resolveApp(ctx.config, app);
    const history = await rolloutHistory(ctx.clients.kube(), ctx.config.kubernetes.namespace, target.workload);
    return historyReply(app, history, ctx.clients.clock.now());
  },
};

/** `status`; without an app, the overview shows `overview` (what other areas contribute) first. */
export const statusVerb = (overview: StatusSection[]): Verb<{ app?: string }> => ({
  path: ['status'],
  section: 'incident',
  runbookStep: 'Troubleshooting: "Deployment stuck: check Kubernetes pod status, rollback if needed"',
  summary: "Without an app: firing alerts, held Terraform locks, last deploy per app and its health, active IP blocks. With one: its rollout, pods (phase, ready, restarts, why the last container ended: CrashLoopBackOff, OOMKilled) and recent warning events, with Logs / History / Restart / Roll back buttons",
  usage: '[app]',
  minRole: 'viewer',
  guard: 'none',
  positional: { min: 0, max: 1 },
  parse: (args) => ({ app: args.positional[0] === undefined ? undefined : appName(args.positional[0]) }),
  async execute({ app }, ctx) {
    if (app === undefined) return incidentOverview(ctx, overview);
    return appStatus(ctx.clients.kube(), ctx.config.kubernetes.namespace, resolveApp(ctx.config, app), ctx.clients.clock.now());
  },
});

export const rollbackVerb: Verb<RollbackParams> = {
  path: ['rollback'],
  section: 'incident',
  runbookStep: 'Scenario 1, step 3: curl -X POST /api/deployments/{id}/rollback -H "Authorization: Bearer $TOKEN" -d \'{"reason": ...}\'',
  summary: 'Roll back: a deployment ID (number or UUID) through the platform API, an app name to its previous Kubernetes revision; follows the rollout and checks /health',
  usage: '<app|deployment-id> [reason] [--to-revision N] [--app NAME]',
  example: 'backend 500s after 1.4.2',
  minRole: 'operator',
  guard: 'confirm',
  positional: { min: 1, max: 100 },
  picker: { label: 'App', choices: appChoices },
  flags: { 'to-revision': 'string', app: 'string' },
  parse: (args, { config }) => parseRollback(args.positional, { toRevision: flag(args, 'to-revision'), app: flag(args, 'app') }, config),
  operation: rollbackOperation,
};

export const restartVerb: Verb<RestartParams> = {
  path: ['restart'],
  section: 'incident',
  runbookStep: 'Credential Rotation, "Restart backend": docker-compose restart backend (as a rollout restart of its Deployment)',
  summary: "Rollout restart of an app's Deployment (confirm), followed until the new pods are all ready",
  usage: '<app>',
  example: 'backend',
  minRole: 'operator',
  guard: 'confirm',
  positional: { min: 1, max: 1 },
  picker: { label: 'App', choices: appChoices },
  parse: (args) => ({ app: appName(args.positional[0]) }),
  operation: appRestartOperation,
};

// ---------------------------------------------------------------------------------------------
// Scenario 3: OAuth callback failed

export const oauthCheckVerb: Verb<{ providers: Provider[] }> = {
  path: ['oauth', 'check'],
  section: 'incident',
  runbookStep: 'Scenario 3, steps 1–4: curl /auth/github, verify callback URLs, grep "oauth_state" in the backend logs',
  summary: 'Checks the OAuth redirect: provider endpoint, client_id, redirect_uri, state; and oauth_state errors in the backend logs',
  usage: '[github|google]',
  minRole: 'viewer',
  guard: 'none',
  positional: { min: 0, max: 1 },
  parse(args) {
    const word = args.positional[0]?.toLowerCase();
    if (word === undefined) return { providers: [...PROVIDERS] };
    if (!(PROVIDERS as readonly string[]).includes(word)) throw new UsageError(`unknown provider "${word.slice(0, 40)}": use github or google`);
    return { providers: [word as Provider] };
  },
  async execute({ providers }, ctx) {
    const reports = [];
    for (const provider of providers) reports.push(await checkProvider(ctx.clients.http, ctx.config, provider));
    const logs = await oauthStateErrors(() => ctx.clients.kube(), ctx.config, ctx.clients.clock.now());
    return oauthReply(reports, logs);
  },
};

// ---------------------------------------------------------------------------------------------
// Scenario 4: database connection lost

export const dbCheckVerb: Verb<Record<string, never>> = {
  path: ['db', 'check'],
  section: 'incident',
  runbookStep: 'Scenario 4, steps 1–2: docker ps | grep postgres; echo $DATABASE_URL',
  summary: 'Connects to the database: latency, version, connections against the 90% alert, longest queries; classifies failures',
  usage: '',
  minRole: 'viewer',
  guard: 'none',
  parse: () => ({}),
  async execute(_params, ctx) {
    const [result, expected] = await Promise.all([checkDatabase(ctx.config.database.url), expectedHead(ctx.clients.http, ctx.config)]);
    const out = dbCheckReply(result);
    if (!result.ok) return out;
    const pending = pendingText(result.migration, expected);
    out.parts.splice(2, 0, { kind: 'text', text: `${pending.pending ? '✗' : pending.pending === false ? '✓' : '–'} Migrations: ${pending.text}${pending.pending ? ' — `/autostack db migrate`' : ''}` });
    out.summary += `; migrations ${pending.text}`;
    return out;
  },
};

export const dbRestartVerb: Verb<DbRestartParams> = {
  path: ['db', 'restart'],
  section: 'incident',
  runbookStep: 'Scenario 4, step 3: docker-compose restart db',
  summary: 'Rollout restart of the database workload (approval), followed until ready, then db check',
  usage: '',
  minRole: 'operator',
  guard: 'approval',
  parse: (_args, { config }) => ({ workload: config.database.workload.name }),
  approverMustType: (params) => ({ label: 'Name of the database workload', expected: params.workload }),
  operation: dbRestartOperation,
};

export const dbMigrateVerb: Verb<DbMigrateParams> = {
  path: ['db', 'migrate'],
  section: 'incident',
  runbookStep: 'Scenario 4, step 4: docker-compose exec backend alembic upgrade head',
  summary: "Runs the migrations as a Kubernetes Job from the backend's current image; streams its log, reports the exit code",
  usage: '',
  minRole: 'operator',
  guard: 'confirm',
  parse: () => ({}),
  operation: dbMigrateOperation,
};

export const incidentVerbs = (overview: StatusSection[]) => [logsVerb, historyVerb, statusVerb(overview), rollbackVerb, restartVerb, oauthCheckVerb, dbCheckVerb, dbRestartVerb, dbMigrateVerb];
