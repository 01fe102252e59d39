import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import type { Args } from '../../src/core/types.ts';
import { rollbackVerb } from '../../commands/incident/verbs.ts';
import type { RollbackParams } from '../../commands/incident/rollback.ts';
import { CHANGE_CAUSE_ANNOTATION } from '../../commands/shared/kube.ts';
import { deploymentRolloutState, undoDeployment } from '../../commands/shared/kube-rollouts.ts';
import { kubeClientsFrom } from '../../src/clients.ts';
import { rollbackJob } from '../../jobs/rollback.ts';
import { rollbackTiming } from '../../commands/incident/operations.ts';
import { DEFAULT_API_TOKEN, FakeBackend } from '../harness/fake-backend.ts';
import { planOf, runJob, testContext } from '../harness/context.ts';
import type { TestContext } from '../harness/context.ts';
import { createDeployment, createDeploymentWithHistory, deploymentImage, kubeNamespace, updateDeployment, waitObserved } from '../harness/kube-env.ts';
import type { RevisionSpec, TestNamespace } from '../harness/kube-env.ts';

let backend: FakeBackend;

beforeAll(async () => {
  backend = await FakeBackend.start();
  rollbackTiming.pollMs = 100;
  rollbackTiming.healthDelayMs = 10;
});
afterAll(async () => {
  await backend.close();
});

const UUID = '3f1c2b9e-8a7d-4c21-9f0e-5b6a7c8d9e0f';

/** A namespace of its own on the control plane and an operator whose bot works in it under its Role. */
async function setup(config: Record<string, unknown> = {}): Promise<{ ns: string; kns: TestNamespace; ctx: TestContext }> {
  backend.setHealth('ok');
  const kns = await kubeNamespace();
  const ctx = testContext({ role: 'operator', kube: kns.bot, config: { kubernetes: { namespace: kns.name }, backend: { url: backend.url, apiToken: DEFAULT_API_TOKEN }, ...config } });
  return { ns: kns.name, kns, ctx };
}

/** For parsing only: no namespace needed. */
function parseContext(config: Record<string, unknown> = {}): TestContext {
  return testContext({ role: 'operator', config: { backend: { url: backend.url, apiToken: DEFAULT_API_TOKEN }, ...config } });
}

function parse(ctx: TestContext, positional: string[], flags: Args['flags'] = {}): RollbackParams {
  return rollbackVerb.parse({ positional, flags }, { config: ctx.config, actor: ctx.actor });
}

function img(ns: string, tag: string): string {
  return `registry.example/${ns}/web:${tag}`;
}

/** Deployment web at revision 3 (release 3), with revisions 1 and 2 behind it; `crashing` revisions crash-loop. */
async function seedWeb(kns: TestNamespace, crashing: string[] = [], progressDeadlineSeconds?: number) {
  const ns = kns.name;
  const revision = (tag: string, changeCause: string): RevisionSpec => ({ image: img(ns, tag), changeCause, crashing: crashing.includes(tag) });
  await createDeploymentWithHistory(kns, {
    name: 'web',
    replicas: 2,
    progressDeadlineSeconds,
    revisions: [revision('1', 'release 1'), revision('2', 'release 2'), revision('3-broken', 'release 3')],
  });
}

/** The platform side: sets the backend Deployment's image (as its own deploy tooling would). */
async function setBackendImage(kns: TestNamespace, image: string | undefined, restartedAt?: string) {
  await updateDeployment(kns, 'backend', (dep) => {
    if (image) dep.spec!.template!.spec!.containers[0]!.image = image;
    if (restartedAt) dep.spec!.template!.metadata!.annotations = { 'kubectl.kubernetes.io/restartedAt': restartedAt };
  });
}

describe('rollback: which target', () => {
  it('treats a number or a UUID as a platform deployment ID and anything else as an app', () => {
    const ctx = parseContext();
    expect(parse(ctx, ['42'])).toEqual({ target: { kind: 'platform', id: '42' }, reason: 'Deployment failed', follow: { app: 'backend', deployment: 'backend' } });
    expect(parse(ctx, [UUID, 'bad', 'migration']).target).toEqual({ kind: 'platform', id: UUID });
    expect(parse(ctx, [UUID, 'bad', 'migration']).reason).toBe('bad migration');
    expect(parse(ctx, ['42'], { app: 'web' }).follow).toEqual({ app: 'web', deployment: 'web' });
    expect(parse(ctx, ['web', 'pods', 'crash'], { 'to-revision': '2' })).toEqual({
      target: { kind: 'app', app: 'web', deployment: 'web', toRevision: 2 },
      reason: 'pods crash',
      follow: { app: 'web', deployment: 'web' },
    });
  });

  it('maps an app to its configured Deployment', () => {
    const ctx = parseContext({ deploy: { apps: { api: { deployment: 'autostack-api', image: 'registry.example/api' } } } });
    expect(parse(ctx, ['api']).target).toEqual({ kind: 'app', app: 'api', deployment: 'autostack-api', toRevision: undefined });
  });

  it('refuses bad input with a specific message', () => {
    const ctx = parseContext();
    expect(() => parse(ctx, ['42'], { 'to-revision': '2' })).toThrow(/--to-revision applies to an app name/);
    expect(() => parse(ctx, ['web'], { app: 'web' })).toThrow(/--app is only for a platform deployment ID/);
    expect(() => parse(ctx, ['web'], { 'to-revision': 'latest' })).toThrow(UsageError);
    expect(() => parse(ctx, ['Web!'])).toThrow(/not a valid app name/);
    expect(() => parse(ctx, ['web', 'x'.repeat(600)])).toThrow(/reason is 600 characters/);
  });
});

describe('rollback by deployment ID (platform API)', () => {
  /** The platform rolls the backend Deployment back to `image` when it accepts a rollback. */
  function platformRollsBackTo(kns: TestNamespace, image: string) {
    backend.onRollback(() => setBackendImage(kns, image));
  }

  it('confirms with the exact call, POSTs with the bearer token and {"reason"}, and succeeds on the evidence: new live image, ready, /health', async () => {
    const { ns, kns, ctx } = await setup();
    await createDeploymentWithHistory(kns, { name: 'backend', replicas: 2, revisions: [{ image: `registry.example/${ns}/backend:6` }, { image: `registry.example/${ns}/backend:7` }] });
    backend.addDeployment({ id: '42', status: 'failed' });
    platformRollsBackTo(kns, `registry.example/${ns}/backend:6`);
    const params = parse(ctx, ['42', 'pods', 'crashing', 'after', 'deploy']);
    expect(rollbackVerb.guard).toBe('confirm');
    const plan = await planOf(rollbackVerb, params, ctx);
    expect(plan.steps[0]).toBe(`POST ${backend.url}/api/deployments/42/rollback with the configured bearer token and {"reason": "pods crashing after deploy"}`);
    expect(JSON.stringify(plan)).not.toContain(DEFAULT_API_TOKEN);

    const result = await runJob(rollbackJob, params, ctx).finally(() => backend.onRollback(undefined));
    const posts = backend.requestsMatching('POST', '/api/deployments/42/rollback');
    expect(posts).toHaveLength(1);
    expect(posts[0]!.headers.authorization).toBe(`Bearer ${DEFAULT_API_TOKEN}`);
    expect(posts[0]!.headers['content-type']).toBe('application/json');
    expect(posts[0]!.body).toEqual({ reason: 'pods crashing after deploy' });
    expect(backend.getDeployment('42')?.status).toBe('rolling_back');
    expect(result.reply.summary).toBe('Rolled back: live image backend:6 (was backend:7), 2/2 ready, /health 200');
    expect(JSON.stringify(result)).not.toContain(DEFAULT_API_TOKEN);
    expect(result.steps.join('\n')).toContain('Following the rollout of Deployment backend');
    expect(backend.requestsMatching('GET', '/health').length).toBeGreaterThan(0);
    expect(ctx.audited.find((a) => a.action === 'rollback platform deployment')).toMatchObject({ args: { id: '42', reason: 'pods crashing after deploy' } });
  });

  it('ends "accepted, not finished" with the next step when the platform accepts but the live image never changes', async () => {
    const { ns, kns, ctx } = await setup({ rollout: { timeout: '1s' } });
    await createDeploymentWithHistory(kns, { name: 'backend', replicas: 2, revisions: [{ image: `registry.example/${ns}/backend:1.4.1` }, { image: `registry.example/${ns}/backend:1.4.2` }] });
    backend.addDeployment({ id: '1042', status: 'failed' });
    const error = await runJob(rollbackJob, parse(ctx, ['1042']), ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toMatch(/^Accepted, not finished: the platform accepted the rollback of deployment 1042 \(200\) .*no rollout of Deployment backend started: it still runs backend:1\.4\.2 \(generation \d+\)\. Nothing is rolled back yet\.$/);
    expect((error as UserFacingError).hint).toContain('`/autostack rollback backend`');
    expect(backend.getDeployment('1042')?.status).toBe('rolling_back');
  });

  it('is not "Succeeded" when the rollout the platform started leaves the same image live', async () => {
    const { ns, kns, ctx } = await setup();
    const bad = `registry.example/${ns}/backend:1.4.2`;
    await createDeployment(kns, { name: 'backend', image: bad });
    backend.addDeployment({ id: '1043', status: 'failed' });
    backend.onRollback(() => setBackendImage(kns, undefined, new Date().toISOString()));
    const error = await runJob(rollbackJob, parse(ctx, ['1043']), ctx).catch((e: unknown) => e).finally(() => backend.onRollback(undefined));
    expect((error as Error).message).toBe(
      'the platform accepted the rollback of deployment 1043 (200) and a rollout completed, but Deployment backend runs backend:1.4.2, not the backend:1.4.2 live before the request. It is not rolled back.',
    );
  });

  it('works with a UUID', async () => {
    const { kns, ctx } = await setup({ rollout: { timeout: '1s' } });
    await createDeployment(kns, { name: 'backend', image: 'backend:7' });
    backend.addDeployment({ id: UUID });
    await expect(runJob(rollbackJob, parse(ctx, [UUID]), ctx)).rejects.toThrow(/^Accepted, not finished/);
    expect(backend.rollbacks.at(-1)).toEqual({ id: UUID, reason: 'Deployment failed', token: DEFAULT_API_TOKEN });
  });

  it('says the token was refused and that nothing was rolled back', async () => {
    const { kns, ctx } = await setup({ backend: { url: backend.url, apiToken: 'wrong-token-value' } });
    await createDeployment(kns, { name: 'backend', image: 'backend:7' });
    backend.addDeployment({ id: '43' });
    const error = await runJob(rollbackJob, parse(ctx, ['43']), ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toContain('answered 401');
    expect((error as Error).message).toContain('The API token was refused; nothing was rolled back.');
    expect((error as Error).message).not.toContain('wrong-token-value');
    expect(backend.getDeployment('43')?.status).toBe('failed');
  });

  it('refuses a deployment ID the platform does not know before any plan, and calls no rollback', async () => {
    const { kns, ctx } = await setup();
    await createDeployment(kns, { name: 'backend', image: 'backend:7' });
    const refused = `Platform deployment 404404 does not exist (GET ${backend.url}/api/deployments/404404 answered 404). Nothing was asked or rolled back.`;
    await expect(planOf(rollbackVerb, parse(ctx, ['404404']), ctx)).rejects.toThrow(refused);
    await expect(runJob(rollbackJob, parse(ctx, ['404404']), ctx)).rejects.toThrow(refused);
    expect(backend.requestsMatching('POST', '/api/deployments/404404/rollback')).toHaveLength(0);
  });

  it('calls nothing without a configured token', async () => {
    const { kns, ctx } = await setup({ backend: { url: backend.url } });
    await createDeployment(kns, { name: 'backend', image: 'backend:7' });
    const before = backend.requests.length;
    await expect(runJob(rollbackJob, parse(ctx, ['42']), ctx)).rejects.toThrow(/No platform API token is configured.*nothing was called/);
    expect(backend.requests.length).toBe(before);
    expect((await planOf(rollbackVerb, parse(ctx, ['42']), ctx)).warnings?.[0]).toContain('No platform API token');
  });
});

describe('rollback by app (Kubernetes Deployment)', () => {
  it('plans from the live revision to the previous one, then rolls back, follows the rollout and checks /health', async () => {
    const { ns, kns, ctx } = await setup();
    await seedWeb(kns);
    const params = parse(ctx, ['web', 'release', '3', 'crashes']);
    const plan = await planOf(rollbackVerb, params, ctx);
    expect(plan.title).toBe('Roll back Deployment web from revision 3 to revision 2');
    expect(plan.steps[1]).toBe('images: web:3-broken → web:2');
    const result = await runJob(rollbackJob, params, ctx);
    expect(await deploymentImage(kns, 'web')).toBe(img(ns, '2'));
    expect((await kns.kube.apps.readNamespacedDeployment({ name: 'web', namespace: ns })).metadata?.annotations?.[CHANGE_CAUSE_ANNOTATION]).toBe(`rollback to revision previous by ${ctx.actor.id}: release 3 crashes`);
    expect(result.steps).toContain('Patched: revision 3 → 2 (web:3-broken → web:2)');
    expect(result.steps.some((s) => s.startsWith('Rollout complete: Deployment web: 2/2 replicas updated and available'))).toBe(true);
    expect(result.reply.summary).toBe('Rolled back: live image web:2 (was web:3-broken), 2/2 ready, /health 200');
    expect(JSON.stringify(result.reply.parts)).toContain('2/2 replicas ready');
    expect(ctx.audited.find((a) => a.action === 'rollback deployment')).toMatchObject({ args: { deployment: 'web', from: 3, to: 2 } });
    // The rollout as a chart for the thread: ready replicas from poll to poll, the patch and the end.
    const [chart] = result.charts;
    expect(chart?.title).toBe('Ready replicas of Deployment web');
    expect(chart?.markers?.map((m) => m.label)).toEqual(['revision 2 set', 'rolled out']);
    expect(chart?.series[0]?.points.at(-1)?.value).toBe(2);
    expect(chart?.alt).toMatch(/, 2 of 2 at the end, .*; revision 2 set at \d\d:\d\d:\d\d; rolled out at \d\d:\d\d:\d\d\.$/);
  });

  it('rolls back to the revision given with --to-revision', async () => {
    const { ns, kns, ctx } = await setup();
    await seedWeb(kns);
    const params = parse(ctx, ['web'], { 'to-revision': '1' });
    expect((await planOf(rollbackVerb, params, ctx)).title).toBe('Roll back Deployment web from revision 3 to revision 1');
    await runJob(rollbackJob, params, ctx);
    expect(await deploymentImage(kns, 'web')).toBe(img(ns, '1'));
  });

  it('binds the confirmation to the revisions: a new rollout changes the plan', async () => {
    const { ns, kns, ctx } = await setup();
    await seedWeb(kns);
    const params = parse(ctx, ['web']);
    const before = await planOf(rollbackVerb, params, ctx);
    await updateDeployment(kns, 'web', (dep) => {
      dep.spec!.template!.spec!.containers[0]!.image = img(ns, '4');
    });
    await waitObserved(kns, 'web');
    const after = await planOf(rollbackVerb, params, ctx);
    expect(after.title).toBe('Roll back Deployment web from revision 4 to revision 3');
    expect(after).not.toEqual(before);
  });

  it('says exactly what state it left when the rolled-back revision does not become ready', async () => {
    const { ns, kns, ctx } = await setup({ rollout: { timeout: '1s' } });
    await seedWeb(kns, ['2']);
    const error = await runJob(rollbackJob, parse(ctx, ['web']), ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    const message = (error as Error).message;
    expect(message).toMatch(/^Deployment web was patched from revision 3 to the template of revision 2, but the rollout of web is not complete after 1s: .* Nothing was reverted\.$/);
    expect((error as UserFacingError).hint).toContain('/autostack logs web --previous');
    expect(await deploymentImage(kns, 'web')).toBe(img(ns, '2'));
  });

  it('reports a rollout stopped by its progress deadline', () => {
    // The state the deployment controller writes when a rollout makes no progress within
    // spec.progressDeadlineSeconds. (The test control plane's controller did not write it within
    // 40 s for a crash-looping revision, so the Deployment here is the API's object as documented.)
    const stuck: V1Deployment = {
      metadata: { name: 'web', generation: 5 },
      spec: { replicas: 2, selector: {}, template: {} },
      status: {
        observedGeneration: 5,
        updatedReplicas: 1,
        availableReplicas: 2,
        replicas: 3,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-7d9" has timed out progressing.' }],
      },
    };
    expect(deploymentRolloutState(stuck)).toMatchObject({ done: false, failed: true, message: 'Deployment web exceeded its progress deadline: ReplicaSet "web-7d9" has timed out progressing.' });
  });

  it('fails when /health is not healthy after a complete rollout, saying the rollback happened', async () => {
    const { ns, kns, ctx } = await setup();
    await seedWeb(kns);
    backend.setHealth('unhealthy');
    const error = await runJob(rollbackJob, parse(ctx, ['web']), ctx).catch((e: unknown) => e);
    backend.setHealth('ok');
    expect((error as Error).message).toBe(
      `Deployment web was patched from revision 3 to the template of revision 2 and the rollout completed, but ${backend.url}/health is not healthy: 503 {"status":"unhealthy","database":"disconnected"}.`,
    );
    expect(await deploymentImage(kns, 'web')).toBe(img(ns, '2'));
  });

  it('changes nothing when the app has no previous revision', async () => {
    const { kns, ctx } = await setup();
    await createDeployment(kns, { name: 'solo', image: 'solo:1' });
    await expect(planOf(rollbackVerb, parse(ctx, ['solo']), ctx)).rejects.toThrow(/no previous revision/);
    await expect(runJob(rollbackJob, parse(ctx, ['solo']), ctx)).rejects.toThrow(/no previous revision/);
    expect(await deploymentImage(kns, 'solo')).toBe('solo:1');
  });
});

describe('rollback cancelled while following', () => {
  it('says what it left: patched, not reverted', async () => {
    const { ns, kns, ctx } = await setup();
    await seedWeb(kns, ['2']);
    const controller = new AbortController();
    const running = runJob(rollbackJob, parse(ctx, ['web']), ctx, controller.signal).catch((e: unknown) => e);
    for (let i = 0; i < 500 && (await deploymentImage(kns, 'web')) !== img(ns, '2'); i++) await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    const error = await running;
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toBe('Cancelled while following the rollout: Deployment web was patched from revision 3 to the template of revision 2. Nothing was reverted; the rollout continues in Kubernetes.');
    expect(await deploymentImage(kns, 'web')).toBe(img(ns, '2'));
  });
});

describe('rollback against concurrent writes (409 from the API server)', () => {
  /** The bot's clients, with `write` run by someone else just before the bot's first patch of the Deployment. */
  function writeBeforeFirstPatch(kns: TestNamespace, write: () => Promise<unknown>) {
    const kube = kubeClientsFrom(kns.bot);
    let done = false;
    const apps = new Proxy(kube.apps, {
      get(target, prop, receiver) {
        if (prop !== 'patchNamespacedDeployment') return Reflect.get(target, prop, receiver);
        return async (...args: Parameters<typeof target.patchNamespacedDeployment>) => {
          if (!done) {
            done = true;
            await write();
          }
          return target.patchNamespacedDeployment(...args);
        };
      },
    });
    return { ...kube, apps };
  }

  it('retries when only the Deployment\'s metadata or status changed since it was read (same template, same target)', async () => {
    const { ns, kns } = await setup();
    await seedWeb(kns);
    const kube = writeBeforeFirstPatch(kns, () =>
      kns.kube.apps.patchNamespacedDeployment({ name: 'web', namespace: ns, body: [{ op: 'add', path: '/metadata/labels/audited', value: 'yes' }] }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)),
    );
    const before = (await kns.kube.apps.readNamespacedDeployment({ name: 'web', namespace: ns })).metadata!.resourceVersion;
    const result = await undoDeployment(kube, ns, 'web', { changeCause: 'rollback test' });
    expect(result).toMatchObject({ fromRevision: 3, toRevision: 2, toImages: [img(ns, '2')] });
    expect(result.resourceVersion).not.toBe(before);
    const after = await kns.kube.apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    expect(after.spec?.template.spec?.containers[0]?.image).toBe(img(ns, '2'));
    expect(after.metadata?.labels?.audited).toBe('yes');
  });

  it('changes nothing when someone else changed the template in between, and says so', async () => {
    const { ns, kns } = await setup();
    await seedWeb(kns);
    const kube = writeBeforeFirstPatch(kns, () =>
      updateDeployment(kns, 'web', (dep) => {
        dep.spec!.template!.spec!.containers[0]!.image = img(ns, '5');
      }),
    );
    await expect(undoDeployment(kube, ns, 'web', { changeCause: 'rollback test' })).rejects.toThrow(
      'Deployment web was changed by someone else while rolling back (409 Conflict); nothing was changed. Check `history web` and run the command again.',
    );
    expect(await deploymentImage(kns, 'web')).toBe(img(ns, '5'));
  });
});
