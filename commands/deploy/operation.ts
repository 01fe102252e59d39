/**
 * `deploy <app> <image-tag>`: runbook "Standard Deployment" steps 4–6 in Kubernetes.
 *
 * 1. record the image and revision running now;
 * 2. with deploy.apps.<app>.migrate, run the migration Job from the new image first (as
 *    `db migrate`); a failed migration stops here and the Deployment is not touched;
 * 3. set the image (JSON patch guarded by resourceVersion) with the change-cause annotation;
 * 4. follow the rollout until every replica is ready or rollout.timeout passes;
 * 5. GET the health URL and run the smoke checks.
 *
 * Any failure after the image was set rolls the Deployment back to the recorded revision, follows
 * that rollout, says so in the thread and notifies the incident channel (mentioning the on-call
 * group). Every deploy is recorded (deploy history, metrics). The app's deploy lock is taken once
 * confirmed or approved, before the job is queued (its token is the job's id); the job holds it
 * and releases it when it ends, whatever happens, or when its plan changed before it started.
 */
import type { CommandContext, JobRun, Operation } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import type { Part, Reply } from '../../src/core/result.ts';
import { reply } from '../../src/core/result.ts';
import { formatDuration } from '../../src/core/durations.ts';
import { pointToThread, threadLink } from '../shared/threads.ts';
import { rolloutHistory, undoDeployment, waitForRollout } from '../shared/kube-rollouts.ts';
import { withRolloutChart } from '../shared/rollout-chart.ts';
import type { RolloutTrace } from '../shared/rollout-chart.ts';
import { runJob } from '../shared/kube-jobs.ts';
import type { RolloutOutcome } from '../shared/kube-rollouts.ts';
import { redact } from '../shared/redact.ts';
import { migrationJobLeft } from '../shared/migrate.ts';
import type { AppConfig, DeployParams } from './apps.ts';
import { configuredApp, healthUrlFor } from './apps.ts';
import type { DeployLock, LockInfo } from './lock.ts';
import { deployLock } from './lock.ts';
import type { DeployTarget } from './plan.ts';
import { deployPlan, inspectTarget } from './plan.ts';
import type { DeployRecord, DeployResult } from '../shared/deploy-records.ts';
import { deployRecords } from '../shared/deploy-records.ts';
import type { HttpCheck } from './steps.ts';
import { checkHealthUrl, deployMigrationJob, describeCheck, setImage, smokeCheck } from './steps.ts';
import { channelRef, groupMention, joinText, link as linkTo, md, mention } from '../../src/core/text.ts';
import type { Text } from '../../src/core/text.ts';
import { durationMs } from '../../src/core/durations.ts';

/** Poll interval while following rollouts and the migration Job (tests make it short). */
export const deployTiming = { pollMs: 2000 };

const MAX_STREAMED_LINES = 50;
const MAX_KEPT_LINES = 5000;

type Phase = 'migration' | 'image' | 'rollout' | 'health' | 'smoke' | 'cancelled' | 'error';

/** A deploy step that failed, with what it means. */
class DeployFailure extends Error {
  constructor(
    readonly phase: Phase,
    message: string,
  ) {
    super(message);
  }
}

interface RollbackOutcome {
  completed: boolean;
  toRevision?: number;
  image: string;
  /** One sentence: what the rollback did and the state it left. */
  text: string;
}

function timeoutMs(run: JobRun<DeployParams>): number {
  return durationMs(run.config.rollout.timeout);
}

async function follow(run: JobRun<DeployParams>, deployment: string, minGeneration: number | undefined, signal: AbortSignal, trace: RolloutTrace): Promise<RolloutOutcome> {
  await run.step(`Following the rollout of Deployment ${deployment} (timeout ${run.config.rollout.timeout})…`);
  return waitForRollout(run.clients.kube(), run.config.kubernetes.namespace, { kind: 'Deployment', name: deployment }, {
    timeoutMs: timeoutMs(run),
    pollMs: deployTiming.pollMs,
    signal,
    minGeneration,
    onProgress: (state) => run.step(`rollout: ${state.message}`),
    onPoll: trace.sample,
  });
}

function rolloutProblem(rollout: RolloutOutcome, timeout: string): string {
  const why = rollout.timedOut ? `did not become ready within ${timeout}` : 'cannot progress';
  return `the rollout ${why}: ${rollout.message} (${rollout.updated}/${rollout.desired} updated, ${rollout.ready} ready, ${rollout.available} available)`;
}

/** Makes sure this job holds the app's lock (it may have expired while the job waited in the queue). */
async function holdLock(run: JobRun<DeployParams>, lock: DeployLock): Promise<void> {
  const info = { app: run.data.app, image: run.data.image, requestedBy: run.requestedBy, since: run.clients.clock.now().toISOString(), jobId: run.id, channel: run.channel, threadTs: await run.thread() };
  if ((await lock.extend(run.id)) || (await lock.acquire(run.id, info))) {
    await lock.describe(run.id, info);
    return;
  }
  const holder = await lock.holder();
  const link = holder?.info?.channel && holder.info.threadTs ? await run.jobs.permalink(holder.info.channel, holder.info.threadTs).catch(() => undefined) : undefined;
  throw new UserFacingError(
    md`${run.data.app} is being deployed by another job${holder?.info ? md` (${holder.info.image}, by ${mention(holder.info.requestedBy)})` : ''}${link ? md`: ${linkTo(link, 'its thread')}` : ''}; nothing was changed.`,
  );
}

async function runMigration(run: JobRun<DeployParams>, declared: AppConfig, target: DeployTarget, signal: AbortSignal): Promise<void> {
  const kube = run.clients.kube();
  const namespace = run.config.kubernetes.namespace;
  const limit = timeoutMs(run);
  const spec = deployMigrationJob(target.deployment, declared, run.data.image, run.config, { activeDeadlineSeconds: Math.ceil(limit / 1000), requestedBy: run.requestedBy });
  const lines: string[] = [];
  let streamed = 0;
  await run.step(`Running the migrations first: \`${run.config.database.migrateCommand.join(' ')}\` from ${run.data.image}…`);
  const outcome = await runJob(kube, namespace, spec, {
    timeoutMs: limit + 60_000,
    pollMs: deployTiming.pollMs,
    signal,
    onProgress: (message) => run.step(message),
    onLine: async (raw) => {
      const line = redact(raw);
      if (lines.length < MAX_KEPT_LINES) lines.push(line);
      if (streamed < MAX_STREAMED_LINES) {
        streamed++;
        await run.step(`\`${line}\``);
      }
    },
  });
  const exit = outcome.exitCode !== undefined ? `exit code ${outcome.exitCode}` : 'no exit code';
  if (lines.length) {
    await run.attach({ filename: `${outcome.name}.log`, title: `Migration log (${outcome.succeeded ? 'succeeded' : 'failed'}, ${exit})`, content: `${lines.join('\n')}\n` });
  }
  await run.audit.record({
    actor: run.requestedBy,
    action: 'deploy migrate',
    args: { app: run.data.app, image: run.data.image, job: outcome.name },
    result: outcome.succeeded ? 'succeeded' : 'failed',
    channel: run.channel,
    detail: exit,
  });
  if (!outcome.succeeded) {
    throw new DeployFailure(
      'migration',
      `the migration ${outcome.timedOut ? 'did not finish in time (it may still be running)' : 'failed'} (${exit}${outcome.reason ? `; ${redact(outcome.reason)}` : ''}). ${migrationJobLeft(outcome)}; the database may be partly migrated (see the attached log)`,
    );
  }
  await run.step(`Migrations succeeded (${exit}).`);
}

/** Rolls back to the recorded revision (or image), follows that rollout and checks health again. */
async function autoRollback(run: JobRun<DeployParams>, declared: AppConfig, target: DeployTarget, why: string, trace: RolloutTrace): Promise<RollbackOutcome> {
  const kube = run.clients.kube();
  const namespace = run.config.kubernetes.namespace;
  // Its own deadline: the job's signal may be the reason we are here (cancelled).
  const signal = AbortSignal.timeout(timeoutMs(run) + 120_000);
  const where = target.fromRevision !== undefined ? `revision ${target.fromRevision} (${target.fromImage})` : target.fromImage;
  const changeCause = `automatic rollback: deploy of ${run.data.image} failed (${why.slice(0, 120)})`;
  await run.step(`:rewind: Rolling back automatically to ${where}…`);
  trace.mark('rollback started');
  try {
    let generation: number | undefined;
    if (target.fromRevision !== undefined) {
      const undo = await undoDeployment(kube, namespace, target.deploymentName, { toRevision: target.fromRevision, changeCause });
      generation = undo.generation;
    } else {
      const set = await setImage(kube, namespace, declared, { expectedImage: run.data.image, image: target.fromImage, changeCause });
      generation = set.generation;
    }
    await run.audit.record({ actor: run.requestedBy, action: 'deploy automatic rollback', args: { app: run.data.app, to: where }, result: 'patched', channel: run.channel, detail: why.slice(0, 300) });
    const rollout = await follow(run, target.deploymentName, generation, signal, trace);
    trace.mark(rollout.done ? 'rollback rolled out' : 'rollback stuck');
    if (!rollout.done) {
      return { completed: false, toRevision: target.fromRevision, image: target.fromImage, text: `Rolled back to ${where}, but ${rolloutProblem(rollout, run.config.rollout.timeout)}` };
    }
    const url = healthUrlFor(run.config, run.data.app);
    const health = url ? await checkHealthUrl(run.clients.http, url, signal) : undefined;
    const healthText = health ? (health.ok ? ` and ${url} answers ${health.status}` : `, but ${url} is still not healthy (${health.status ?? 'no answer'}: ${health.detail})`) : '';
    return { completed: true, toRevision: target.fromRevision, image: target.fromImage, text: `Rolled back automatically to ${where}: the rollout completed${healthText}` };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      completed: false,
      toRevision: target.fromRevision,
      image: target.fromImage,
      text: `The automatic rollback to ${where} FAILED: ${message}. Deployment ${target.deploymentName} may still run ${run.data.image}: roll back by hand with \`/autostack rollback ${run.data.app}${target.fromRevision !== undefined ? ` --to-revision ${target.fromRevision}` : ''}\``,
    };
  }
}

/** Posts the failure into the incident channel, mentioning the on-call group, with a link to the thread. */
async function notifyTeam(run: JobRun<DeployParams>, text: Text): Promise<void> {
  const channel = run.config.channels.incident;
  if (!channel) {
    await run.step('No incident channel is configured (channels.incident): the team was not notified.');
    return;
  }
  const group = run.config.alerts.oncallUsergroup;
  const threadTs = await run.thread();
  const link = threadTs ? await run.jobs.permalink(run.channel, threadTs).catch(() => undefined) : undefined;
  const message = joinText([group ? md`${groupMention(group)} ` : '', ':rotating_light: ', text, link ? md` (${linkTo(link, 'deploy thread')})` : '']);
  try {
    await run.clients.notify.post(channel, message);
    await run.step(md`The team was notified in ${channelRef(channel)}.`);
  } catch (error) {
    run.log.warn({ err: (error as Error).message }, 'deploy failure notification failed');
    await run.step(md`Notifying ${channelRef(channel)} failed: ${(error as Error).message}`);
  }
}

async function deploy(run: JobRun<DeployParams>, target: DeployTarget, trace: RolloutTrace): Promise<Reply> {
  const data = run.data;
  const kube = run.clients.kube();
  const namespace = run.config.kubernetes.namespace;
  const declared = configuredApp(run.config, data.app);
  const lock = deployLock(run.clients.redis, run.config, data.app);
  const startedAt = run.clients.clock.now();
  const t0 = Date.now();

  await run.step(`Running now: ${target.fromImage} (revision ${target.fromRevision ?? 'unknown'}) in container ${target.container} of Deployment ${target.deploymentName}.`);

  const record: DeployRecord = {
    jobId: run.id,
    app: data.app,
    deployment: target.deploymentName,
    by: run.requestedBy,
    reason: data.reason,
    from: { image: target.fromImage, revision: target.fromRevision },
    to: { image: data.image, tag: data.tag },
    result: 'failed',
    migration: declared.migrate ? undefined : 'skipped',
    smoke: { passed: 0, failed: 0 },
    startedAt: startedAt.toISOString(),
    finishedAt: startedAt.toISOString(),
    durationMs: 0,
    channel: run.channel,
    threadTs: await run.thread(),
  };
  const finish = async (result: DeployResult) => {
    record.result = result;
    record.finishedAt = run.clients.clock.now().toISOString();
    record.durationMs = Date.now() - t0;
    try {
      await deployRecords(run.clients.redis, run.config.redis.prefix).add(record);
    } catch (error) {
      run.log.error({ err: (error as Error).message }, 'deploy record not saved');
    }
  };

  const url = healthUrlFor(run.config, data.app);
  const checks: HttpCheck[] = [];
  let patched = false;
  try {
    if (declared.migrate) {
      await lock.extend(run.id);
      try {
        await runMigration(run, declared, target, run.signal);
        record.migration = 'succeeded';
      } catch (error) {
        record.migration = 'failed';
        throw error;
      }
    }

    await lock.extend(run.id);
    const changeCause = `deploy ${data.tag} by ${run.requestedBy}: ${data.reason}`.slice(0, 500);
    let generation: number | undefined;
    try {
      const set = await setImage(kube, namespace, declared, { expectedImage: target.fromImage, image: data.image, changeCause });
      patched = set.changed;
      generation = set.generation;
    } catch (error) {
      // A patch whose answer was lost may still have been applied: look before deciding.
      patched = await runsImage(run, declared, data.image);
      if (!patched) throw new DeployFailure('image', (error as Error).message);
    }
    if (patched) trace.mark('image set');
    await run.step(patched ? `Image set: ${target.fromImage} → ${data.image} (change-cause "${changeCause}").` : `Deployment ${target.deploymentName} already runs ${data.image}; nothing to roll out.`);
    await run.audit.record({ actor: run.requestedBy, action: 'deploy', args: { app: data.app, from: target.fromImage, to: data.image, reason: data.reason }, result: patched ? 'image set' : 'unchanged', channel: run.channel });

    await lock.extend(run.id);
    const rollout = await follow(run, target.deploymentName, generation, run.signal, trace);
    trace.mark(rollout.done ? 'rolled out' : 'rollout stuck');
    if (!rollout.done) throw new DeployFailure('rollout', rolloutProblem(rollout, run.config.rollout.timeout));
    await run.step(`Rollout complete: ${rollout.message}`);

    await lock.extend(run.id);
    if (url) {
      const health = await checkHealthUrl(run.clients.http, url, run.signal);
      checks.push(health);
      record.health = health.ok ? 'ok' : 'failed';
      await run.step(`Health: ${describeCheck(health)}`);
      if (!health.ok) throw new DeployFailure('health', `the rollout completed but ${url} is not healthy (${health.status ?? 'no answer'}: ${health.detail})`);
    } else {
      record.health = 'not configured';
    }
    for (const smoke of declared.smoke) {
      const check = await smokeCheck(run.clients.http, smoke, run.signal);
      checks.push(check);
      if (check.ok) record.smoke.passed++;
      else record.smoke.failed++;
      await run.step(`Smoke: ${describeCheck(check)}`);
    }
    if (record.smoke.failed) {
      const failed = checks.filter((c) => !c.ok).map((c) => `GET ${c.url} → ${c.status ?? 'no answer'} (expected ${c.expected})`);
      throw new DeployFailure('smoke', `${record.smoke.failed} of ${declared.smoke.length} smoke checks failed: ${failed.join('; ')}`);
    }

    const history = await rolloutHistory(kube, namespace, target.deploymentName).catch(() => undefined);
    record.to.revision = history?.live?.revision;
    await finish('succeeded');
    const fields: Array<readonly [string, string]> = [
      ['App', `${data.app} (deployment/${target.deploymentName})`],
      ['Image', `${target.fromImage} → ${data.image}`],
      ['Revision', `${target.fromRevision ?? '?'} → ${record.to.revision ?? '?'}`],
      ['Rollout', `${rollout.available}/${rollout.desired} replicas ready`],
      ['Health', url ? describeCheck(checks[0]!) : 'no health URL configured'],
      ['Smoke checks', declared.smoke.length ? `${record.smoke.passed}/${declared.smoke.length} passed` : 'none configured'],
      ['Duration', `${Math.round(record.durationMs / 100) / 10}s`],
    ];
    if (declared.migrate) fields.splice(2, 0, ['Migrations', 'succeeded']);
    const parts: Part[] = [{ kind: 'text', text: `:white_check_mark: ${data.app} now runs ${data.image}; the rollout completed and the checks passed.` }, { kind: 'fields', fields }];
    return { summary: `Deployed ${data.app} ${data.tag}`, parts, visibility: 'channel' };
  } catch (error) {
    const cancelled = run.signal.aborted;
    const phase: Phase = cancelled ? 'cancelled' : error instanceof DeployFailure ? error.phase : 'error';
    const why = cancelled ? 'the deploy was cancelled' : error instanceof Error ? error.message : String(error);
    record.health ??= 'not reached';
    let state: string;
    let result: DeployResult = 'failed';
    if (patched) {
      const rollback = await autoRollback(run, declared, target, why, trace);
      record.rollback = { toRevision: rollback.toRevision, image: rollback.image, completed: rollback.completed };
      state = `${rollback.text}.`;
      if (rollback.completed) result = 'rolled_back';
    } else {
      state = `Deployment ${target.deploymentName} was not changed: it still runs ${target.fromImage}.`;
    }
    record.detail = `${why}. ${state}`.slice(0, 1000);
    await finish(result);
    const message = md`Deploy of ${data.app} ${data.tag} (${data.image}) by ${mention(run.requestedBy)} failed: ${why}. ${state}`;
    await run.step(md`:x: ${message}`);
    await notifyTeam(run, message);
    throw new UserFacingError(message, nextStep(phase, data.app));
  }
}

async function runsImage(run: JobRun<DeployParams>, declared: AppConfig, image: string): Promise<boolean> {
  try {
    const deployment = await run.clients.kube().apps.readNamespacedDeployment({ name: declared.deployment, namespace: run.config.kubernetes.namespace });
    return (deployment.spec?.template?.spec?.containers ?? []).some((c) => (declared.container ? c.name === declared.container : true) && c.image === image);
  } catch {
    return false;
  }
}

function nextStep(phase: Phase, app: string): string {
  switch (phase) {
    case 'migration':
      return `Read the migration log attached in this thread; fix the migration or the database (\`/autostack db check\`), then deploy again.`;
    case 'rollout':
      return `See why the new pods did not become ready: \`/autostack logs ${app} --previous\` and \`/autostack history ${app}\` (runbook: Deployment Failed).`;
    case 'health':
    case 'smoke':
      return `Check the app's logs (\`/autostack logs ${app}\`) and its dependencies (\`/autostack db check\`) before deploying again.`;
    default:
      return `Check \`/autostack history ${app}\` for the state of the Deployment.`;
  }
}

export function age(fromIso: string, now: Date): string {
  return formatDuration(now.getTime() - Date.parse(fromIso));
}

/** "already being deployed" with a link to the running job's thread. */
async function refusal(ctx: CommandContext, app: string, holder: { info?: LockInfo; ttlMs: number } | undefined): Promise<UserFacingError> {
  const info = holder?.info;
  const link = await threadLink(ctx.jobs, info);
  const what = info ? md`${info.image} by ${mention(info.requestedBy)}, started ${age(info.since, ctx.clients.clock.now())} ago` : 'by another job';
  const expires = holder && holder.ttlMs > 0 ? ` The lock frees itself in ${formatDuration(holder.ttlMs)} if that job is gone.` : '';
  return new UserFacingError(
    md`${app} is already being deployed (${what})${link ? md`: ${linkTo(link, 'its thread')}` : info?.jobId ? ` (job ${info.jobId})` : ''}. Nothing was started.`,
    `Wait for it to finish, or cancel it from its thread.${expires}`,
  );
}

function lockInfo(params: DeployParams, ctx: CommandContext): LockInfo {
  return { app: params.app, image: params.image, requestedBy: ctx.actor.id, since: ctx.clients.clock.now().toISOString() };
}

export const deployOperation: Operation<DeployParams, DeployTarget> = {
  title: (params) => `Deploy ${params.app} ${params.tag}`,
  cancellable: true,
  onFailureNextStep: 'Investigate the root cause (runbook: Deployment Failed): `/autostack logs <app> --previous`, `/autostack history <app>`.',
  inspect: (params, ctx) => inspectTarget(ctx.clients.kube(), ctx.config, params.app),
  plan: (params, target, config) => deployPlan(params, target, config),
  /** Takes the app's deploy lock (its token is the job's id), which the job then holds. */
  async beforeStart(params, ctx, jobId) {
    const lock = deployLock(ctx.clients.redis, ctx.config, params.app);
    if (!(await lock.acquire(jobId, lockInfo(params, ctx)))) throw await refusal(ctx, params.app, await lock.holder());
  },
  async notStarted(params, ctx, jobId) {
    await deployLock(ctx.clients.redis, ctx.config, params.app).release(jobId);
  },
  async started(params, ref, ctx) {
    if (ref.existing) return reply(`This deploy of ${params.app} was already started.`);
    await deployLock(ctx.clients.redis, ctx.config, params.app).describe(ref.id, { ...lockInfo(params, ctx), jobId: ref.id, channel: ref.channel, threadTs: ref.threadTs });
    return reply(await pointToThread(ctx.jobs, ref, `Deploying ${params.app} ${params.tag}; the rollout, checks and any automatic rollback are reported in its thread`));
  },
  async onInterrupted(params, deps, jobId) {
    await deployLock(deps.clients.redis, deps.config, params.app).release(jobId);
    return `The deploy lock on ${params.app} is released. The Deployment may be mid-change: check \`/autostack history ${params.app}\` before deploying or rolling back.`;
  },
  async run(params, target, run) {
    const lock = deployLock(run.clients.redis, run.config, params.app);
    // Outside the try: a lock that is not ours is never released.
    await holdLock(run, lock);
    try {
      return await withRolloutChart(run, `Deployment ${target.deploymentName}`, (trace) => deploy(run, target, trace));
    } finally {
      await lock.release(run.id).catch((error: Error) => run.log.error({ err: error.message }, 'deploy lock not released (it expires by itself)'));
    }
  },
};
