/**
 * Pins the fake AutoStack backend the runbook commands talk to, over real
 * HTTP with fetch (and, for the env-from-Secret model, a Secret and a
 * Deployment on the test control plane).
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CONSTANT_STATE,
  DEFAULT_API_TOKEN,
  DEFAULT_BACKEND_ENV,
  FakeBackend,
  WRONG_REDIRECT_URI,
} from './fake-backend.ts';
import type { OAuthFailure } from './fake-backend.ts';
import { createDeployment, kubeNamespace, podsSecretEnv, waitForRollout } from './kube-env.ts';

let backend: FakeBackend;

beforeEach(async () => {
  backend = await FakeBackend.start({ deployments: [{ id: 'dep-42', status: 'failed' }] });
});

afterEach(async () => {
  await backend.close();
});

async function authorizeUrl(provider: 'github' | 'google'): Promise<{ status: number; location: URL | undefined }> {
  const res = await fetch(`${backend.url}/auth/${provider}`, { redirect: 'manual' });
  await res.arrayBuffer();
  const location = res.headers.get('location');
  return { status: res.status, location: location ? new URL(location) : undefined };
}

function rollback(id: string, init: { token?: string; body?: string; contentType?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  if (init.contentType) headers['content-type'] = init.contentType;
  return fetch(`${backend.url}/api/deployments/${id}/rollback`, { method: 'POST', headers, body: init.body });
}

describe('health', () => {
  it('answers ok, then 503 when unhealthy', async () => {
    const ok = await fetch(`${backend.url}/health`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ok' });
    backend.setHealth('unhealthy');
    const down = await fetch(`${backend.url}/health`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'unhealthy' });
  });

  it('can hang: the request stays unanswered until the server closes', async () => {
    backend.setHealth('hang');
    const outcome = fetch(`${backend.url}/health`).then(
      (r) => `answered ${r.status}`,
      () => 'failed',
    );
    for (let i = 0; i < 2000 && backend.requestsMatching('GET', '/health').length === 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await backend.close();
    expect(await outcome).toBe('failed');
  });
});

describe('OAuth redirects', () => {
  it('redirects to GitHub with client_id, redirect_uri, scope and a fresh state each time', async () => {
    const first = await authorizeUrl('github');
    const second = await authorizeUrl('github');
    expect(first.status).toBe(307);
    expect(first.location?.origin + (first.location?.pathname ?? '')).toBe('https://github.com/login/oauth/authorize');
    expect(first.location?.searchParams.get('client_id')).toBe(DEFAULT_BACKEND_ENV.GITHUB_CLIENT_ID);
    expect(first.location?.searchParams.get('redirect_uri')).toBe(`${backend.url}/auth/github/callback`);
    expect(first.location?.searchParams.get('scope')).toBe('read:user user:email');
    const s1 = first.location?.searchParams.get('state');
    const s2 = second.location?.searchParams.get('state');
    expect(s1).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(s2).not.toBe(s1);
    expect(backend.issuedStates).toEqual([s1, s2]);
  });

  it('redirects to Google with response_type=code', async () => {
    backend.setEnv({ GOOGLE_CLIENT_ID: 'g-1', GOOGLE_REDIRECT_URI: 'https://autostack.example/auth/google/callback' });
    const { status, location } = await authorizeUrl('google');
    expect(status).toBe(307);
    expect(location?.host).toBe('accounts.google.com');
    expect(location?.pathname).toBe('/o/oauth2/v2/auth');
    expect(Object.fromEntries(location?.searchParams ?? [])).toMatchObject({
      client_id: 'g-1',
      redirect_uri: 'https://autostack.example/auth/google/callback',
      response_type: 'code',
      scope: 'openid email profile',
    });
  });

  it('can use 302 redirects', async () => {
    const other = await FakeBackend.start({ redirectStatus: 302 });
    try {
      const res = await fetch(`${other.url}/auth/github`, { redirect: 'manual' });
      expect(res.status).toBe(302);
    } finally {
      await other.close();
    }
  });

  const failures: Array<[OAuthFailure, (r: { status: number; location: URL | undefined }) => void]> = [
    ['error-500', (r) => expect(r.status).toBe(500)],
    ['no-redirect', (r) => expect([r.status, r.location]).toEqual([200, undefined])],
    ['wrong-host', (r) => expect(r.location?.host).not.toBe('github.com')],
    ['missing-client-id', (r) => expect(r.location?.searchParams.has('client_id')).toBe(false)],
    ['wrong-redirect-uri', (r) => expect(r.location?.searchParams.get('redirect_uri')).toBe(WRONG_REDIRECT_URI)],
    ['missing-state', (r) => expect(r.location?.searchParams.has('state')).toBe(false)],
    ['constant-state', (r) => expect(r.location?.searchParams.get('state')).toBe(CONSTANT_STATE)],
  ];
  for (const [failure, check] of failures) {
    it(`failure mode ${failure}`, async () => {
      backend.setOAuthFailure('github', failure);
      check(await authorizeUrl('github'));
      if (failure === 'constant-state') {
        const again = await authorizeUrl('github');
        expect(again.location?.searchParams.get('state')).toBe(CONSTANT_STATE);
      }
      // The other provider is unaffected.
      const google = await authorizeUrl('google');
      expect(google.status).toBe(307);
      expect(google.location?.host).toBe('accounts.google.com');
    });
  }
});

describe('env from a Kubernetes Secret', () => {
  it('sees a rotated client id only once the backend deployment has restarted', async () => {
    const ns = await kubeNamespace();
    await ns.kube.core.createNamespacedSecret({ namespace: ns.name, body: { metadata: { name: 'backend-env' }, stringData: { GITHUB_CLIENT_ID: 'old-id', GOOGLE_CLIENT_ID: 'g-old' } } });
    await createDeployment(ns, { name: 'backend', image: 'autostack/backend:1' });
    backend.useEnvSource(podsSecretEnv(ns, { secret: 'backend-env', deployment: 'backend' }), { reload: 'request' });
    expect((await authorizeUrl('github')).location?.searchParams.get('client_id')).toBe('old-id');

    await ns.kube.core.patchNamespacedSecret(
      { name: 'backend-env', namespace: ns.name, body: { stringData: { GITHUB_CLIENT_ID: 'new-id' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    // Secret updated, pods not restarted: the running backend still has the old env.
    expect((await authorizeUrl('github')).location?.searchParams.get('client_id')).toBe('old-id');

    await ns.kube.apps.patchNamespacedDeployment(
      { name: 'backend', namespace: ns.name, body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2025-06-01T00:00:00Z' } } } } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    await waitForRollout(ns, 'backend');
    expect((await authorizeUrl('github')).location?.searchParams.get('client_id')).toBe('new-id');
    expect((await authorizeUrl('google')).location?.searchParams.get('client_id')).toBe('g-old');
  });

  it('with reload on restart, reads the source only when restarted', async () => {
    let current = { GITHUB_CLIENT_ID: 'a' };
    backend.useEnvSource(() => current);
    current = { GITHUB_CLIENT_ID: 'b' };
    expect((await authorizeUrl('github')).location?.searchParams.get('client_id')).toBe('a');
    backend.restart();
    expect(backend.restarts).toBe(1);
    expect((await authorizeUrl('github')).location?.searchParams.get('client_id')).toBe('b');
    expect(await backend.currentEnv()).toEqual({ GITHUB_CLIENT_ID: 'b' });
  });
});

describe('rollback API', () => {
  it('rejects missing and wrong tokens with 401', async () => {
    const missing = await rollback('dep-42', { body: JSON.stringify({ reason: 'x' }) });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ detail: 'Not authenticated' });
    const wrong = await rollback('dep-42', { token: 'nope', body: JSON.stringify({ reason: 'x' }) });
    expect(wrong.status).toBe(401);
    expect(backend.rollbacks).toHaveLength(0);
    expect(backend.getDeployment('dep-42')?.status).toBe('failed');
  });

  it('answers 404 for an unknown deployment and 400 without a reason', async () => {
    const unknown = await rollback('dep-404', { token: DEFAULT_API_TOKEN, body: JSON.stringify({ reason: 'x' }) });
    expect(unknown.status).toBe(404);
    const noBody = await rollback('dep-42', { token: DEFAULT_API_TOKEN });
    expect(noBody.status).toBe(400);
    const noReason = await rollback('dep-42', { token: DEFAULT_API_TOKEN, body: JSON.stringify({}) });
    expect(noReason.status).toBe(400);
    const notJson = await rollback('dep-42', { token: DEFAULT_API_TOKEN, body: 'reason=oops' });
    expect(notJson.status).toBe(400);
    expect(backend.rollbacks).toHaveLength(0);
  });

  it('rolls back with a valid token and reason, as the runbook curl sends it', async () => {
    // curl -d without -H Content-Type sends application/x-www-form-urlencoded; the JSON body is still read.
    const res = await rollback('dep-42', {
      token: DEFAULT_API_TOKEN,
      body: JSON.stringify({ reason: 'Deployment failed' }),
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 'dep-42', status: 'rolling_back', reason: 'Deployment failed' });
    expect(backend.rollbacks).toEqual([{ id: 'dep-42', reason: 'Deployment failed', token: DEFAULT_API_TOKEN }]);
    const read = await fetch(`${backend.url}/api/deployments/dep-42`, { headers: { authorization: `Bearer ${DEFAULT_API_TOKEN}` } });
    expect(await read.json()).toMatchObject({ id: 'dep-42', status: 'rolling_back' });
    const recorded = backend.requestsMatching('POST', /rollback$/).at(-1);
    expect(recorded?.headers.authorization).toBe(`Bearer ${DEFAULT_API_TOKEN}`);
    expect(recorded?.body).toEqual({ reason: 'Deployment failed' });
  });

  it('accepts a rotated token list', async () => {
    backend.setApiTokens(['t2']);
    expect((await rollback('dep-42', { token: DEFAULT_API_TOKEN, body: '{"reason":"r"}' })).status).toBe(401);
    expect((await rollback('dep-42', { token: 't2', body: '{"reason":"r"}' })).status).toBe(200);
  });

  it('injected failures answer the next matching requests', async () => {
    backend.failNext({ method: 'POST', path: /\/rollback$/, status: 502, body: { detail: 'upstream' }, times: 1 });
    const failed = await rollback('dep-42', { token: DEFAULT_API_TOKEN, body: '{"reason":"r"}' });
    expect(failed.status).toBe(502);
    expect(await failed.json()).toEqual({ detail: 'upstream' });
    const ok = await rollback('dep-42', { token: DEFAULT_API_TOKEN, body: '{"reason":"r"}' });
    expect(ok.status).toBe(200);
  });
});
