/**
 * The deploy verb and job against the test control plane (the bot under its Role), the fake
 * backend (health and smoke URLs), the test Redis (lock, records) and the Slack emulator (the incident notification).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import type { Args } from '../../src/core/types.ts';
import { deployHistoryVerb, deployProtectedVerb, deployVerb, runbookMetrics } from '../../commands/deploy/index.ts';
import type { DeployParams } from '../../commands/deploy/apps.ts';
import { deployLock } from '../../commands/deploy/lock.ts';
import { deployRecords } from '../../commands/shared/deploy-records.ts';
import { checkTiming } from '../../commands/deploy/steps.ts';
import { CHANGE_CAUSE_ANNOTATION } from '../../commands/shared/kube.ts';
import { deployJob } from '../../jobs/deploy.ts';
import { deployOperation, deployTiming } from '../../commands/deploy/operation.ts';
import type { SlackEmulator } from '../../dev/slack-emulator/index.ts';
import { FakeBackend } from '../harness/fake-backend.ts';
import { CRASHLOOP_IMAGE_SUFFIX, deploymentImage, deploymentReplicaSets, failingCommand, liveReplicaSet, setNamespaceLogs, updateDeployment, deploymentPods, watchJobs } from '../harness/kube-env.ts';
import { waitUntil } from '../harness/services.ts';
import { planOf, runJob } from '../harness/context.ts';
import { uniqueName } from '../harness/env.ts';
import type { JobResult, RunJobOptions, TestContext } from '../harness/context.ts';
import { INCIDENT_CHANNEL, ONCALL, WORKSPACE, deployWorld, seedWeb, startSlack } from './helpers.ts';
import type { DeployWorld } from './helpers.ts';
import { toMrkdwn } from '../../src/core/text.ts';

let backend: FakeBackend;
let slack: SlackEmulator;

beforeAll(async () => {
  backend = await FakeBackend.start();
  slack = await startSlack();
  deployTiming.pollMs = 10;
  checkTiming.healthAttempts = 2;
  checkTiming.healthDelayMs = 10;
});
afterAll(async () => {
  await slack.close();
  await backend.close();
});

function parse(ctx: TestContext, positional: string[], verb = deployVerb): DeployParams {
  const args: Args = { positional, flags: {} };
  return verb.parse(args, { config: ctx.config, actor: ctx.actor });
}

function image(w: DeployWorld): Promise<string | undefined> {
  return deploymentImage(w.kns, 'web');
}

async function changeCause(w: DeployWorld): Promise<string | undefined> {
  return (await w.kns.kube.apps.readNamespacedDeployment({ name: 'web', namespace: w.ns })).metadata?.annotations?.[CHANGE_CAUSE_ANNOTATION];
}

/** The migration Jobs left in the namespace once the bot's deletes went through. */
async function migrationJobsLeft(w: DeployWorld): Promise<string[]> {
  let left: string[] = [];
  await waitUntil('the migration Job to be deleted', 30_000, async () => {
    left = (await w.kns.kube.batch.listNamespacedJob({ namespace: w.ns })).items.filter((job) => !job.metadata?.deletionTimestamp).map((job) => job.metadata!.name!);
    return left.length === 0;
  }).catch(() => undefined);
  return left;
}

interface Started extends DeployParams {
  /** The job's id, which is its lock token. */
  jobId: string;
}

/** What the runtime does once a deploy is confirmed: takes the lock, queues the job (recorded), answers. */
async function start(w: DeployWorld, params: DeployParams): Promise<Started> {
  const before = w.ctx.started.length;
  const jobId = uniqueName('approval');
  await deployOperation.beforeStart!(params, w.ctx, jobId);
  const ref = await w.ctx.jobs.start(deployJob.name, params, { channel: w.ctx.channel, requestedBy: w.ctx.actor.id, jobId });
  await deployOperation.started!(params, { ...ref, id: jobId }, w.ctx);
  const started = w.ctx.started[before];
  expect(started?.name).toBe('deploy');
  return { ...(started!.data as DeployParams), jobId };
}

/** Runs the deploy job the way the job system does, as the job `started` queued. */
function runDeploy(w: DeployWorld, started: Started, options: RunJobOptions = {}): Promise<JobResult> {
  const { jobId, ...params } = started;
  return runJob(deployJob, params, w.ctx, { ...options, id: jobId });
}

function incidentTexts(): string[] {
  return slack.channelMessages(INCIDENT_CHANNEL).map((m) => m.text);
}

async function lockHeld(w: DeployWorld): Promise<boolean> {
  return (await deployLock(w.ctx.clients.redis, w.ctx.config, 'web').holder()) !== undefined;
}

describe('deploy: input', () => {
  it('builds the image reference from the configured repository and refuses bad input with a specific message', async () => {
    const w = await deployWorld(backend, slack);
    expect(parse(w.ctx, ['web', 'v1.4.2', 'fix', 'login'])).toEqual({ app: 'web', tag: 'v1.4.2', image: `${w.repo}:v1.4.2`, reason: 'fix login' });
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(parse(w.ctx, ['web', digest]).image).toBe(`${w.repo}@${digest}`);
    expect(parse(w.ctx, ['web', 'v2']).reason).toBe('deploy v2');
    expect(() => parse(w.ctx, ['api', 'v2'])).toThrow(/"api" is not a deployable app; configured apps: web/);
    expect(() => parse(w.ctx, ['web', '-rf'])).toThrow(/not an image tag/);
    expect(() => parse(w.ctx, ['web', 'v2;reboot'])).toThrow(UsageError);
    expect(() => parse(w.ctx, ['web', 'v2', 'x'.repeat(400)])).toThrow(/reason is 400 characters/);
  });

  it('sends protected apps to `deploy protected`, which needs an approval', async () => {
    const w = await deployWorld(backend, slack, { protected: true });
    expect(() => parse(w.ctx, ['web', 'v2'])).toThrow(/web is protected: its deploys need an approver. Run `\/autostack deploy protected web v2` instead/);
    expect(deployProtectedVerb.guard).toBe('approval');
    expect(deployVerb.guard).toBe('confirm');
    expect(parse(w.ctx, ['web', 'v2'], deployProtectedVerb).image).toBe(`${w.repo}:v2`);
  });
});

describe('deploy: the job', () => {
  it('deploys: records the current image, sets the new one with a change-cause, follows the rollout, checks /health and the smoke checks', async () => {
    const w = await deployWorld(backend, slack, { smoke: [{ url: `${backend.url}/auth/github`, status: 307 }, { url: `${backend.url}/health`, status: 200 }] });
    await seedWeb(w);
    backend.setHealth('ok');
    const params = parse(w.ctx, ['web', '1.1', 'release', '1.1']);
    const plan = await planOf(deployVerb, params, w.ctx);
    expect(plan.title).toBe(`Deploy web: ${w.image('1.0')} → ${w.image('1.1')}`);
    expect(plan.steps.join('\n')).toContain(`set container web of Deployment web to ${w.image('1.1')}, guarded by its resourceVersion`);
    expect(plan.steps.join('\n')).toContain('roll back automatically to revision 2');
    expect(plan.steps.join('\n')).toContain(`smoke check: GET ${backend.url}/auth/github must answer 307`);

    const data = await start(w, params);
    expect(await lockHeld(w)).toBe(true);
    const healthBefore = backend.requestsMatching('GET', '/health').length;
    const result = await runDeploy(w, data);

    expect(await image(w)).toBe(w.image('1.1'));
    expect(await changeCause(w)).toBe('deploy 1.1 by U0OPERATOR: release 1.1');
    const live = await liveReplicaSet(w.kns, 'web');
    expect(live?.spec?.template?.spec?.containers[0]?.image).toBe(w.image('1.1'));
    expect(live?.status?.readyReplicas).toBe(2);
    expect(backend.requestsMatching('GET', '/health').length).toBeGreaterThan(healthBefore);
    expect(result.reply.summary).toBe('Deployed web 1.1');
    const text = JSON.stringify(result.reply.parts);
    expect(text).toContain(`${w.image('1.0')} → ${w.image('1.1')}`);
    expect(text).toContain('2 → 3');
    expect(text).toContain('2/2 passed');
    expect(result.steps.join('\n')).toMatch(/Running now: .*web:1.0 \(revision 2\)/);
    expect(await lockHeld(w)).toBe(false);
    // The rollout as a chart for the thread: ready replicas from poll to poll, with the deploy's steps.
    expect(result.charts.map((c) => c.title)).toEqual(['Ready replicas of Deployment web']);
    expect(result.charts[0]!.markers!.map((m) => m.label)).toEqual(['image set', 'rolled out']);
    expect(result.charts[0]!.series.map((s) => s.points.at(-1)!.value)).toEqual([2, 2]);

    const [record] = await deployRecords(w.ctx.clients.redis, w.ctx.config.redis.prefix).recent(5);
    expect(record).toMatchObject({
      app: 'web',
      by: 'U0OPERATOR',
      reason: 'release 1.1',
      result: 'succeeded',
      from: { image: w.image('1.0'), revision: 2 },
      to: { image: w.image('1.1'), tag: '1.1', revision: 3 },
      health: 'ok',
      smoke: { passed: 2, failed: 0 },
    });
    expect(record!.durationMs).toBeGreaterThanOrEqual(0);
    expect(w.ctx.audited.some((a) => a.action === 'deploy' && a.result === 'image set')).toBe(true);
  });

  it('rolls back automatically when the rollout never becomes ready, says so and notifies the incident channel with the on-call group', async () => {
    const w = await deployWorld(backend, slack, {}, { rollout: { timeout: '2s' } });
    await seedWeb(w);
    backend.setHealth('ok');
    // Its pods crash-loop (see CRASHLOOP_IMAGE_SUFFIX).
    const data = await start(w, parse(w.ctx, ['web', `2.0${CRASHLOOP_IMAGE_SUFFIX}`]));
    const before = incidentTexts().length;

    const failure = await runDeploy(w, data).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(UserFacingError);
    const message = (failure as UserFacingError).message;
    expect(message).toMatch(/^Deploy of web 2.0-crashloop .* failed: the rollout did not become ready within 2s/);
    expect(message).toContain(`Rolled back automatically to revision 2 (${w.image('1.0')}): the rollout completed and ${backend.url}/health answers 200`);
    expect(await image(w)).toBe(w.image('1.0'));
    expect((await liveReplicaSet(w.kns, 'web'))?.spec?.template?.spec?.containers[0]?.image).toBe(w.image('1.0'));
    expect(await changeCause(w)).toMatch(/^automatic rollback: deploy of .*2.0-crashloop failed/);

    const notified = incidentTexts().slice(before);
    expect(notified).toHaveLength(1);
    expect(notified[0]).toContain(`<!subteam^${ONCALL}>`);
    expect(notified[0]).toContain('Rolled back automatically to revision 2');
    expect(await lockHeld(w)).toBe(false);
    const [record] = await deployRecords(w.ctx.clients.redis, w.ctx.config.redis.prefix).recent(1);
    expect(record).toMatchObject({ result: 'rolled_back', rollback: { toRevision: 2, image: w.image('1.0'), completed: true }, health: 'not reached' });
  });

  it('rolls back automatically when /health fails after a complete rollout', async () => {
    const w = await deployWorld(backend, slack);
    await seedWeb(w, 1);
    backend.setHealth('ok');
    const data = await start(w, parse(w.ctx, ['web', '3.0']));
    // Every health attempt of the deploy answers 503; the check after the rollback gets 200.
    backend.failNext({ method: 'GET', path: '/health', status: 503, body: { status: 'unhealthy', database: 'disconnected' }, times: checkTiming.healthAttempts });

    const failure = (await runDeploy(w, data).then(
      () => undefined,
      (error: unknown) => error,
    )) as UserFacingError;
    expect(failure).toBeInstanceOf(UserFacingError);
    expect(failure.message).toContain(`the rollout completed but ${backend.url}/health is not healthy (503:`);
    expect(failure.message).toContain(`Rolled back automatically to revision 2 (${w.image('1.0')}): the rollout completed and ${backend.url}/health answers 200`);
    expect(await image(w)).toBe(w.image('1.0'));
    expect((await deploymentReplicaSets(w.kns, 'web')).some((rs) => rs.spec?.template?.spec?.containers[0]?.image === w.image('3.0'))).toBe(true);
    const [record] = await deployRecords(w.ctx.clients.redis, w.ctx.config.redis.prefix).recent(1);
    expect(record).toMatchObject({ result: 'rolled_back', health: 'failed' });
    expect(await lockHeld(w)).toBe(false);
  });

  it('rolls back when a smoke check answers another status than configured', async () => {
    const w = await deployWorld(backend, slack, { smoke: [{ url: `${backend.url}/auth/github`, status: 200 }] });
    await seedWeb(w, 1);
    backend.setHealth('ok');
    const data = await start(w, parse(w.ctx, ['web', '3.1']));
    const failure = (await runDeploy(w, data).catch((error: unknown) => error)) as UserFacingError;
    expect(failure.message).toContain(`1 of 1 smoke checks failed: GET ${backend.url}/auth/github → 307 (expected 200)`);
    expect(await image(w)).toBe(w.image('1.0'));
    const [record] = await deployRecords(w.ctx.clients.redis, w.ctx.config.redis.prefix).recent(1);
    expect(record).toMatchObject({ result: 'rolled_back', smoke: { passed: 0, failed: 1 } });
  });

  it('runs the migration Job from the new image before the image is set; a failed migration leaves the Deployment untouched', async () => {
    const w = await deployWorld(backend, slack, { migrate: true }, { database: { migrateCommand: failingCommand(3) } });
    await seedWeb(w, 1);
    backend.setHealth('ok');
    // The Job's pod logs these lines; kwok keeps its follow stream open after the Job failed, as a kubelet may.
    await setNamespaceLogs(w.kns, (await deploymentPods(w.kns, 'web'))[0]!.metadata!.name!, ['INFO  [alembic] Running upgrade a1 -> b2', 'ERROR column "email" contains null values']);
    const jobs = await watchJobs(w.kns);
    try {
      const data = await start(w, parse(w.ctx, ['web', '4.0']));
      const result = await runDeploy(w, data).catch((error: unknown) => error);
      expect(result).toBeInstanceOf(UserFacingError);
      const message = (result as UserFacingError).message;
      expect(message).toContain('the migration failed (exit code 3');
      expect(message).toContain(`Deployment web was not changed: it still runs ${w.image('1.0')}`);
      expect(jobs.jobs.map((job) => job.spec?.template.spec?.containers[0]?.image)).toEqual([w.image('4.0')]);
      expect(await image(w)).toBe(w.image('1.0'));
      expect(await deploymentReplicaSets(w.kns, 'web')).toHaveLength(2);
      // The failed migration Job is cleaned up; its log went into the thread.
      expect(message).toMatch(/Job \S+ was deleted \(its log is attached\)/);
      expect(await migrationJobsLeft(w)).toEqual([]);
      const [record] = await deployRecords(w.ctx.clients.redis, w.ctx.config.redis.prefix).recent(1);
      expect(record).toMatchObject({ result: 'failed', migration: 'failed' });
      expect(record!.rollback).toBeUndefined();
    } finally {
      jobs.stop();
    }
  });

  it('runs the migrations, then deploys, when the migration succeeds', async () => {
    const w = await deployWorld(backend, slack, { migrate: true });
    await seedWeb(w, 1);
    backend.setHealth('ok');
    // kwok keeps the pod's follow stream open after the Job completed, as a kubelet may.
    await setNamespaceLogs(w.kns, (await deploymentPods(w.kns, 'web'))[0]!.metadata!.name!, ['INFO  [alembic] Running upgrade b2 -> c3']);
    const data = await start(w, parse(w.ctx, ['web', '4.1']));
    const result = await runDeploy(w, data);
    expect(await image(w)).toBe(w.image('4.1'));
    expect(await migrationJobsLeft(w)).toEqual([]);
    expect(result.steps.join('\n')).toContain('Migrations succeeded (exit code 0)');
    expect(JSON.stringify(result.reply.parts)).toContain('Migrations');
  });
});

describe('deploy: one at a time per app', () => {
  it('refuses a second deploy of the same app with a link to the running thread, and accepts it once the first ended', async () => {
    const w = await deployWorld(backend, slack);
    await seedWeb(w, 1);
    backend.setHealth('ok');
    const first = await start(w, parse(w.ctx, ['web', '5.0']));
    const second = await start(w, parse(w.ctx, ['web', '5.1'])).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(UserFacingError);
    // As Slack receives it: the requester mentioned, the thread linked.
    expect(toMrkdwn((second as UserFacingError).text)).toMatch(
      new RegExp(`^web is already being deployed \\(${w.image('5.0').replace(/[.]/g, '\\.')} by <@U0OPERATOR>, started \\d+s ago\\): <${WORKSPACE}/archives/C0OPS/p1700000000000001\\|its thread>\\. Nothing was started\\.$`),
    );
    expect(w.ctx.started).toHaveLength(1);

    await runDeploy(w, first);
    const third = await start(w, parse(w.ctx, ['web', '5.1']));
    expect(third.image).toBe(w.image('5.1'));
  });

  it('never releases a lock taken by someone else, and a job whose lock expired takes it again only when it is free', async () => {
    const w = await deployWorld(backend, slack);
    await seedWeb(w, 1);
    const data = await start(w, parse(w.ctx, ['web', '6.0']));
    const lock = deployLock(w.ctx.clients.redis, w.ctx.config, 'web');
    // The lock expired and another deploy took it.
    await w.ctx.clients.redis.del(lock.keys.lock, lock.keys.info);
    expect(await lock.acquire('someone-else', { app: 'web', image: w.image('6.1'), requestedBy: 'U0OTHER', since: new Date().toISOString() })).toBe(true);
    const failure = await runDeploy(w, data).catch((error: unknown) => error);
    expect(toMrkdwn((failure as UserFacingError).text)).toMatch(/web is being deployed by another job .*6\.1, by <@U0OTHER>.*nothing was changed/);
    expect(await image(w)).toBe(w.image('1.0'));
    expect((await lock.holder())?.token).toBe('someone-else');
  });

  it('releases the lock when an approved plan changed before the job ran (the job does not run)', async () => {
    const w = await deployWorld(backend, slack);
    await seedWeb(w, 1);
    const started = await start(w, parse(w.ctx, ['web', '7.0']));
    expect(await lockHeld(w)).toBe(true);
    // Someone deploys by hand between the confirmation and the start: the plan differs.
    const failure = await runDeploy(w, started, {
      beforeRun: async () => {
        await updateDeployment(w.kns, 'web', (dep) => {
          dep.spec!.template.spec!.containers[0]!.image = w.image('6.9-hotfix');
        });
      },
    }).catch((error: unknown) => error);
    expect((failure as Error).message).toMatch(/plan changed/);
    expect(await image(w)).toBe(w.image('6.9-hotfix'));
    expect(await lockHeld(w)).toBe(false);
  });
});

describe('deploy: history and metrics', () => {
  it('lists recorded deploys and serves the key metrics from them', async () => {
    const w = await deployWorld(backend, slack, { smoke: [{ url: `${backend.url}/health`, status: 200 }] });
    await seedWeb(w, 1);
    backend.setHealth('ok');
    await runDeploy(w, await start(w, parse(w.ctx, ['web', '8.0'])));
    await runDeploy(w, await start(w, parse(w.ctx, ['web', `8.1${CRASHLOOP_IMAGE_SUFFIX}`]))).catch(() => undefined);
    await runDeploy(w, await start(w, parse(w.ctx, ['web', '8.2'])));

    const history = await deployHistoryVerb.execute!(deployHistoryVerb.parse({ positional: ['web'], flags: {} }, { config: w.ctx.config, actor: w.ctx.actor }), w.ctx);
    const text = JSON.stringify(history.parts);
    expect(text).toContain('rolled back');
    expect(text).toContain('web:8.1-crashloop: rolled back');
    // Just deployed: not good until it stayed live deploy.goodAfter without an alert.
    expect(text).toContain('Not good (yet): web web:8.2: live for 0s only; good after 30m without an alert.');

    const metrics = (await runbookMetrics(w.ctx.config, w.ctx.clients)).text;
    expect(metrics).toContain('autostack_deployments_total{app="web",result="succeeded"} 2');
    expect(metrics).toContain('autostack_deployments_total{app="web",result="rolled_back"} 1');
    expect(metrics).toContain('autostack_deployments_total{app="web",result="failed"} 0');
    expect(metrics).toMatch(/autostack_deployment_success_ratio\{app="web"\} 0\.666/);
    expect(metrics).toContain('autostack_deployment_rollbacks_total{app="web"} 1');
    expect(metrics).toContain('autostack_smoke_checks_total{app="web",result="passed"} 2');
    expect(metrics).toContain('autostack_smoke_check_pass_ratio{app="web"} 1');
    expect(metrics).toMatch(/autostack_deployment_duration_seconds_average\{app="web"\} \d/);
    expect(metrics).toContain('autostack_deploy_in_progress{app="web"} 0');
    expect(metrics).toContain('autostack_ratelimit_blocks_active 0');
    expect(metrics).toContain('# TYPE autostack_deployments_total counter');
  });
});
