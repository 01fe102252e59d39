/**
 * The approved credential rotations (runbook "Credential Rotation"). The runtime inspects and
 * plans when asked, at the approval and right before `run` (for `rotate jwt --at`, when the
 * delayed job starts): a Secret changed in between stops the rotation and asks again.
 *
 * OAuth: write the new client ID and secret into the backend's Secret (the current ones kept as
 * PREVIOUS_<KEY>), rollout restart and wait, check the OAuth redirect; on failure put the previous
 * values back and restart again. The values submitted through the one-time form are deleted when
 * the job ends, whatever the outcome.
 * JWT: generate JWT_SECRET and SECRET_KEY (32 secure random bytes each, URL-safe), write, restart,
 * check /health, roll back on failure. The new values exist only in this process's memory and in
 * the Secret.
 */
import type { KubeClients, Operation } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import type { Part, Reply } from '../../src/core/result.ts';
import { reply } from '../../src/core/result.ts';
import { applySecretChange, targets } from './apply.ts';
import { JWT_KEYS, checkAt, describeJwt, generateSecret, healthVerification, jwtPlan } from './jwt.ts';
import type { JwtParams } from './jwt.ts';
import { PROVIDER_CONSOLE, PROVIDER_LABEL, describeOAuth, inspectOAuth, loadNewValues, methodOf, oauthPlan, oauthVerification } from './oauth.ts';
import type { OAuthApplyParams, OAuthInspection } from './oauth.ts';
import { RotationRecords } from './records.ts';
import { OAUTH_KEYS, fingerprint, patchSecretKeys, readSecret, readSecretIfExists } from './secret.ts';
import { deleteFormValues } from './staged.ts';
import type { Text } from '../../src/core/text.ts';
import { channelRef, joinText, md, plainText } from '../../src/core/text.ts';

export const REVOKED_ACTION = 'rotate.revoked';

/** The button's value: provider and the rotation's time (ms), e.g. "github:1717000000000". */
export function revokedValue(provider: OAuthApplyParams['provider'], rotatedAt: Date): string {
  return `${provider}:${rotatedAt.getTime()}`;
}

export const oauthOperation: Operation<OAuthApplyParams, OAuthInspection> = {
  title: (params) => `${PROVIDER_LABEL[params.provider]} OAuth credential rotation`,
  onFailureNextStep: 'Check the backend with `/autostack oauth check` and its logs (`/autostack logs backend`); the message above says which values the backend has now.',
  inspect: (params, ctx) => inspectOAuth({ kube: ctx.clients.kube, redis: ctx.clients.redis, config: ctx.config }, params, ctx.actor.id),
  plan: (params, seen, config) => oauthPlan(params, seen, config),
  started: (params, ref) =>
    reply(ref.existing ? `The ${PROVIDER_LABEL[params.provider]} rotation is already running.` : `Rotating the ${PROVIDER_LABEL[params.provider]} OAuth credentials; progress and the OAuth check are in the job's thread.`),

  async run(params, _seen, run): Promise<Reply> {
    const { provider } = params;
    const label = PROVIDER_LABEL[provider];
    const keys = OAUTH_KEYS[provider];
    const { namespace } = targets(run.config);
    const deps = { kube: run.clients.kube, redis: run.clients.redis, config: run.config, secrets: run.secrets };
    try {
      const next = await loadNewValues(deps, params, run.requestedBy);
      const kube = run.clients.kube();
      const values = new Map([
        [keys.id, next.clientId],
        [keys.secret, next.clientSecret],
      ]);
      const outcome = await applySecretChange(
        { kube, config: run.config, clock: run.clients.clock, signal: run.signal, step: (text) => run.step(text) },
        {
          what: `${label} OAuth credentials`,
          values,
          keepPrevious: true,
          describe: (v) => describeOAuth(provider, v),
          verify: (expected) => oauthVerification(run.clients.http, run.config, provider, expected.get(keys.id), run.signal),
        },
      );
      const rotatedAt = run.clients.clock.now();
      const oldClientId = outcome.previous.get(keys.id);
      await RotationRecords.of(run.clients.redis, run.config).record(provider, rotatedAt, run.requestedBy, methodOf(params), oldClientId);
      await run.audit.record({
        actor: run.requestedBy,
        action: `rotate ${provider}`,
        result: 'rotated',
        channel: run.channel,
        detail: `${describeOAuth(provider, outcome.previous)} → client ID ${next.clientId}, secret ${fingerprint(next.clientSecret)}; OAuth check passed`,
      });

      const parts: Part[] = [
        { kind: 'text', text: `:white_check_mark: The backend runs with the new ${label} OAuth credentials: client ID ${next.clientId}, secret ${fingerprint(next.clientSecret)}.` },
        { kind: 'text', text: outcome.verification.lines.join('\n') },
        { kind: 'context', text: `The previous values are kept as PREVIOUS_${keys.id} and PREVIOUS_${keys.secret} in Secret ${namespace}/${run.config.backend.secret}. Next rotation due in ${run.config.rotation[provider]} days.` },
      ];
      if (params.source === 'staged') {
        const cleanup = await removeStaged(run.clients.kube, run.config.kubernetes.namespace, run.config.backend.stagedSecret, values);
        parts.push({ kind: 'context', text: cleanup });
      }

      parts.push(
        { kind: 'text', text: `*Remaining manual step* (runbook step 5): revoke the old ${label} credentials${oldClientId ? ` (client ID ${oldClientId})` : ''} at ${PROVIDER_CONSOLE[provider]}, then record it here.` },
        {
          kind: 'buttons',
          buttons: [
            {
              label: 'Old credentials revoked',
              action: REVOKED_ACTION,
              value: revokedValue(provider, rotatedAt),
              style: 'primary',
              confirm: { title: 'Revoked at the provider?', text: `Only confirm once the old ${label} credentials${oldClientId ? ` (client ID ${oldClientId})` : ''} are revoked or deleted at the provider.`, confirm: 'Yes, revoked', deny: 'Not yet' },
            },
          ],
        },
      );
      return { summary: `${label} OAuth credentials rotated: client ID ${next.clientId} is live and the OAuth check passed. Revoke the old ones at the provider.`, parts, visibility: 'channel' };
    } finally {
      if (params.source === 'form' && params.formId) await deleteFormValues(run.clients.redis, run.config.redis.prefix, params.formId);
    }
  },
};

/** Removes the rotated keys from the staged Secret, if they still hold what was used. */
async function removeStaged(kube: () => KubeClients, namespace: string, name: string, used: Map<string, string>): Promise<string> {
  try {
    const staged = await readSecretIfExists(kube(), namespace, name);
    if (!staged) return `Secret ${namespace}/${name} is gone already.`;
    if (![...used].every(([key, value]) => staged.values.get(key) === value)) {
      return `Secret ${namespace}/${name} changed since it was read, so its values were left there: remove ${[...used.keys()].join(' and ')} by hand.`;
    }
    await patchSecretKeys(kube(), namespace, name, new Map([...used.keys()].map((key) => [key, undefined])), staged.resourceVersion);
    return `Removed ${[...used.keys()].join(' and ')} from Secret ${namespace}/${name}.`;
  } catch (error) {
    return `Could not remove ${[...used.keys()].join(' and ')} from Secret ${namespace}/${name} (${(error as Error).message}): remove them by hand.`;
  }
}

export const jwtOperation: Operation<JwtParams, { current: string }> = {
  title: (params) => `JWT secret rotation (ends every session)${params.at ? ` at ${params.at.replace('.000Z', 'Z')}` : ''}`,
  onFailureNextStep: 'Check the backend (`/autostack logs backend`); the message above says which values the backend has now.',
  /** The backend's current values (fingerprints): a rotation done by hand before the job starts changes the plan. */
  async inspect(params, ctx) {
    // A delayed job starts at --at itself; the time is checked when asked and approved.
    if (ctx.stage !== 'start') checkAt(params, ctx.clients.clock.now());
    const { namespace, secret } = targets(ctx.config);
    return { current: describeJwt((await readSecret(ctx.clients.kube(), namespace, secret)).values) };
  },
  plan: (params, seen, config) => jwtPlan(config, params, seen.current),
  startAt: (params) => params.at,
  /** Tells users first (when asked to); a notice that cannot be posted stops the rotation. */
  async beforeStart(params, ctx) {
    checkAt(params, ctx.clients.clock.now());
    if (!params.notify) return;
    const when = params.at ? `at ${params.at.replace('.000Z', 'Z')} (UTC)` : 'in a few minutes';
    try {
      await ctx.clients.notify.post(
        params.notify,
        `:warning: *Heads-up:* the AutoStack session secrets will be rotated ${when}. Everyone will be signed out and must sign in again; save your work before then.`,
      );
    } catch (error) {
      throw new UserFacingError(md`Could not post the notice in ${channelRef(params.notify)} (${(error as Error).message}); nothing was scheduled. Invite the bot there or pick another channel, and request the rotation again.`);
    }
  },
  started(params, ref) {
    if (ref.existing) return reply('This JWT rotation is already scheduled or running.');
    const notice = params.notify ? md` Users were told in ${channelRef(params.notify)}.` : '';
    return reply(params.at ? joinText([`JWT rotation scheduled for ${params.at.replace('.000Z', 'Z')} (UTC).`, notice, ' Cancel it with `/autostack jobs` before then if needed.']) : joinText(['Rotating JWT_SECRET and SECRET_KEY now.', notice]), [], 'channel');
  },
  async run(params, _seen, run): Promise<Reply> {
    const { namespace, secret } = targets(run.config);
    const values = new Map<string, string>(JWT_KEYS.map((key) => [key, generateSecret()]));
    const outcome = await applySecretChange(
      { kube: run.clients.kube(), config: run.config, clock: run.clients.clock, signal: run.signal, step: (text) => run.step(text) },
      {
        what: 'JWT_SECRET and SECRET_KEY',
        values,
        keepPrevious: false,
        describe: describeJwt,
        verify: () => healthVerification(run.clients.http, run.config, run.signal),
      },
    );
    const now = run.clients.clock.now();
    await RotationRecords.of(run.clients.redis, run.config).record('jwt', now, run.requestedBy, 'generated');
    await run.audit.record({ actor: run.requestedBy, action: 'rotate jwt', result: 'rotated', channel: run.channel, detail: `${describeJwt(outcome.previous)} → ${describeJwt(values)}; health check passed` });
    let notified: Text = '';
    if (params.notify) {
      const channel = params.notify;
      notified = await run.clients.notify.post(channel, ':key: The AutoStack session secrets were rotated: everyone has been signed out. Please sign in again.').then(
        () => md` Users were told in ${channelRef(channel)}.`,
        (error: Error) => md` Telling ${channelRef(channel)} failed (${error.message}).`,
      );
    }
    return {
      summary: `JWT_SECRET and SECRET_KEY rotated; the backend is healthy. Every session has ended.${plainText(notified)}`,
      parts: [
        { kind: 'text', text: `:white_check_mark: New JWT_SECRET and SECRET_KEY are in Secret ${namespace}/${secret} (${describeJwt(values)}) and the backend runs with them.` },
        { kind: 'text', text: outcome.verification.lines.join('\n') },
        { kind: 'context', text: joinText(['Every existing session and token is invalid now.', notified, ` Next rotation due in ${run.config.rotation.jwt} days.`]) },
      ],
      visibility: 'channel',
    };
  },
};
