/**
 * Automatic triage (docs/triage.md): when an alert group fires, its plan's read-only steps run as
 * one job in the alert's thread and a summary lays the evidence beside the runbook's next decision.
 * Once per group and refresh interval however many deliveries or replicas see it; resolved, the
 * summary says for how long and what was done. `/autostack triage <scenario>` runs a plan by hand.
 */
import ms from 'ms';
import type { ActionHandler, Args, RuntimeDeps, Verb } from '../../../src/core/types.ts';
import { UsageError } from '../../../src/core/types.ts';
import { reply } from '../../../src/core/result.ts';
import { withRateLimit } from '../../../src/core/thread.ts';
import { appName } from '../../shared/apps.ts';
import type { AlertmanagerPayload } from '../webhook.ts';
import type { ReceiveOutcome } from '../receive.ts';
import { alertApp, alertName } from '../view.ts';
import { DECISIONS } from './evidence.ts';
import { planForAlert, planForScenario, triagePlans } from './plans.ts';
import { ALERT_ACTOR, TRIAGE_JOB } from './run.ts';
import type { TriageJobData } from './run.ts';
import { actionsTaken, resolvedSummary } from './summary.ts';
import { triageStore } from './store.ts';

export { TRIAGE_JOB, runTriage } from './run.ts';
export type { TriageJobData } from './run.ts';
export { DEFAULT_TRIAGE_PLANS } from './plans.ts';

/** The commands the decision buttons request; a click on one of them is "what was done". */
export const DECISION_VERBS = ['rollback', 'ratelimit block', 'db restart', 'tf unlock'] as const;

const AUDIT_WINDOW = 500;

export type TriageStart = 'started' | 'refresh scheduled' | 'refresh already scheduled' | 'resolved' | 'no plan' | 'off' | 'unchanged';

/** After a notification was placed in its thread: triage a firing group, or mark its summary resolved. */
export async function triageOnNotification(deps: RuntimeDeps, outcome: ReceiveOutcome, payload: AlertmanagerPayload): Promise<TriageStart> {
  const settings = deps.config.alerts.triage;
  if (!settings.enabled) return 'off';
  if (outcome.result === 'duplicate') return 'unchanged';
  const store = triageStore(deps.clients.redis, deps.config.redis.prefix);
  if (outcome.status === 'resolved') return (await markResolved(deps, outcome.group)) ? 'resolved' : 'unchanged';
  const alertname = alertName(payload);
  const firing = payload.alerts.find((a) => a.status === 'firing');
  const labels = { ...firing?.labels, ...payload.commonLabels };
  const plan = planForAlert(deps.config, alertname, labels);
  if (!plan) return 'no plan';
  const data: TriageJobData = {
    scenario: plan.scenario,
    app: alertApp(labels, deps.config),
    alert: { group: outcome.group, channel: outcome.channel, threadTs: outcome.ts, firedAt: deps.clients.clock.now().toISOString() },
  };
  const previous = await store.get(outcome.group);
  // A group firing again after it resolved starts a new triage (and a new summary).
  if (previous?.resolvedAt) await store.forget(outcome.group);
  const gate = await store.gate(outcome.group, ms(settings.refreshInterval as ms.StringValue));
  // No parent message: the job writes into the alert's thread itself.
  if (gate.now) {
    await deps.jobs.start(TRIAGE_JOB, data, { channel: '', requestedBy: ALERT_ACTOR, jobId: `triage-${outcome.group}-${Date.now()}` });
    return 'started';
  }
  // Within the interval: one refresh when it ends, whatever else arrives meanwhile.
  const slot = Math.ceil((Date.now() + gate.waitMs) / 1000);
  const ref = await deps.jobs.start(TRIAGE_JOB, data, { channel: '', requestedBy: ALERT_ACTOR, jobId: `triage-${outcome.group}-refresh-${slot}`, delayMs: gate.waitMs });
  return ref.existing ? 'refresh already scheduled' : 'refresh scheduled';
}

/** The group's summary, marked resolved with how long it fired and what the audit trail says was done. */
async function markResolved(deps: RuntimeDeps, group: string): Promise<boolean> {
  const store = triageStore(deps.clients.redis, deps.config.redis.prefix);
  const record = await store.get(group);
  if (!record || record.resolvedAt || !record.summary || !record.summaryTs) return false;
  const now = deps.clients.clock.now();
  const entries = deps.audit.latest ? await deps.audit.latest(AUDIT_WINDOW).catch(() => undefined) : undefined;
  const done = actionsTaken(entries ?? [], record.channel, record.startedAt, DECISION_VERBS);
  const message = resolvedSummary(record.summary, record.startedAt, now, done, entries !== undefined);
  await withRateLimit(() => deps.clients.notify.update(record.channel, record.summaryTs!, message), 10_000);
  await store.save({ ...record, resolvedAt: now.toISOString(), summary: { summary: message.summary, parts: message.parts } });
  return true;
}

const SCENARIO = /^[A-Za-z0-9_-]{1,20}$/;

export const triageVerb: Verb<{ scenario: string; app?: string }> = {
  path: ['triage'],
  section: 'incident',
  runbookStep: 'Incident Response, Scenarios 1–5: the diagnostic steps of a scenario, in order',
  summary: 'Runs a triage plan by hand (S1 deployment failed, S2 rate limiting, S3 OAuth, S4 database, S5 Terraform lock): its read-only steps in a thread, then a summary with the next decision',
  usage: '<S1|S2|S3|S4|S5> [app]',
  minRole: 'viewer',
  guard: 'none',
  positional: { min: 1, max: 2 },
  parse(args: Args, { config }) {
    const word = args.positional[0]!;
    const plan = SCENARIO.test(word) ? planForScenario(config, word) : undefined;
    if (!plan) throw new UsageError(`unknown scenario "${word.slice(0, 40)}": use one of ${triagePlans(config).map((p) => p.scenario).join(', ')}`);
    return { scenario: plan.scenario, ...(args.positional[1] !== undefined ? { app: appName(args.positional[1]) } : {}) };
  },
  async execute({ scenario, app }, ctx) {
    const data: TriageJobData = { scenario, app: app ?? ctx.config.rateLimit.app };
    const ref = await ctx.jobs.start(TRIAGE_JOB, data, { channel: ctx.channel, requestedBy: ctx.actor.id });
    return reply(`Triage ${scenario} started: its steps and summary are in its thread${ref.threadTs ? '' : ' (no thread: this channel has no job messages)'}.`);
  },
};

function requesting(action: string, toArgs: (value: string) => { path: readonly string[]; args: Args }): ActionHandler {
  return {
    action,
    // The requested command's own role applies (the runtime checks it and tells a viewer what is missing).
    minRole: 'viewer',
    async handle(value, ctx) {
      const { path, args } = toArgs(value);
      await ctx.request(path, args);
      return undefined;
    },
  };
}

function rollbackRequest(value: string): { path: readonly string[]; args: Args } {
  let parsed: { app?: unknown; revision?: unknown };
  try {
    parsed = JSON.parse(value) as typeof parsed;
  } catch {
    throw new UsageError('This button is no longer valid; run `/autostack rollback <app> --to-revision N` instead.');
  }
  if (typeof parsed.app !== 'string' || typeof parsed.revision !== 'number') throw new UsageError('This button is no longer valid; run `/autostack rollback <app> --to-revision N` instead.');
  return { path: ['rollback'], args: { positional: [appName(parsed.app), 'triage', 'decision'], flags: { 'to-revision': String(parsed.revision) } } };
}

export const triageActions: ActionHandler[] = [
  requesting(DECISIONS.rollback, rollbackRequest),
  requesting(DECISIONS.dbRestart, () => ({ path: ['db', 'restart'], args: { positional: [], flags: {} } })),
  requesting(DECISIONS.unlock, (state) => ({ path: ['tf', 'unlock'], args: { positional: [state], flags: {} } })),
];
