/**
 * Runbook "Rotate GitHub/Google OAuth Secrets", steps 2-5, after a lead's approval: write the new
 * client ID and secret into the backend's Secret (the current ones kept as PREVIOUS_<KEY> in the
 * same Secret), rollout restart the backend and wait, check the OAuth redirect; on failure put the
 * previous values back and restart again. On success the rotation is recorded and the manual step
 * (revoke the old credentials at the provider) is posted with a button that records it.
 * The values submitted through the one-time form are deleted when the job ends, whatever the outcome.
 */
import type { JobDefinition, KubeClients } from '../src/core/types.ts';
import type { Part, Reply } from '../src/core/result.ts';
import { applySecretChange, targets } from '../commands/rotate/apply.ts';
import { PROVIDER_CONSOLE, PROVIDER_LABEL, describeOAuth, loadNewValues, methodOf, oauthPlan, oauthVerification } from '../commands/rotate/oauth.ts';
import type { OAuthApplyParams } from '../commands/rotate/oauth.ts';
import { RotationRecords } from '../commands/rotate/records.ts';
import { OAUTH_KEYS, fingerprint, patchSecretKeys, readSecretIfExists } from '../commands/rotate/secret.ts';
import { deleteFormValues } from '../commands/rotate/staged.ts';

export const ROTATE_OAUTH_JOB = 'rotate-oauth';
export const REVOKED_ACTION = 'rotate.revoked';

export type RotateOAuthData = OAuthApplyParams;

/** The button's value: provider and the rotation's time (ms), e.g. "github:1717000000000". */
export function revokedValue(provider: OAuthApplyParams['provider'], rotatedAt: Date): string {
  return `${provider}:${rotatedAt.getTime()}`;
}

export const rotateOAuthJob: JobDefinition<RotateOAuthData> = {
  name: ROTATE_OAUTH_JOB,
  title: (data) => `${PROVIDER_LABEL[data.provider]} OAuth credential rotation`,
  onFailureNextStep: 'Check the backend with `/autostack oauth check` and its logs (`/autostack logs backend`); the message above says which values the backend has now.',
  replan: (data, run) => oauthPlan({ kube: run.clients.kube, redis: run.clients.redis, config: run.config }, data, run.requestedBy),

  async process(run): Promise<Reply> {
    const { provider } = run.data;
    const label = PROVIDER_LABEL[provider];
    const keys = OAUTH_KEYS[provider];
    const { namespace } = targets(run.config);
    const deps = { kube: run.clients.kube, redis: run.clients.redis, config: run.config, secrets: run.secrets };
    try {
      const next = await loadNewValues(deps, run.data, run.requestedBy);
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
      await RotationRecords.of(run.clients.redis, run.config).record(provider, rotatedAt, run.requestedBy, methodOf(run.data), oldClientId);
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
      if (run.data.source === 'staged') {
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
      if (run.data.source === 'form' && run.data.formId) await deleteFormValues(run.clients.redis, run.config.redis.prefix, run.data.formId);
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
