/**
 * The guarded incident operations: rollback (Scenario 1, step 3), an app's restart, database
 * restart and migration (Scenario 4, steps 3 and 4). The runtime inspects and plans when asked, at the click and right
 * before `run`, which works from that last inspection.
 */
import type { JobRun, Operation } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import type { Part, Reply } from '../../src/core/result.ts';
import { reply } from '../../src/core/result.ts';
import type { RolloutOutcome } from '../shared/kube-rollouts.ts';
import type { Workload } from '../shared/kube.ts';
import { REVISION_ANNOTATION, containerImages, readDeployment } from '../shared/kube.ts';
import { deploymentRolloutState, rolloutRestart, undoDeployment, waitForRollout } from '../shared/kube-rollouts.ts';
import { withRolloutChart } from '../shared/rollout-chart.ts';
import type { RolloutTrace } from '../shared/rollout-chart.ts';
import { runJob } from '../shared/kube-jobs.ts';
import { imageTag } from '../shared/evidence.ts';
import { redact } from '../shared/redact.ts';
import { checkDatabase, dbCheckParts, dbCheckSummary } from './db.ts';
import { MigrationSteps, ensureNoRunningMigration, migrationJobLeft, migrationJob, migrationPlan, migrationSource } from '../shared/migrate.ts';
import type { MigrationSource } from '../shared/migrate.ts';
import { appRestartPlan, dbRestartPlan, inspectAppRestart, inspectDbRestart } from './restart.ts';
import type { AppRestartInspection, DbRestartInspection, RestartParams } from './restart.ts';
import { checkHealth, healthUrl, inspectRollback, platformRollback, rollbackPlan } from './rollback.ts';
import type { RollbackInspection, RollbackParams } from './rollback.ts';
import { durationMs } from '../../src/core/durations.ts';

/** Poll intervals while following rollouts and Jobs (tests make them short). */
export const rollbackTiming = { pollMs: 2000, healthAttempts: 3, healthDelayMs: 2000 };
export const dbRestartTiming = { pollMs: 2000 };
export const appRestartTiming = { pollMs: 2000 };
export const dbMigrateTiming = { pollMs: 1000 };

/** Lines posted into the thread one by one; the full log is attached as a file anyway. */
export const MAX_STREAMED_LINES = 200;
/** Lines kept for the attached file (the newest when there are more). */
export const MAX_KEPT_LINES = 20_000;

export interface DbRestartParams {
  /** The database workload's name, as the approver typed it. */
  workload: string;
}

export type DbMigrateParams = Record<string, never>;

function title(data: RollbackParams): string {
  return data.target.kind === 'platform'
    ? `Rollback of platform deployment ${data.target.id}`
    : `Rollback of ${data.target.app}${data.target.toRevision ? ` to revision ${data.target.toRevision}` : ' to the previous revision'}`;
}

async function follow(run: JobRun<RollbackParams>, trace: RolloutTrace, deployment: string, minGeneration?: number): Promise<RolloutOutcome> {
  const timeoutMs = durationMs(run.config.rollout.timeout);
  await run.step(`Following the rollout of Deployment ${deployment} (timeout ${run.config.rollout.timeout})…`);
  return waitForRollout(run.clients.kube(), run.config.kubernetes.namespace, { kind: 'Deployment', name: deployment }, {
    timeoutMs,
    pollMs: rollbackTiming.pollMs,
    signal: run.signal,
    minGeneration,
    onProgress: (state) => run.step(`rollout: ${state.message}`),
    onPoll: trace.sample,
  });
}

/** What the rollback saw before it changed anything: the generation a new rollout must pass, and the images then live. */
interface Before {
  generation: number;
  images: string[];
}

/**
 * "Rolled back" rests on what was observed: a rollout that started after the request (the
 * Deployment's generation passed the one read before) completed, and the live images are the
 * target revision's (for the platform API, whose target is not known here: not the ones live
 * before). A platform answer without such a rollout ends "Accepted, not finished".
 */
export const rollbackOperation: Operation<RollbackParams, RollbackInspection> = {
  title,
  cancellable: true,
  onFailureNextStep: 'Investigate the root cause (runbook Scenario 1, step 4): `/autostack logs <app> --previous`, resource limits, external dependencies.',
  inspect: (params, ctx) => inspectRollback(params, ctx.config, () => ctx.clients.kube(), ctx.clients.http),
  plan: (params, seen, config) => rollbackPlan(params, config, seen),
  started(params, ref) {
    const what = params.target.kind === 'platform' ? `platform deployment ${params.target.id}` : params.target.app;
    return reply(ref.existing ? `A rollback of ${what} is already running.` : `Rollback of ${what} started; the rollout is followed in its thread.`);
  },
  run: (data, _seen, run) => withRolloutChart(run, `Deployment ${data.follow.deployment}`, (trace) => rollBack(data, run, trace)),
};

async function rollBack(data: RollbackParams, run: JobRun<RollbackParams>, trace: RolloutTrace): Promise<Reply> {
  const namespace = run.config.kubernetes.namespace;
  const fields: Array<readonly [string, string]> = [];
  const followed = data.follow.deployment;
  const live = await readDeployment(run.clients.kube(), namespace, followed);
  const before: Before = { generation: live.metadata?.generation ?? 0, images: containerImages(live.spec?.template) };
  /** Images the rollback must leave live; undefined when only "not the ones live before" is known (platform API). */
  let expected: string[] | undefined;
  let changed: string;
  let accepted: { status: number; detail: string } | undefined;
  if (data.target.kind === 'platform') {
    await run.step(`POST /api/deployments/${data.target.id}/rollback (reason: ${data.reason})`);
    const answer = await platformRollback(run.clients.http, run.config, data.target.id, data.reason, run.signal);
    accepted = answer;
    changed = `the platform accepted the rollback of deployment ${data.target.id} (${answer.status})`;
    trace.mark('platform accepted');
    await run.step(`Platform API answered ${answer.status}: ${answer.detail}`);
    fields.push(['Platform deployment', data.target.id], ['Platform answer', `${answer.status} ${answer.detail}`]);
    await run.audit.record({ actor: run.requestedBy, action: 'rollback platform deployment', args: { id: data.target.id, reason: data.reason }, result: `accepted ${answer.status}`, channel: run.channel });
  } else {
    const { deployment, toRevision } = data.target;
    await run.step(`Rolling Deployment ${deployment} back to ${toRevision ? `revision ${toRevision}` : 'the previous revision'}…`);
    const result = await undoDeployment(run.clients.kube(), namespace, deployment, {
      toRevision,
      changeCause: `rollback to revision ${toRevision ?? 'previous'} by ${run.requestedBy}: ${data.reason}`,
    });
    expected = result.toImages;
    if (result.alreadyCurrent) {
      changed = `Deployment ${deployment} already ran revision ${result.toRevision}; nothing was changed`;
      await run.step(`${changed}.`);
    } else {
      changed = `Deployment ${deployment} was patched from revision ${result.fromRevision ?? '?'} to the template of revision ${result.toRevision}`;
      before.generation = (result.generation ?? before.generation + 1) - 1;
      trace.mark(`revision ${result.toRevision} set`);
      await run.step(`Patched: revision ${result.fromRevision ?? '?'} → ${result.toRevision} (${result.fromImages.map(imageTag).join(', ')} → ${result.toImages.map(imageTag).join(', ')})`);
      await run.audit.record({
        actor: run.requestedBy,
        action: 'rollback deployment',
        args: { deployment, from: result.fromRevision, to: result.toRevision, reason: data.reason },
        result: 'patched',
        channel: run.channel,
      });
    }
    fields.push(['Deployment', deployment], ['Revision', `${result.fromRevision ?? '?'} → ${result.toRevision}`], ['Images', result.toImages.map(imageTag).join(', ')]);
  }
  const unchanged = expected !== undefined && before.images.join() === expected.join();

  let rollout: RolloutOutcome;
  try {
    // A rollout that started after the request: the Deployment's generation must pass the one read before.
    rollout = await follow(run, trace, followed, unchanged ? undefined : before.generation + 1);
    trace.mark(rollout.done ? 'rolled out' : 'rollout stuck');
  } catch (error) {
    if (run.signal.aborted) throw new UserFacingError(`Cancelled while following the rollout: ${changed}. Nothing was reverted; the rollout continues in Kubernetes.`);
    throw error;
  }
  const after = await readDeployment(run.clients.kube(), namespace, followed);
  const nowLive = containerImages(after.spec?.template);
  const liveText = nowLive.map(imageTag).join(', ');
  if (accepted && data.target.kind === 'platform' && (after.metadata?.generation ?? 0) <= before.generation) {
    throw new UserFacingError(
      `Accepted, not finished: ${changed} (${accepted.detail}), but in ${run.config.rollout.timeout} no rollout of Deployment ${followed} started: it still runs ${liveText} (generation ${before.generation}). Nothing is rolled back yet.`,
      `Look at the platform's deployment ${data.target.id} and \`/autostack status ${data.follow.app}\`; to roll the Deployment back directly: \`/autostack rollback ${data.follow.app}\`.`,
    );
  }
  if (!rollout.done) {
    const why = rollout.timedOut ? `not complete after ${run.config.rollout.timeout}` : 'cannot progress';
    throw new UserFacingError(
      `${changed}, but the rollout of ${followed} is ${why}: ${rollout.message} (${rollout.updated}/${rollout.desired} updated, ${rollout.available} available). Nothing was reverted.`,
      `See why the pods do not become ready: \`/autostack status ${data.follow.app}\` and \`/autostack logs ${data.follow.app} --previous\`.`,
    );
  }
  const wrongImage = expected ? nowLive.join() !== expected.join() : nowLive.join() === before.images.join();
  if (wrongImage) {
    const want = expected ? `the target revision's ${expected.map(imageTag).join(', ')}` : `not the ${before.images.map(imageTag).join(', ')} live before the request`;
    throw new UserFacingError(
      `${changed} and a rollout completed, but Deployment ${followed} runs ${liveText}, ${want}. It is not rolled back.`,
      `See what changed it: \`/autostack history ${data.follow.app}\`.`,
    );
  }
  await run.step(`Rollout complete: ${rollout.message}`);
  fields.push(['Rollout', `${rollout.available}/${rollout.desired} replicas ready`]);

  const url = healthUrl(run.config);
  const health = await checkHealth(run.clients.http, url, { attempts: rollbackTiming.healthAttempts, delayMs: rollbackTiming.healthDelayMs, signal: run.signal });
  fields.push(['Health', `${health.ok ? '✓' : '✗'} ${health.status ?? ''} ${health.detail}`.replace(/\s+/g, ' ')]);
  if (!health.ok) {
    throw new UserFacingError(
      `${changed} and the rollout completed, but ${url} is not healthy: ${health.status ?? 'no answer'} ${health.detail}.`,
      'Check the backend logs (`/autostack logs backend`) and its dependencies (`/autostack db check`).',
    );
  }
  const was = before.images.join() === nowLive.join() ? '' : ` (was ${before.images.map(imageTag).join(', ')})`;
  const evidence = `live image ${liveText}${was}, ${rollout.available}/${rollout.desired} ready, /health ${health.status}`;
  const parts: Part[] = [{ kind: 'text', text: `✓ ${changed}; checked: ${evidence}.` }, { kind: 'fields', fields }];
  return { summary: `Rolled back: ${evidence}`, parts, visibility: 'channel' };
}

/**
 * `restart <app>`: "Restarted" rests on the rollout that the restart started (the Deployment's
 * generation passed the patched one's) having every replica updated and available.
 */
export const appRestartOperation: Operation<RestartParams, AppRestartInspection> = {
  title: (params) => `Restart of ${params.app}`,
  cancellable: true,
  onFailureNextStep: 'See why the new pods do not become ready: `/autostack status <app>` and `/autostack logs <app> --previous`; roll back with `/autostack rollback <app>` if the last release is the cause.',
  inspect: (params, ctx) => inspectAppRestart(ctx.clients.kube(), ctx.config, params.app),
  plan: (params, seen, config) => appRestartPlan(params, seen, config),
  started: (params, ref) => reply(ref.existing ? `A restart of ${params.app} is already running.` : `Restart of ${params.app} started; the rollout is followed in its thread.`),
  run: (params, seen, run) => withRolloutChart(run, `Deployment ${seen.deployment}`, (trace) => restartApp(params, seen, run, trace)),
};

async function restartApp(params: RestartParams, seen: AppRestartInspection, run: JobRun<RestartParams>, trace: RolloutTrace): Promise<Reply> {
  const namespace = run.config.kubernetes.namespace;
  const workload = { kind: 'Deployment' as const, name: seen.deployment };
  const kube = run.clients.kube();
  // The state before the restart is the chart's first point, so a rollout done by the first poll still shows its shape.
  trace.sample(deploymentRolloutState(await readDeployment(kube, namespace, seen.deployment)));
  const { at, rollout } = await restartAndFollow(run, workload, {
    pollMs: appRestartTiming.pollMs,
    audit: { action: 'restart', args: { app: params.app, deployment: seen.deployment } },
    trace,
  });
  trace.mark(rollout.done ? 'rolled out' : 'rollout stuck');
  if (!rollout.done) {
    throw new UserFacingError(
      `Deployment ${seen.deployment} was restarted (pod template annotated at ${at.toISOString()}), but its rollout is ${rollout.timedOut ? `not complete after ${run.config.rollout.timeout}` : 'not progressing'}: ${rollout.message} (${rollout.updated}/${rollout.desired} updated, ${rollout.ready}/${rollout.desired} ready, ${rollout.available} available). The old pods that still run keep serving; nothing else was changed.`,
      `See why: \`/autostack status ${params.app}\` and \`/autostack logs ${params.app} --previous\`.`,
    );
  }
  const after = await readDeployment(kube, namespace, seen.deployment);
  const revision = after.metadata?.annotations?.[REVISION_ANNOTATION] ?? '?';
  const images = containerImages(after.spec?.template).map(imageTag).join(', ');
  const evidence = `revision ${revision}: ${rollout.available}/${rollout.desired} replicas updated and available, image ${images}`;
  await run.step(`Rollout complete: ${rollout.message}`);
  return {
    summary: `Restarted ${params.app}: ${evidence}`,
    parts: [{ kind: 'text', text: `✓ Deployment ${seen.deployment} restarted; checked: new ${evidence}.` }],
    visibility: 'channel',
  };
}

/**
 * `kubectl rollout restart` of `workload`, audited, then followed until its rollout ends (done,
 * stuck or timed out); a cancellation says what was left. With a trace, the request and every
 * poll are charted.
 */
async function restartAndFollow(
  run: JobRun<unknown>,
  workload: Workload,
  options: { pollMs: number; audit: { action: string; args: Record<string, unknown> }; trace?: RolloutTrace },
): Promise<{ at: Date; rollout: RolloutOutcome }> {
  const namespace = run.config.kubernetes.namespace;
  const at = run.clients.clock.now();
  await run.step(`Restarting ${workload.kind} ${workload.name} (restartedAt ${at.toISOString()})…`);
  const { generation } = await rolloutRestart(run.clients.kube(), namespace, workload, at);
  options.trace?.mark('restart requested');
  await run.audit.record({ actor: run.requestedBy, action: options.audit.action, args: options.audit.args, result: 'restart requested', channel: run.channel });
  const rollout = await waitForRollout(run.clients.kube(), namespace, workload, {
    timeoutMs: durationMs(run.config.rollout.timeout),
    pollMs: options.pollMs,
    signal: run.signal,
    minGeneration: generation,
    onProgress: (state) => run.step(`rollout: ${state.message}`),
    onPoll: options.trace?.sample,
  }).catch((error: unknown) => {
    if (run.signal.aborted) {
      throw new UserFacingError(`Cancelled while following the restart: ${workload.kind} ${workload.name} was restarted at ${at.toISOString()} and Kubernetes keeps replacing its pods.`);
    }
    throw error;
  });
  return { at, rollout };
}

export const dbRestartOperation: Operation<DbRestartParams, DbRestartInspection> = {
  title: (params) => `Restart of the database (${params.workload})`,
  cancellable: true,
  onFailureNextStep: 'Check the database pods and logs (`/autostack logs db --previous`) and the connection string (runbook Scenario 4, steps 1–2).',
  inspect: (_params, ctx) => inspectDbRestart(ctx.clients.kube(), ctx.config),
  plan: (_params, seen, config) => dbRestartPlan(seen, config),
  started: (_params, ref) => reply(ref.existing ? 'The database restart is already running.' : 'Database restart started; progress is in its thread.'),
  async run(_params, _seen, run) {
    const workload = run.config.database.workload;
    const { at, rollout } = await restartAndFollow(run, workload, {
      pollMs: dbRestartTiming.pollMs,
      audit: { action: 'db restart', args: { workload: `${workload.kind}/${workload.name}` } },
    });
    if (!rollout.done) {
      throw new UserFacingError(
        `${workload.kind} ${workload.name} was restarted (pod template annotated at ${at.toISOString()}), but it is ${rollout.timedOut ? `not ready after ${run.config.rollout.timeout}` : 'not progressing'}: ${rollout.message} (${rollout.ready}/${rollout.desired} ready). The controller keeps replacing pods; nothing else was changed.`,
      );
    }
    await run.step(`Ready: ${rollout.message}. Checking the database…`);
    const check = await checkDatabase(run.config.database.url);
    const parts: Part[] = [{ kind: 'text', text: `✓ ${workload.kind} ${workload.name} restarted: ${rollout.ready}/${rollout.desired} ready.` }, ...dbCheckParts(check)];
    if (!check.ok) {
      throw new UserFacingError(`${workload.kind} ${workload.name} restarted and is ready, but the database check failed: ${dbCheckSummary(check)}`);
    }
    return { summary: `Database restarted and reachable. ${dbCheckSummary(check)}`, parts, visibility: 'channel' };
  },
};

export const dbMigrateOperation: Operation<DbMigrateParams, MigrationSource> = {
  title: () => 'Database migration',
  cancellable: false,
  onFailureNextStep: 'Read the migration log attached in this thread; fix the migration or the database, then run `/autostack db migrate` again (runbook Scenario 4, step 4).',
  inspect: (_params, ctx) => migrationSource(ctx.clients.kube(), ctx.config),
  plan: (_params, source, config) => migrationPlan(source, config),
  started: (_params, ref) => reply(ref.existing ? 'A migration is already running.' : 'Migration started; its log streams into the thread.'),
  async run(_params, source, run) {
    const kube = run.clients.kube();
    const namespace = run.config.kubernetes.namespace;
    await ensureNoRunningMigration(kube, namespace);
    const timeoutMs = durationMs(run.config.rollout.timeout);
    const spec = migrationJob(source, { activeDeadlineSeconds: Math.ceil(timeoutMs / 1000), requestedBy: run.requestedBy });
    const revision = async () => {
      const check = await checkDatabase(run.config.database.url);
      return check.ok ? (check.migration === undefined ? undefined : (check.migration ?? '(none)')) : undefined;
    };
    const from = await revision();
    const lines: string[] = [];
    let dropped = 0;
    let streamed = 0;
    const steps = new MigrationSteps();
    await run.step(`Starting \`${source.command.join(' ')}\` from ${source.image}…`);
    const outcome = await runJob(kube, namespace, spec, {
      // Wait a little beyond the Job's own deadline, so Kubernetes reports DeadlineExceeded itself.
      timeoutMs: timeoutMs + 60_000,
      pollMs: dbMigrateTiming.pollMs,
      signal: run.signal,
      onProgress: (message) => run.step(message),
      onLine: async (raw) => {
        const line = redact(raw);
        steps.add(line);
        lines.push(line);
        if (lines.length > MAX_KEPT_LINES) {
          lines.shift();
          dropped++;
        }
        if (streamed < MAX_STREAMED_LINES) {
          streamed++;
          await run.step(`\`${line}\``);
          if (streamed === MAX_STREAMED_LINES) await run.step('(more lines in the attached log)');
        }
      },
    });
    await run.audit.record({
      actor: run.requestedBy,
      action: 'db migrate',
      args: { image: source.image, command: source.command.join(' '), job: outcome.name },
      result: outcome.succeeded ? 'succeeded' : 'failed',
      channel: run.channel,
      detail: outcome.exitCode !== undefined ? `exit code ${outcome.exitCode}` : outcome.reason,
    });
    if (lines.length) {
      await run.attach({
        filename: `${outcome.name}.log`,
        title: `Migration log (${outcome.succeeded ? 'succeeded' : 'failed'}${outcome.exitCode !== undefined ? `, exit code ${outcome.exitCode}` : ''})`,
        content: `${dropped ? `[${dropped} earlier lines not kept]\n` : ''}${lines.join('\n')}\n`,
      });
    }
    const exit = outcome.exitCode !== undefined ? `exit code ${outcome.exitCode}` : 'no exit code';
    const revisions = steps.describe(outcome.succeeded);
    if (!outcome.succeeded) {
      const state = outcome.timedOut ? 'did not finish in time (it may still be running)' : 'failed';
      throw new UserFacingError(`The migration ${state} (${exit}${outcome.reason ? `; ${redact(outcome.reason)}` : ''}); ${revisions}. ${migrationJobLeft(outcome)}.`);
    }
    // The evidence: the revision the database reports, read before and after.
    const to = await revision();
    const moved =
      from === undefined || to === undefined
        ? `database revision not readable; its log shows ${revisions}`
        : from !== to
          ? `database ${from} → ${to}`
          : steps.upgraded
            ? // The two sources disagree: say so rather than pick one.
              `:warning: the database (database.url) still reports ${to} while its log shows ${revisions}; the Job may have migrated another database`
            : `database already at ${to}`;
    return {
      summary: `Migration succeeded: ${moved}`,
      parts: [
        { kind: 'text', text: `✓ \`${source.command.join(' ')}\` succeeded with ${exit}: ${moved}.` },
        { kind: 'fields', fields: [['Image', imageTag(source.image)], ['Job', `${outcome.name} (deleted)`], ['Log lines', String(lines.length + dropped)]] },
      ],
      visibility: 'channel',
    };
  },
};
