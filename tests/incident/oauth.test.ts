import { replyToText } from '../../src/render/text.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Check, Provider } from '../../commands/shared/oauth-check.ts';
import { checkProvider, oauthReply, oauthStateErrors } from '../../commands/shared/oauth-check.ts';
import { oauthCheckVerb } from '../../commands/incident/verbs.ts';
import { FakeBackend, WRONG_REDIRECT_URI } from '../harness/fake-backend.ts';
import { testContext } from '../harness/context.ts';
import type { TestContext } from '../harness/context.ts';
import { createDeployment, deploymentPods, setPodLogs } from '../harness/kube-env.ts';
import type { TestNamespace } from '../harness/kube-env.ts';
import { namespaceContext } from './kube-helpers.ts';

let backend: FakeBackend;

beforeAll(async () => {
  backend = await FakeBackend.start();
});
afterAll(async () => {
  await backend.close();
});

const GITHUB_ID = 'gh-client-id-initial';
const GOOGLE_ID = 'google-client-id-initial.apps.googleusercontent.com';

function setup(options: { http?: typeof fetch; oauth?: Record<string, unknown> } = {}): Promise<{ ns: TestNamespace; ctx: TestContext }> {
  return namespaceContext({
    http: options.http,
    role: 'viewer',
    config: {
      backend: { url: backend.url },
      oauth: options.oauth ?? {
        github: { clientId: GITHUB_ID, callbackUrl: `${backend.url}/auth/github/callback` },
        google: { clientId: GOOGLE_ID, callbackUrl: `${backend.url}/auth/google/callback` },
      },
    },
  });
}

function statuses(checks: Check[]): Record<string, string> {
  return Object.fromEntries(checks.map((c) => [c.id, c.status]));
}

const ALL_PASS = { redirect: 'pass', authorize: 'pass', client_id: 'pass', redirect_uri: 'pass', state: 'pass', state_length: 'pass', state_random: 'pass' };

/** Rewrites the state in the backend's redirect (the fake has no mode for these two cases). */
function rewriteState(make: (n: number) => string): typeof fetch {
  let n = 0;
  return async (input, init) => {
    const response = await fetch(input, init);
    const location = response.headers.get('location');
    if (!location) return response;
    const url = new URL(location);
    url.searchParams.set('state', make(n++));
    return new Response(null, { status: response.status, headers: { location: url.toString() } });
  };
}

async function check(ctx: TestContext, provider: Provider) {
  return checkProvider(ctx.clients.http, ctx.config, provider);
}

describe('oauth check', () => {
  it('passes every check for a correctly configured backend (both providers)', async () => {
    const { ctx } = await setup();
    for (const provider of ['github', 'google'] as const) {
      backend.setOAuthFailure(provider, 'none');
      expect(statuses((await check(ctx, provider)).checks)).toEqual(ALL_PASS);
    }
    const reply = await oauthCheckVerb.execute!(oauthCheckVerb.parse({ positional: [], flags: {} }, ctx), ctx);
    expect(reply.summary).toBe('OAuth check for GitHub and Google: all checks passed');
    expect(JSON.stringify(reply.parts)).not.toContain('✗');
  });

  it.each([
    ['error-500', 'redirect', /answered 500, not a redirect to GitHub/],
    ['no-redirect', 'redirect', /answered 200, not a redirect to GitHub/],
    ['wrong-host', 'authorize', /not the GitHub authorize endpoint https:\/\/github\.com\/login\/oauth\/authorize/],
    ['missing-client-id', 'client_id', /client_id is missing/],
    ['wrong-redirect-uri', 'redirect_uri', new RegExp(`redirect_uri is ${WRONG_REDIRECT_URI.replace(/[.]/g, '\\.')} but the callback URL must be`)],
    ['missing-state', 'state', /no state parameter/],
  ] as const)('fails only the %s check and says what to fix', async (failure, failing, message) => {
    const { ctx } = await setup();
    backend.setOAuthFailure('github', failure);
    try {
      const { checks } = await check(ctx, 'github');
      const failed = checks.filter((c) => c.status === 'fail');
      expect(failed.map((c) => c.id)).toEqual([failing]);
      expect(failed[0]!.text).toMatch(message);
      expect(failed[0]!.fix).toBeTruthy();
      // Later checks that depend on a missing redirect or state are skipped, never passed.
      for (const c of checks) if (c.id !== failing && c.status !== 'pass') expect(c.status).toBe('skip');
    } finally {
      backend.setOAuthFailure('github', 'none');
    }
  });

  it('says where to fix a wrong callback URL, per provider', async () => {
    const { ctx } = await setup();
    backend.setOAuthFailure('google', 'wrong-redirect-uri');
    try {
      const google = (await check(ctx, 'google')).checks.find((c) => c.id === 'redirect_uri')!;
      expect(google.fix).toContain('https://console.cloud.google.com/apis/credentials');
      expect(google.fix).toContain(`must be ${backend.url}/auth/google/callback`);
    } finally {
      backend.setOAuthFailure('google', 'none');
    }
    backend.setOAuthFailure('github', 'wrong-redirect-uri');
    try {
      const github = (await check(ctx, 'github')).checks.find((c) => c.id === 'redirect_uri')!;
      expect(github.fix).toContain(`the callback URL in the GitHub OAuth app settings (https://github.com/settings/developers) must be ${backend.url}/auth/github/callback`);
    } finally {
      backend.setOAuthFailure('github', 'none');
    }
  });

  it('fails client_id alone when the backend runs with another OAuth app than configured', async () => {
    const { ctx } = await setup({ oauth: { github: { clientId: 'gh-client-id-rotated', callbackUrl: `${backend.url}/auth/github/callback` } } });
    const { checks } = await check(ctx, 'github');
    expect(statuses(checks)).toEqual({ ...ALL_PASS, client_id: 'fail' });
    const failing = checks.find((c) => c.id === 'client_id')!;
    expect(failing.text).toBe(`client_id is ${GITHUB_ID} but the configured one is gh-client-id-rotated`);
    expect(failing.fix).toContain('GITHUB_CLIENT_ID=gh-client-id-rotated');
    expect(failing.fix).toContain('backend-env');
  });

  it('fails the length check alone for a short random state, and says why', async () => {
    const { ctx } = await setup({ http: rewriteState((n) => `s${n}x${Math.random().toString(36).slice(2, 8)}`) });
    const { checks } = await checkProvider(ctx.clients.http, ctx.config, 'github');
    expect(statuses(checks)).toEqual({ ...ALL_PASS, state_length: 'fail' });
    expect(checks.find((c) => c.id === 'state_length')!.fix).toContain('can be guessed');
  });

  it('fails the randomness check alone for a long state that repeats', async () => {
    const { ctx } = await setup({ http: rewriteState(() => 'the-same-long-state-every-time-0123456789') });
    const { checks } = await checkProvider(ctx.clients.http, ctx.config, 'github');
    expect(statuses(checks)).toEqual({ ...ALL_PASS, state_random: 'fail' });
    expect(checks.find((c) => c.id === 'state_random')!.text).toBe('state is the same in two requests');
  });

  it("fails both state checks for the fake backend's constant state", async () => {
    const { ctx } = await setup();
    backend.setOAuthFailure('github', 'constant-state');
    try {
      const { checks } = await check(ctx, 'github');
      expect(statuses(checks)).toEqual({ ...ALL_PASS, state_length: 'fail', state_random: 'fail' });
    } finally {
      backend.setOAuthFailure('github', 'none');
    }
  });

  it('skips the comparisons the bot has no configuration for, without failing them', async () => {
    const { ctx } = await setup({ oauth: {} });
    const { checks } = await check(ctx, 'google');
    expect(statuses(checks)).toEqual({ ...ALL_PASS, client_id: 'skip', redirect_uri: 'skip' });
  });

  it('reports an unreachable backend', async () => {
    const ctx = testContext({ config: { backend: { url: 'http://127.0.0.1:9' } } });
    const { checks } = await checkProvider(ctx.clients.http, ctx.config, 'github');
    expect(checks[0]).toMatchObject({ id: 'redirect', status: 'fail' });
    expect(checks[0]!.text).toContain('no answer');
    expect(checks.slice(1).every((c) => c.status === 'skip')).toBe(true);
  });

  it('counts oauth_state lines in the last hour of the backend logs and shows the last ones redacted', async () => {
    const { ns, ctx } = await setup();
    const now = Date.now();
    await createDeployment(ns, { name: 'backend', image: 'backend:1', replicas: 2, startedAt: new Date(now - 86_400_000) });
    const pods = (await deploymentPods(ns, 'backend')).map((p) => p.metadata!.name!);
    await setPodLogs(ns, pods[0]!, {
      backend: {
        lines: [
          { text: 'oauth_state mismatch for session token=abc123', time: new Date(now - 3 * 3600_000) },
          { text: 'GET /health 200', time: new Date(now - 60_000) },
          { text: 'ERROR oauth_state expired', time: new Date(now - 50_000) },
        ],
      },
    });
    await setPodLogs(ns, pods[1]!, { backend: { lines: [{ text: 'WARNING invalid OAUTH_STATE from 10.0.0.9 cookie=sess-secret', time: new Date(now - 40_000) }] } });
    const logs = await oauthStateErrors(() => ctx.clients.kube(), ctx.config, new Date());
    expect(logs).toMatchObject({ checked: true, count: 2, window: { complete: true } });
    expect(logs.last).toEqual([`[${pods[0]}] ERROR oauth_state expired`, `[${pods[1]}] WARNING invalid OAUTH_STATE from 10.0.0.9 cookie=[REDACTED]`]);
    const reply = await oauthCheckVerb.execute!({ providers: ['github'] }, ctx);
    expect(JSON.stringify(reply.parts)).toContain('✗ 2 lines mention oauth_state in the backend logs of the last hour');
    expect(JSON.stringify(reply)).not.toContain('sess-secret');
  });

  it('over pods younger than the hour: states how far the logs reach and makes no "none" claim for the hour', async () => {
    const { ns, ctx } = await setup();
    await createDeployment(ns, { name: 'backend', image: 'backend:1', replicas: 2, startedAt: new Date(Date.now() - 2 * 60_000) });
    for (const pod of await deploymentPods(ns, 'backend')) await setPodLogs(ns, pod.metadata!.name!, { backend: { lines: ['GET /health 200'] } });
    const reply = await oauthCheckVerb.execute!({ providers: ['github'] }, ctx);
    const text = replyToText(reply);
    expect(text).not.toContain('no oauth_state lines in the backend logs of the last hour');
    expect(text).toMatch(/– no oauth_state lines in the backend logs since \d\d:\d\d UTC \(as far as they reach\)/);
    expect(text).toMatch(/The backend logs reach back only to \d\d:\d\d UTC \(2 min ago\) \(pods started then\), not to \d\d:\d\d UTC \(1 h ago\): nothing is known about earlier/);
  });

  it('renders one line per check with ✓/✗ and the fix under a failing one', () => {
    const reply = oauthReply(
      [
        {
          provider: 'github',
          url: 'http://backend/auth/github',
          checks: [
            { id: 'redirect', status: 'pass', text: 'GET http://backend/auth/github answered 307 (redirect)' },
            { id: 'client_id', status: 'fail', text: 'client_id is a but the configured one is b', fix: 'Set GITHUB_CLIENT_ID=b' },
          ],
        },
      ],
      { checked: true, count: 0, last: [] },
    );
    const lines = reply.parts.filter((p) => p.kind === 'text').map((p) => (p as { text: string }).text).join('\n');
    expect(lines).toContain('✓ GET http://backend/auth/github answered 307 (redirect)\n✗ client_id is a but the configured one is b\n      → Set GITHUB_CLIENT_ID=b');
    expect(reply.summary).toBe('OAuth check for GitHub: 1 check failed');
  });

  it('refuses an unknown provider', async () => {
    const { ctx } = await setup();
    expect(() => oauthCheckVerb.parse({ positional: ['gitlab'], flags: {} }, { config: ctx.config, actor: ctx.actor })).toThrow('unknown provider "gitlab": use github or google');
  });
});
