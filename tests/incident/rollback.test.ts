import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import type { Args } from '../../src/core/types.ts';
import { rollbackVerb } from '../../commands/incident/verbs.ts';
import type { RollbackParams } from '../../commands/incident/rollback.ts';
import { CHANGE_CAUSE_ANNOTATION } from '../../commands/shared/kube.ts';
import { rollbackJob } from '../../jobs/rollback.ts';
import { rollbackTiming } from '../../commands/incident/operations.ts';
import { DEFAULT_API_TOKEN, FakeBackend } from '../harness/fake-backend.ts';
import { FakeKube } from '../harness/fake-kube.ts';
import { planOf, runJob } from '../harness/context.ts';
import type { TestContext } from '../harness/context.ts';
import { namespaceContext } from './kube-helpers.ts';

let backend: FakeBackend;
let fake: FakeKube;

beforeAll(async () => {
  backend = await FakeBackend.start();
  fake = await FakeKube.start();
  rollbackTiming.pollMs = 10;
  rollbackTiming.healthDelayMs = 10;
});
afterAll(async () => {
  await backend.close();
  await fake.close();
});

const UUID = '3f1c2b9e-8a7d-4c21-9f0e-5b6a7c8d9e0f';

function setup(config: Record<string, unknown> = {}): { ns: string; ctx: TestContext } {
  backend.setHealth('ok');
  return namespaceContext(fake, { role: 'operator', config: { backend: { url: backend.url, apiToken: DEFAULT_API_TOKEN }, ...config } });
}

function parse(ctx: TestContext, positional: string[], flags: Args['flags'] = {}): RollbackParams {
  return rollbackVerb.parse({ positional, flags }, { config: ctx.config, actor: ctx.actor });
}

/** Images are named after the namespace: the fake's per-image rollout behaviours are global. */
function img(ns: string, tag: string): string {
  return `registry.example/${ns}/web:${tag}`;
}

function seedWeb(ns: string) {
  fake.seedDeployment({
    namespace: ns,
    name: 'web',
    image: img(ns, '3-broken'),
    changeCause: 'release 3',
    replicas: 2,
    revisions: [{ image: img(ns, '1'), changeCause: 'release 1' }, { image: img(ns, '2'), changeCause: 'release 2' }],
  });
}

function image(ns: string, name = 'web'): string | undefined {
  return fake.getDeployment(ns, name)?.spec.template.spec.containers[0]?.image;
}

describe('rollback: which target', () => {
  it('treats a number or a UUID as a platform deployment ID and anything else as an app', () => {
    const { ctx } = setup();
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
    const { ctx } = setup({ deploy: { apps: { api: { deployment: 'autostack-api', image: 'registry.example/api' } } } });
    expect(parse(ctx, ['api']).target).toEqual({ kind: 'app', app: 'api', deployment: 'autostack-api', toRevision: undefined });
  });

  it('refuses bad input with a specific message', () => {
    const { ctx } = setup();
    expect(() => parse(ctx, ['42'], { 'to-revision': '2' })).toThrow(/--to-revision applies to an app name/);
    expect(() => parse(ctx, ['web'], { app: 'web' })).toThrow(/--app is only for a platform deployment ID/);
    expect(() => parse(ctx, ['web'], { 'to-revision': 'latest' })).toThrow(UsageError);
    expect(() => parse(ctx, ['Web!'])).toThrow(/not a valid app name/);
    expect(() => parse(ctx, ['web', 'x'.repeat(600)])).toThrow(/reason is 600 characters/);
  });
});

describe('rollback by deployment ID (platform API)', () => {
  /** The platform rolls the backend Deployment back to `image` when it accepts a rollback. */
  function platformRollsBackTo(ctx: TestContext, ns: string, image: string) {
    backend.onRollback(async () => {
      const kube = ctx.clients.kube();
      const dep = await kube.apps.readNamespacedDeployment({ name: 'backend', namespace: ns });
      dep.spec!.template!.spec!.containers[0]!.image = image;
      await kube.apps.replaceNamespacedDeployment({ name: 'backend', namespace: ns, body: dep });
    });
  }

  it('confirms with the exact call, POSTs with the bearer token and {"reason"}, and succeeds on the evidence: new live image, ready, /health', async () => {
    const { ns, ctx } = setup();
    fake.seedDeployment({ namespace: ns, name: 'backend', image: `registry.example/${ns}/backend:7`, replicas: 2, revisions: [{ image: `registry.example/${ns}/backend:6` }] });
    backend.addDeployment({ id: '42', status: 'failed' });
    platformRollsBackTo(ctx, ns, `registry.example/${ns}/backend:6`);
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
    const { ns, ctx } = setup({ rollout: { timeout: '1s' } });
    fake.seedDeployment({ namespace: ns, name: 'backend', image: `registry.example/${ns}/backend:1.4.2`, replicas: 2, revisions: [{ image: `registry.example/${ns}/backend:1.4.1` }] });
    backend.addDeployment({ id: '1042', status: 'failed' });
    const error = await runJob(rollbackJob, parse(ctx, ['1042']), ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toMatch(/^Accepted, not finished: the platform accepted the rollback of deployment 1042 \(200\) .*no rollout of Deployment backend started: it still runs backend:1\.4\.2 \(generation \d+\)\. Nothing is rolled back yet\.$/);
    expect((error as UserFacingError).hint).toContain('`/autostack rollback backend`');
    expect(backend.getDeployment('1042')?.status).toBe('rolling_back');
  });

  it('is not "Succeeded" when the rollout the platform started leaves the same image live', async () => {
    const { ns, ctx } = setup();
    const bad = `registry.example/${ns}/backend:1.4.2`;
    fake.seedDeployment({ namespace: ns, name: 'backend', image: bad });
    backend.addDeployment({ id: '1043', status: 'failed' });
    backend.onRollback(async () => {
      const kube = ctx.clients.kube();
      const dep = await kube.apps.readNamespacedDeployment({ name: 'backend', namespace: ns });
      dep.spec!.template!.metadata!.annotations = { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() };
      await kube.apps.replaceNamespacedDeployment({ name: 'backend', namespace: ns, body: dep });
    });
    const error = await runJob(rollbackJob, parse(ctx, ['1043']), ctx).catch((e: unknown) => e).finally(() => backend.onRollback(undefined));
    expect((error as Error).message).toBe(
      'the platform accepted the rollback of deployment 1043 (200) and a rollout completed, but Deployment backend runs backend:1.4.2, not the backend:1.4.2 live before the request. It is not rolled back.',
    );
  });

  it('works with a UUID', async () => {
    const { ns, ctx } = setup({ rollout: { timeout: '1s' } });
    fake.seedDeployment({ namespace: ns, name: 'backend', image: 'backend:7' });
    backend.addDeployment({ id: UUID });
    await expect(runJob(rollbackJob, parse(ctx, [UUID]), ctx)).rejects.toThrow(/^Accepted, not finished/);
    expect(backend.rollbacks.at(-1)).toEqual({ id: UUID, reason: 'Deployment failed', token: DEFAULT_API_TOKEN });
  });

  it('says the token was refused and that nothing was rolled back', async () => {
    const { ns, ctx } = setup({ backend: { url: backend.url, apiToken: 'wrong-token-value' } });
    fake.seedDeployment({ namespace: ns, name: 'backend', image: 'backend:7' });
    backend.addDeployment({ id: '43' });
    const error = await runJob(rollbackJob, parse(ctx, ['43']), ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toContain('answered 401');
    expect((error as Error).message).toContain('The API token was refused; nothing was rolled back.');
    expect((error as Error).message).not.toContain('wrong-token-value');
    expect(backend.getDeployment('43')?.status).toBe('failed');
  });

  it('says when the deployment does not exist', async () => {
    const { ns, ctx } = setup();
    fake.seedDeployment({ namespace: ns, name: 'backend', image: 'backend:7' });
    await expect(runJob(rollbackJob, parse(ctx, ['404404']), ctx)).rejects.toThrow('No deployment 404404; nothing was rolled back.');
  });

  it('calls nothing without a configured token', async () => {
    const { ns, ctx } = setup({ backend: { url: backend.url } });
    fake.seedDeployment({ namespace: ns, name: 'backend', image: 'backend:7' });
    const before = backend.requests.length;
    await expect(runJob(rollbackJob, parse(ctx, ['42']), ctx)).rejects.toThrow(/No platform API token is configured.*nothing was called/);
    expect(backend.requests.length).toBe(before);
    expect((await planOf(rollbackVerb, parse(ctx, ['42']), ctx)).warnings?.[0]).toContain('No platform API token');
  });
});

describe('rollback by app (Kubernetes Deployment)', () => {
  it('plans from the live revision to the previous one, then rolls back, follows the rollout and checks /health', async () => {
    const { ns, ctx } = setup();
    seedWeb(ns);
    const params = parse(ctx, ['web', 'release', '3', 'crashes']);
    const plan = await planOf(rollbackVerb, params, ctx);
    expect(plan.title).toBe('Roll back Deployment web from revision 3 to revision 2');
    expect(plan.steps[1]).toBe('images: web:3-broken → web:2');
    fake.setImageBehaviour(img(ns, '2'), 'ready', { readyAfterPolls: 2 });
    const result = await runJob(rollbackJob, params, ctx);
    expect(image(ns)).toBe(img(ns, '2'));
    expect(fake.getDeployment(ns, 'web')?.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION]).toBe(`rollback to revision previous by ${ctx.actor.id}: release 3 crashes`);
    expect(result.steps).toContain('Patched: revision 3 → 2 (web:3-broken → web:2)');
    expect(result.steps.filter((s) => s.startsWith('rollout: ')).length).toBeGreaterThan(1);
    expect(result.reply.summary).toBe('Rolled back: live image web:2 (was web:3-broken), 2/2 ready, /health 200');
    expect(JSON.stringify(result.reply.parts)).toContain('2/2 replicas ready');
    expect(ctx.audited.find((a) => a.action === 'rollback deployment')).toMatchObject({ args: { deployment: 'web', from: 3, to: 2 } });
  });

  it('rolls back to the revision given with --to-revision', async () => {
    const { ns, ctx } = setup();
    seedWeb(ns);
    const params = parse(ctx, ['web'], { 'to-revision': '1' });
    expect((await planOf(rollbackVerb, params, ctx)).title).toBe('Roll back Deployment web from revision 3 to revision 1');
    await runJob(rollbackJob, params, ctx);
    expect(image(ns)).toBe(img(ns, '1'));
  });

  it('binds the confirmation to the revisions: a new rollout changes the plan', async () => {
    const { ns, ctx } = setup();
    seedWeb(ns);
    const params = parse(ctx, ['web']);
    const before = await planOf(rollbackVerb, params, ctx);
    const dep = await ctx.clients.kube().apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    dep.spec!.template!.spec!.containers[0]!.image = img(ns, '4');
    await ctx.clients.kube().apps.replaceNamespacedDeployment({ name: 'web', namespace: ns, body: dep });
    const after = await planOf(rollbackVerb, params, ctx);
    expect(after.title).toBe('Roll back Deployment web from revision 4 to revision 3');
    expect(after).not.toEqual(before);
  });

  it('says exactly what state it left when the rolled-back revision does not become ready', async () => {
    const { ns, ctx } = setup({ rollout: { timeout: '1s' } });
    seedWeb(ns);
    fake.setImageBehaviour(img(ns, '2'), 'stuck', { failure: 'CrashLoopBackOff' });
    const error = await runJob(rollbackJob, parse(ctx, ['web']), ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    const message = (error as Error).message;
    expect(message).toMatch(/^Deployment web was patched from revision 3 to the template of revision 2, but the rollout of web is not complete after 1s: .* Nothing was reverted\.$/);
    expect((error as UserFacingError).hint).toContain('/autostack logs web --previous');
    expect(image(ns)).toBe(img(ns, '2'));
  });

  it('reports a rollout stopped by its progress deadline', async () => {
    const { ns, ctx } = setup();
    seedWeb(ns);
    fake.setImageBehaviour(img(ns, '1'), 'stuck', { deadlineAfterPolls: 1 });
    await expect(runJob(rollbackJob, parse(ctx, ['web'], { 'to-revision': '1' }), ctx)).rejects.toThrow(/cannot progress: Deployment web exceeded its progress deadline/);
  });

  it('fails when /health is not healthy after a complete rollout, saying the rollback happened', async () => {
    const { ns, ctx } = setup();
    seedWeb(ns);
    backend.setHealth('unhealthy');
    const error = await runJob(rollbackJob, parse(ctx, ['web']), ctx).catch((e: unknown) => e);
    backend.setHealth('ok');
    expect((error as Error).message).toBe(
      `Deployment web was patched from revision 3 to the template of revision 2 and the rollout completed, but ${backend.url}/health is not healthy: 503 {"status":"unhealthy","database":"disconnected"}.`,
    );
    expect(image(ns)).toBe(img(ns, '2'));
  });

  it('changes nothing when the app has no previous revision', async () => {
    const { ns, ctx } = setup();
    fake.seedDeployment({ namespace: ns, name: 'solo', image: 'solo:1' });
    await expect(planOf(rollbackVerb, parse(ctx, ['solo']), ctx)).rejects.toThrow(/no previous revision/);
    await expect(runJob(rollbackJob, parse(ctx, ['solo']), ctx)).rejects.toThrow(/no previous revision/);
    expect(image(ns, 'solo')).toBe('solo:1');
  });
});

describe('rollback cancelled while following', () => {
  it('says what it left: patched, not reverted', async () => {
    const { ns, ctx } = setup();
    seedWeb(ns);
    fake.setImageBehaviour(img(ns, '2'), 'stuck');
    const controller = new AbortController();
    const running = runJob(rollbackJob, parse(ctx, ['web']), ctx, controller.signal).catch((e: unknown) => e);
    for (let i = 0; i < 500 && image(ns) !== img(ns, '2'); i++) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    const error = await running;
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toBe('Cancelled while following the rollout: Deployment web was patched from revision 3 to the template of revision 2. Nothing was reverted; the rollout continues in Kubernetes.');
    expect(image(ns)).toBe(img(ns, '2'));
  });
});
