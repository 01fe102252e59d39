/**
 * `rotate github|google apply`: what the approval shows (client ID, and only a fingerprint of the
 * secret), loading the new values for the job, and the OAuth check after the restart (the
 * runbook's `curl /auth/<provider>`, done by `oauth check`'s code with the new client ID).
 */
import type { Redis } from 'ioredis';
import type { Config } from '../../src/config.ts';
import type { KubeClients, Plan, SecretBox } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { PROVIDER_INFO, checkProvider } from '../shared/oauth-check.ts';
import type { Check } from '../shared/oauth-check.ts';
import type { Verification } from './apply.ts';
import { targets } from './apply.ts';
import type { OAuthProvider, RotationMethod } from './records.ts';
import { OAUTH_KEYS, PREVIOUS_PREFIX, fingerprint, readSecret } from './secret.ts';
import { formValuesFor, stagedValues } from './staged.ts';

export interface OAuthApplyParams {
  provider: OAuthProvider;
  source: 'form' | 'staged';
  /** With source 'form': the id the form gave. */
  formId?: string;
}

export const PROVIDER_LABEL: Record<OAuthProvider, string> = { github: 'GitHub', google: 'Google' };

export const PROVIDER_CONSOLE: Record<OAuthProvider, string> = {
  github: 'https://github.com/settings/developers',
  google: 'https://console.cloud.google.com/apis/credentials',
};

export function methodOf(params: OAuthApplyParams): RotationMethod {
  return params.source === 'form' ? 'form' : 'staged-secret';
}

export interface PlanDeps {
  kube: () => KubeClients;
  redis: Redis;
  config: Config;
}

/** The new values as a plan may show them: client ID and fingerprint. */
async function newValuesSummary(deps: PlanDeps, params: OAuthApplyParams, requester: string): Promise<{ clientId: string; fingerprint: string; from: string }> {
  if (params.source === 'form') {
    const values = await formValuesFor(deps.redis, deps.config.redis.prefix, params.provider, params.formId ?? '', requester);
    return { clientId: values.clientId, fingerprint: values.fingerprint, from: `the one-time form (form ${values.id}, submitted by <@${values.user}>)` };
  }
  const staged = await stagedValues(deps.kube(), deps.config, params.provider);
  return { clientId: staged.clientId, fingerprint: fingerprint(staged.clientSecret), from: `Secret ${deps.config.kubernetes.namespace}/${deps.config.backend.stagedSecret}` };
}

export function describeOAuth(provider: OAuthProvider, values: Map<string, string | undefined>): string {
  const keys = OAUTH_KEYS[provider];
  const id = values.get(keys.id);
  const secret = values.get(keys.secret);
  return `client ID ${id ?? '(none)'}, secret ${secret === undefined ? '(none)' : fingerprint(secret)}`;
}

/** The plan the approver sees. */
export interface OAuthInspection {
  next: { clientId: string; fingerprint: string; from: string };
  currentId?: string;
  /** Fingerprint of the backend's current secret (never the value). */
  currentSecret?: string;
}

/** Reads the new values (client ID and fingerprint) and what the backend has now. */
export async function inspectOAuth(deps: PlanDeps, params: OAuthApplyParams, requester: string): Promise<OAuthInspection> {
  const keys = OAUTH_KEYS[params.provider];
  const { namespace, secret } = targets(deps.config);
  const next = await newValuesSummary(deps, params, requester);
  const live = await readSecret(deps.kube(), namespace, secret);
  const currentSecret = live.values.get(keys.secret);
  return { next, currentId: live.values.get(keys.id), currentSecret: currentSecret === undefined ? undefined : fingerprint(currentSecret) };
}

export function oauthPlan(params: OAuthApplyParams, seen: OAuthInspection, config: Config): Plan {
  const deps = { config };
  const { provider } = params;
  const label = PROVIDER_LABEL[provider];
  const keys = OAUTH_KEYS[provider];
  const { namespace, secret, deployment, timeout } = targets(config);
  const { next, currentId, currentSecret } = seen;
  if (currentId === next.clientId && currentSecret === next.fingerprint) {
    throw new UserFacingError(`The backend already uses these ${label} credentials (client ID ${next.clientId}, secret ${next.fingerprint}): nothing to rotate.`);
  }
  const callback = deps.config.oauth[provider].callbackUrl;
  const authorize = PROVIDER_INFO[provider].authorize[0];
  const url = `${deps.config.backend.url.replace(/\/+$/, '')}/auth/${provider}`;
  const current = `client ID ${currentId ?? '(none)'}, secret ${currentSecret ?? '(none)'}`;
  const steps = [
    `Write ${keys.id}=${next.clientId} and ${keys.secret} (secret ${next.fingerprint}) from ${next.from} into Secret ${namespace}/${secret}; keep the current ones (${current}) as ${PREVIOUS_PREFIX}${keys.id} and ${PREVIOUS_PREFIX}${keys.secret}`,
    `Rollout restart Deployment ${namespace}/${deployment} and wait until complete (at most ${timeout})`,
    `GET ${url} without following redirects: expect a redirect to ${authorize} with client_id=${next.clientId}, a state and ${callback ? `redirect_uri=${callback}` : 'a redirect_uri'}`,
    `If the restart or the check fails: put the previous values back, restart again and wait`,
    params.source === 'form' ? `Delete the submitted values (form ${params.formId})` : `Once it works: remove ${keys.id} and ${keys.secret} from Secret ${namespace}/${deps.config.backend.stagedSecret}`,
    `Then by hand: revoke the old credentials${currentId ? ` (client ID ${currentId})` : ''} at ${PROVIDER_CONSOLE[provider]}, and record it with the button`,
  ];
  const resources = [`Secret ${namespace}/${secret}`, `Deployment ${namespace}/${deployment}`];
  if (params.source === 'staged') resources.push(`Secret ${namespace}/${deps.config.backend.stagedSecret}`);
  const warnings = [`${label} sign-ins that start during the restart may have to be retried.`];
  if (!callback) warnings.push(`oauth.${provider}.callbackUrl is not configured: the redirect_uri is not compared with the expected callback URL.`);
  return { title: `Rotate the ${label} OAuth credentials of the backend: client ID ${currentId ?? '(none)'} → ${next.clientId}, secret ${next.fingerprint}`, steps, resources, warnings };
}

/** The new values for the job (the secret opened in memory), checked against what was approved. */
export async function loadNewValues(
  deps: PlanDeps & { secrets: SecretBox },
  params: OAuthApplyParams,
  requester: string,
): Promise<{ clientId: string; clientSecret: string }> {
  if (params.source === 'form') {
    const values = await formValuesFor(deps.redis, deps.config.redis.prefix, params.provider, params.formId ?? '', requester);
    const clientSecret = deps.secrets.open(values.sealedSecret);
    if (fingerprint(clientSecret) !== values.fingerprint) throw new UserFacingError(`The submitted values of form ${values.id} do not match their fingerprint; nothing was changed. Submit them again.`);
    return { clientId: values.clientId, clientSecret };
  }
  return stagedValues(deps.kube(), deps.config, params.provider);
}

/** Checks whose failure means the backend does not work with the new credentials. */
const REQUIRED: ReadonlySet<Check['id']> = new Set(['redirect', 'authorize', 'client_id', 'redirect_uri', 'state']);
const MARK = { pass: '✓', fail: '✗', skip: '–' } as const;

export async function oauthVerification(http: typeof fetch, config: Config, provider: OAuthProvider, clientId: string | undefined, signal: AbortSignal): Promise<Verification> {
  // The check compares client_id with the configured one: here, the new one.
  const expecting: Config = { ...config, oauth: { ...config.oauth, [provider]: { ...config.oauth[provider], clientId } } };
  const report = await checkProvider(http, expecting, provider, signal);
  const lines = report.checks.map((c) => `${MARK[c.status]} ${c.text}`);
  const failed = report.checks.filter((c) => c.status === 'fail' && REQUIRED.has(c.id));
  const notChecked = report.checks.filter((c) => c.status === 'skip' && (c.id === 'client_id' || c.id === 'state'));
  if (failed.length || notChecked.length) {
    return { ok: false, lines, summary: `The OAuth check of ${report.url} failed: ${[...failed, ...notChecked].map((c) => c.text).join('; ')}` };
  }
  return { ok: true, lines, summary: `OAuth check passed: ${report.url} redirects to ${PROVIDER_LABEL[provider]} with client_id ${clientId ?? '(any)'}, a state and the expected redirect_uri` };
}
