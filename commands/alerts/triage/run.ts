/**
 * Running a triage plan: one job per alert group (or per `/autostack triage`), its steps one after
 * the other through the verbs themselves (parse, then execute, as if typed by a viewer), each
 * bounded in time, each reply posted in the thread as the command renders it; then the summary.
 * A refresh of the same group edits the step replies and the summary in place.
 */
import ms from 'ms';
import type { CommandContext, JobRun, RuntimeDeps, Verb } from '../../../src/core/types.ts';
import { UserFacingError, UsageError } from '../../../src/core/types.ts';
import type { Part, Reply } from '../../../src/core/result.ts';
import { parseArgs, tokenize } from '../../../src/core/args.ts';
import type { Registry } from '../../../src/core/registry.ts';
import { resolveVerb, verbName } from '../../../src/core/registry.ts';
import { withRateLimit } from '../../../src/core/thread.ts';
import type { StepResult } from './evidence.ts';
import { expandSteps, planForScenario } from './plans.ts';
import type { TriagePlan } from './plans.ts';
import { triageSummary } from './summary.ts';
import { triageStore } from './store.ts';
import type { TriageRecord } from './store.ts';

export const TRIAGE_JOB = 'triage';
/** Who runs an alert's triage: the alert, with the viewer role (read-only commands only). */
export const ALERT_ACTOR = 'alertmanager';

const SLACK_WAIT_MS = 10_000;

export interface TriageJobData {
  scenario: string;
  app: string;
  /** Set for an alert: its group and status thread; without it the job's own thread is used. */
  alert?: { group: string; channel: string; threadTs: string; firedAt: string };
}

export class StepTimeout extends Error {}

function withTimeout<T>(work: Promise<T>, limitMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new StepTimeout(`no answer within ${ms(limitMs, { long: true })}; the other steps still ran (${what})`)), limitMs);
  });
  // A step past its limit is abandoned: its late answer or error is dropped.
  work.catch(() => undefined);
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

/** One step: the verb named by the command line, run exactly as typed, read-only verbs only. */
export async function runStep(command: string, index: number, registry: Registry, ctx: CommandContext, limitMs: number): Promise<StepResult> {
  const at = ctx.clients.clock.now().toISOString();
  let verb: Verb<unknown> | undefined;
  try {
    const words = tokenize(command);
    const resolved = resolveVerb(registry, words);
    if (!resolved) throw new UsageError(`no command \`${command}\``);
    verb = resolved.verb;
    if (verb.guard !== 'none' || !verb.execute) throw new UsageError(`\`${verbName(verb)}\` changes things (guard ${verb.guard}); a triage step runs only commands without a guard`);
    const params = verb.parse(parseArgs(resolved.rest, verb), { config: ctx.config, actor: ctx.actor });
    const reply = await withTimeout(verb.execute(params, ctx), limitMs, command);
    return { index, command, verb: verbName(verb), outcome: 'ok', reply, at };
  } catch (error) {
    const message = error instanceof UserFacingError ? error.message : (error as Error).message;
    return { index, command, verb: verb && verbName(verb), outcome: error instanceof StepTimeout ? 'timeout' : 'failed', error: message, at };
  }
}

/** A step's message in the thread: which step, then the command's own reply; its charts go with the summary. */
function stepMessage(step: StepResult, total: number): Pick<Reply, 'summary' | 'parts'> {
  const label: Part = { kind: 'context', text: `Triage step ${step.index}/${total}: \`/autostack ${step.command}\`` };
  if (step.outcome === 'ok' && step.reply) return { summary: step.reply.summary, parts: [label, ...step.reply.parts.filter((p) => p.kind !== 'chart')] };
  const what = step.outcome === 'timeout' ? 'Timed out' : 'Failed';
  return { summary: `${what}: ${step.command}`, parts: [label, { kind: 'text', text: `:warning: ${what}: ${step.error ?? 'no answer'}` }] };
}

async function place(deps: RuntimeDeps, channel: string, threadTs: string, message: Pick<Reply, 'summary' | 'parts'>, existingTs?: string): Promise<string> {
  if (existingTs) {
    try {
      await withRateLimit(() => deps.clients.notify.update(channel, existingTs, message), SLACK_WAIT_MS);
      return existingTs;
    } catch (error) {
      const code = (error as { data?: { error?: string } }).data?.error;
      if (code !== 'message_not_found' && code !== 'cant_update_message') throw error;
    }
  }
  const ts = await withRateLimit(() => deps.clients.notify.post(channel, message, { threadTs }), SLACK_WAIT_MS);
  if (!ts) throw new Error('Slack answered chat.postMessage without a message ts');
  return ts;
}

/** The job: every step of the plan, then the summary (posted in the alert thread, or returned for the job's thread). */
export async function runTriage(run: JobRun<TriageJobData>, registry: Registry): Promise<Reply> {
  const { scenario, app, alert } = run.data;
  const plan: TriagePlan | undefined = planForScenario(run.config, scenario);
  if (!plan) throw new UserFacingError(`There is no triage plan ${scenario} any more (alerts.triage.plans changed).`);
  const store = triageStore(run.clients.redis, run.config.redis.prefix);
  const channel = alert?.channel ?? run.channel;
  const threadTs = alert?.threadTs ?? (await run.thread());
  const previous = alert ? await store.get(alert.group) : undefined;
  // A refresh scheduled before the group resolved: the resolved summary stays as it is.
  if (previous?.resolvedAt) return { summary: `Triage ${scenario}: the alert resolved before this refresh; nothing ran`, parts: [{ kind: 'text', text: 'The alert resolved before this refresh; nothing ran.' }], visibility: 'channel' };
  const refreshed = Boolean(previous);
  const ctx: CommandContext = { ...run, actor: { id: run.requestedBy, role: 'viewer' }, channel };
  const limitMs = ms(run.config.alerts.triage.stepTimeout as ms.StringValue);
  const commands = expandSteps(plan, app, run.config);
  const steps: StepResult[] = [];
  const stepTs: string[] = [];
  for (const [i, command] of commands.entries()) {
    if (run.signal.aborted) break;
    const step = await runStep(command, i + 1, registry, ctx, limitMs);
    steps.push(step);
    await run.audit.record({ actor: run.requestedBy, action: `triage step ${step.verb ?? command.split(' ')[0]}`, args: { scenario, command }, result: step.outcome, channel, detail: step.error });
    if (threadTs) {
      const ts = await place(run, channel, threadTs, stepMessage(step, commands.length), refreshed ? previous?.stepTs[i] : undefined);
      stepTs.push(ts);
      if (step.reply?.attachment && !(refreshed && previous?.stepTs[i])) await run.clients.notify.upload(channel, step.reply.attachment, threadTs);
    }
  }
  const now = run.clients.clock.now();
  const summary = triageSummary(plan, steps, now, refreshed);
  if (!alert || !threadTs) return summary;
  // A resolve that arrived while the steps ran wins: the summary stays marked resolved.
  const latest = await store.get(alert.group);
  if (latest?.resolvedAt && latest.startedAt === previous?.startedAt) return summary;
  const summaryTs = await place(run, channel, threadTs, summary, refreshed ? previous?.summaryTs : undefined);
  const record: TriageRecord = {
    group: alert.group,
    scenario: plan.scenario,
    channel,
    threadTs,
    stepTs,
    summaryTs,
    summary: { summary: summary.summary, parts: summary.parts },
    startedAt: refreshed ? previous!.startedAt : alert.firedAt,
    ranAt: now.toISOString(),
  };
  await store.save(record);
  return summary;
}
