/**
 * The rotation jobs against the test control plane (the bot under its Role) and the fake backend: OAuth rotation from the
 * form's sealed values and from the staged Secret, the OAuth check failing and the rollback, a
 * rollout that never completes, and the JWT rotation.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { UserFacingError } from '../../src/core/types.ts';
import { rotateModule } from '../../commands/rotate/index.ts';
import { inspectOAuth, oauthPlan } from '../../commands/rotate/oauth.ts';
import type { OAuthApplyParams } from '../../commands/rotate/oauth.ts';
import { RotationRecords } from '../../commands/rotate/records.ts';
import { fingerprint } from '../../commands/rotate/secret.ts';
import { formKey, readFormValues, storeFormValues } from '../../commands/rotate/staged.ts';
import { rotateOAuthJob } from '../../jobs/rotate-oauth.ts';
import { REVOKED_ACTION } from '../../commands/rotate/operations.ts';
import { rotateJwtJob } from '../../jobs/rotate-jwt.ts';
import { DEFAULT_BACKEND_ENV, GITHUB_AUTHORIZE_URL, WRONG_REDIRECT_URI } from '../harness/fake-backend.ts';
import { planOf, runJob, testContext } from '../harness/context.ts';
import type { TestContext } from '../harness/context.ts';
import { uniqueName } from '../harness/env.ts';
import { NEW_GITHUB, NEW_GOOGLE, SECRET, STAGED, fastTiming, platform } from './helpers.ts';
import type { Platform } from './helpers.ts';

beforeAll(() => {
  fastTiming();
});

function contextFor(p: Platform, userId = 'U0OPERATOR'): TestContext {
  return testContext({ kube: p.kns.bot, config: { ...p.config, redis: { prefix: uniqueName('rot') } }, role: 'operator', userId });
}

async function submitted(ctx: TestContext, provider: 'github' | 'google', values: { id: string; secret: string }, user = ctx.actor.id): Promise<string> {
  const stored = await storeFormValues(ctx.clients.redis, ctx.config, ctx.secrets, { user, provider, channel: ctx.channel, clientId: values.id, clientSecret: values.secret }, new Date());
  return stored.id;
}

function verb(path: string) {
  return rotateModule.verbs.find((v) => v.path.join(' ') === path)!;
}

describe('GitHub rotation from the one-time form', () => {
  it('shows the client ID and a fingerprint, writes the Secret keeping the previous values, restarts, checks the redirect and records it', async () => {
    const p = await platform();
    const ctx = contextFor(p);
    expect(await p.liveClientId('github')).toBe(DEFAULT_BACKEND_ENV.GITHUB_CLIENT_ID);
    const formId = await submitted(ctx, 'github', NEW_GITHUB);
    // Only the sealed secret is in Redis.
    const stored = await ctx.clients.redis.hgetall(formKey(ctx.config.redis.prefix, formId));
    expect(JSON.stringify(stored)).not.toContain(NEW_GITHUB.secret);
    expect(stored.sealedSecret).toMatch(/^sealed:v1:/);

    const apply = verb('rotate github apply');
    const params = apply.parse({ positional: [], flags: { form: formId } }, ctx);
    const plan = await planOf(apply, params, ctx);
    const shown = JSON.stringify(plan);
    expect(shown).toContain(NEW_GITHUB.id);
    expect(shown).toContain(fingerprint(NEW_GITHUB.secret));
    expect(shown).not.toContain(NEW_GITHUB.secret);
    expect(shown).not.toContain(DEFAULT_BACKEND_ENV.GITHUB_CLIENT_SECRET!);
    expect(plan.title).toContain(`client ID ${DEFAULT_BACKEND_ENV.GITHUB_CLIENT_ID} → ${NEW_GITHUB.id}`);
    expect(plan.steps.join('\n')).toContain(`redirect_uri=${p.callback('github')}`);

    // What the job is queued with (its data in Redis) holds no secret.
    expect(JSON.stringify(params)).not.toContain(NEW_GITHUB.secret);
    const restartsBefore = (await p.replicaSets());

    const result = await runJob(rotateOAuthJob, params as never, ctx);
    const data = (await p.secretData())!;
    expect(data.GITHUB_CLIENT_ID).toBe(NEW_GITHUB.id);
    expect(data.GITHUB_CLIENT_SECRET).toBe(NEW_GITHUB.secret);
    expect(data.PREVIOUS_GITHUB_CLIENT_ID).toBe(DEFAULT_BACKEND_ENV.GITHUB_CLIENT_ID);
    expect(data.PREVIOUS_GITHUB_CLIENT_SECRET).toBe(DEFAULT_BACKEND_ENV.GITHUB_CLIENT_SECRET);
    // Google untouched.
    expect(data.GOOGLE_CLIENT_ID).toBe(DEFAULT_BACKEND_ENV.GOOGLE_CLIENT_ID);
    expect((await p.replicaSets())).toBe(restartsBefore + 1);
    expect(await p.liveClientId('github')).toBe(NEW_GITHUB.id);

    // The check ran against the restarted backend and passed.
    expect(result.steps.join('\n')).toMatch(new RegExp(`✓ redirects to the GitHub authorize endpoint ${GITHUB_AUTHORIZE_URL}`));
    expect(result.steps.join('\n')).toContain(`✓ client_id ${NEW_GITHUB.id} matches`);
    expect(result.steps.join('\n')).toContain(`✓ redirect_uri ${p.callback('github')} matches`);
    expect(result.steps.join('\n')).toContain('✓ state parameter present');
    expect(result.reply.summary).toMatch(/GitHub OAuth credentials rotated/);
    const button = result.reply.parts.flatMap((part) => (part.kind === 'buttons' ? part.buttons : [])).find((b) => b.action === REVOKED_ACTION);
    expect(button?.label).toBe('Old credentials revoked');
    expect(JSON.stringify(result)).not.toContain(NEW_GITHUB.secret);

    const record = await RotationRecords.of(ctx.clients.redis, ctx.config).get('github');
    expect(record).toMatchObject({ by: 'U0OPERATOR', method: 'form', oldClientId: DEFAULT_BACKEND_ENV.GITHUB_CLIENT_ID });
    // The sealed values are gone once the job ended.
    expect(await readFormValues(ctx.clients.redis, ctx.config.redis.prefix, formId)).toBeUndefined();
  });

  it('refuses values submitted through another user’s link, and values equal to the current ones', async () => {
    const p = await platform();
    const ctx = contextFor(p, 'U0OPERATOR');
    const theirs = await submitted(ctx, 'github', NEW_GITHUB, 'U0SOMEONE');
    const deps = { kube: ctx.clients.kube, redis: ctx.clients.redis, config: ctx.config };
    const planFor = async (params: OAuthApplyParams, requester: string) => oauthPlan(params, await inspectOAuth(deps, params, requester), ctx.config);
    await expect(planFor({ provider: 'github', source: 'form', formId: theirs }, 'U0OPERATOR')).rejects.toThrow(/given to another user: only @U0SOMEONE /);
    await expect(planFor({ provider: 'google', source: 'form', formId: theirs }, 'U0SOMEONE')).rejects.toThrow(/holds GitHub values/);
    const same = await submitted(ctx, 'github', { id: DEFAULT_BACKEND_ENV.GITHUB_CLIENT_ID!, secret: DEFAULT_BACKEND_ENV.GITHUB_CLIENT_SECRET! });
    await expect(planFor({ provider: 'github', source: 'form', formId: same }, 'U0OPERATOR')).rejects.toThrow(/already uses these GitHub credentials/);
    await expect(planFor({ provider: 'github', source: 'form', formId: 'abcdefabcdef' }, 'U0OPERATOR')).rejects.toThrow(/No submitted values under form id abcdefabcdef/);
  });
});

describe('Google rotation from the staged Secret', () => {
  it('takes the values from the staged Secret, checks the Google redirect, and removes them from the staged Secret', async () => {
    const p = await platform();
    const ctx = contextFor(p);
    const apply = verb('rotate google apply');
    const params = apply.parse({ positional: [], flags: { staged: true } }, ctx);
    await expect(planOf(apply, params, ctx)).rejects.toThrow(`There is no staged Secret ${p.ns}/${STAGED}`);
    await p.createSecret(STAGED, { GOOGLE_CLIENT_ID: NEW_GOOGLE.id });
    await expect(planOf(apply, params, ctx)).rejects.toThrow(/has no GOOGLE_CLIENT_SECRET/);
    await p.kns.kube.core.deleteNamespacedSecret({ name: STAGED, namespace: p.ns });
    await p.createSecret(STAGED, { GOOGLE_CLIENT_ID: NEW_GOOGLE.id, GOOGLE_CLIENT_SECRET: NEW_GOOGLE.secret, OTHER: 'kept' });
    const plan = await planOf(apply, params, ctx);
    expect(JSON.stringify(plan)).toContain(fingerprint(NEW_GOOGLE.secret));
    expect(JSON.stringify(plan)).not.toContain(NEW_GOOGLE.secret);
    expect(plan.resources).toContain(`Secret ${p.ns}/${STAGED}`);

    const result = await runJob(rotateOAuthJob, params as never, ctx);
    expect((await p.secretData())!.GOOGLE_CLIENT_ID).toBe(NEW_GOOGLE.id);
    expect((await p.secretData())!.PREVIOUS_GOOGLE_CLIENT_SECRET).toBe(DEFAULT_BACKEND_ENV.GOOGLE_CLIENT_SECRET);
    expect(await p.liveClientId('google')).toBe(NEW_GOOGLE.id);
    expect(result.steps.join('\n')).toContain(`✓ client_id ${NEW_GOOGLE.id} matches`);
    expect((await p.secretData(STAGED))).toEqual({ OTHER: 'kept' });
    expect(JSON.stringify(result.reply)).toContain(`Removed GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET from Secret ${p.ns}/${STAGED}`);
    expect((await RotationRecords.of(ctx.clients.redis, ctx.config).get('google'))?.method).toBe('staged-secret');
  });
});

describe('OAuth check failure', () => {
  it('puts the previous values back, restarts again and says exactly what state it left', async () => {
    // The backend misbehaves with the new credentials only (it sends a wrong callback with them).
    const p = await platform({
      around: (env) => (env?.GITHUB_CLIENT_ID === NEW_GITHUB.id ? { ...env, GITHUB_REDIRECT_URI: WRONG_REDIRECT_URI } : env),
    });
    const ctx = contextFor(p);
    const before = (await p.secretData())!;
    const formId = await submitted(ctx, 'github', NEW_GITHUB);
    const replicaSets = (await p.replicaSets());
    let error: unknown;
    try {
      await runJob(rotateOAuthJob, { provider: 'github', source: 'form', formId }, ctx);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserFacingError);
    const message = (error as Error).message;
    expect(message).toContain(`The OAuth check of ${p.backend.url}/auth/github failed: redirect_uri is ${WRONG_REDIRECT_URI}`);
    expect(message).toContain(`Rolled back: Secret ${p.ns}/${SECRET} has the previous GitHub OAuth credentials again (client ID ${DEFAULT_BACKEND_ENV.GITHUB_CLIENT_ID}, secret ${fingerprint(DEFAULT_BACKEND_ENV.GITHUB_CLIENT_SECRET!)})`);
    expect(message).toContain('restarted and is ready. With the previous values the check passes again. The new values were not kept.');
    expect(message).not.toContain(NEW_GITHUB.secret);
    // Exactly as before: no PREVIOUS_ keys left behind, two restarts (rotation and rollback).
    expect((await p.secretData())!).toEqual(before);
    expect((await p.replicaSets())).toBe(replicaSets + 2);
    expect(await p.liveClientId('github')).toBe(DEFAULT_BACKEND_ENV.GITHUB_CLIENT_ID);
    expect(await RotationRecords.of(ctx.clients.redis, ctx.config).get('github')).toBeUndefined();
    expect(await readFormValues(ctx.clients.redis, ctx.config.redis.prefix, formId)).toBeUndefined();
  });

  it('reports a rollback whose restart does not complete either', async () => {
    // Its pods crash-loop: no restart completes. (The test control plane's deployment controller
    // does not mark such a rollout ProgressDeadlineExceeded soon enough: the job's timeout ends it.)
    const p = await platform({ crashing: true });
    const ctx = testContext({ kube: p.kns.bot, config: { ...p.config, rollout: { timeout: '2s' }, redis: { prefix: uniqueName('rot') } }, role: 'operator', userId: 'U0OPERATOR' });
    const formId = await submitted(ctx, 'github', NEW_GITHUB);
    const before = (await p.secretData())!;
    const error = await runJob(rotateOAuthJob, { provider: 'github', source: 'form', formId }, ctx).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/^The backend did not become ready with the new values \(not ready after 2s: /);
    expect(error?.message).toContain(`Rolled back: Secret ${p.ns}/${SECRET} has the previous GitHub OAuth credentials again`);
    expect(error?.message).toMatch(/Deployment .*\/backend was restarted, but that rollout is not ready after 2s/);
    expect((await p.secretData())!).toEqual(before);
  });
});

describe('JWT rotation', () => {
  it('generates two URL-safe 32-byte secrets, writes them, restarts, checks /health and records it', async () => {
    const p = await platform();
    const ctx = contextFor(p);
    const jwt = verb('rotate jwt');
    const params = jwt.parse({ positional: [], flags: {} }, ctx);
    const plan = await planOf(jwt, params, ctx);
    expect(plan.warnings?.[0]).toMatch(/ends every session: all users are signed out.*Users must be told first \(no --notify channel was given\)/);
    const replicaSets = (await p.replicaSets());
    const result = await runJob(rotateJwtJob, params as never, ctx);
    const data = (await p.secretData())!;
    for (const key of ['JWT_SECRET', 'SECRET_KEY']) {
      expect(data[key]).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(data[key]!, 'base64url')).toHaveLength(32);
      expect(JSON.stringify(result)).not.toContain(data[key]);
    }
    expect(data.JWT_SECRET).not.toBe(data.SECRET_KEY);
    expect(data.JWT_SECRET).not.toBe(DEFAULT_BACKEND_ENV.JWT_SECRET);
    expect(data.PREVIOUS_JWT_SECRET).toBeUndefined();
    expect((await p.replicaSets())).toBe(replicaSets + 1);
    expect((await p.backend.currentEnv()).JWT_SECRET).toBe(data.JWT_SECRET);
    expect(result.steps.join('\n')).toContain(`✓ GET ${p.backend.url}/health answered 200 (status ok)`);
    expect((await RotationRecords.of(ctx.clients.redis, ctx.config).get('jwt'))?.method).toBe('generated');
  });

  it('puts the previous secrets back when the backend is unhealthy afterwards', async () => {
    const p = await platform();
    const ctx = contextFor(p);
    p.backend.setHealth('unhealthy');
    const before = (await p.secretData())!;
    await expect(runJob(rotateJwtJob, {}, ctx)).rejects.toThrow(
      new RegExp(`The health check failed: GET .*/health answered 503 \\(status unhealthy\\)\\. Rolled back: Secret ${p.ns}/${SECRET} has the previous JWT_SECRET and SECRET_KEY again .* With the previous values the check fails too`),
    );
    expect((await p.secretData())!).toEqual(before);
    expect(await RotationRecords.of(ctx.clients.redis, ctx.config).get('jwt')).toBeUndefined();
  });
});
