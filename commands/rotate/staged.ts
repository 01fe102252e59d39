/**
 * New OAuth values on their way to the backend, kept out of Slack:
 *
 * - One-time links: `rotate github` gives the requester a link with 32 random bytes; only the
 *   SHA-256 of the token is stored, with the user, provider, channel and expiry (10 minutes).
 *   The form's POST consumes it atomically (GETDEL): a link works once.
 * - Form values: what the form received, the client secret sealed with the configured key, under a
 *   short id bound to the user who got the link. `rotate github apply --form <id>` uses them; the
 *   job deletes them when it ends.
 * - The staged Secret (backend.stagedSecret): the alternative, read from Kubernetes.
 *
 * Redis, under redis.prefix:
 *   <prefix>:rotation:link:<sha256(token)>        JSON {user, provider, channel, expiresAt}, PX 10 min
 *   <prefix>:rotation:link-used:<sha256(token)>   JSON {at}, so a reused link is told so (1 h)
 *   <prefix>:rotation:form:<id>                   hash {user, provider, channel, clientId, sealedSecret, fingerprint, createdAt}
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../../src/config.ts';
import type { KubeClients, SecretBox } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import type { OAuthProvider } from './records.ts';
import { OAUTH_KEYS, clientIdProblem, clientSecretProblem, fingerprint, readSecretIfExists } from './secret.ts';
import { md, mention } from '../../src/core/text.ts';
import { durationMs } from '../../src/core/durations.ts';

export const LINK_TTL_MS = 10 * 60_000;
const USED_MARKER_TTL_MS = 60 * 60_000;

export interface LinkRecord {
  user: string;
  provider: OAuthProvider;
  channel: string;
  /** Epoch ms; checked against the bot's clock. */
  expiresAt: number;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

const linkKey = (prefix: string, token: string) => `${prefix}:rotation:link:${sha256(token)}`;
const usedKey = (prefix: string, token: string) => `${prefix}:rotation:link-used:${sha256(token)}`;
export const formKey = (prefix: string, id: string) => `${prefix}:rotation:form:${id}`;

/** A token as it appears in a link: 32 random bytes, base64url (43 characters). */
export function isLinkToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(token);
}

export function isFormId(id: string): boolean {
  return /^[a-f0-9]{12}$/.test(id);
}

export function formUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/rotate/form/${token}`;
}

export async function createLink(redis: Redis, prefix: string, record: Omit<LinkRecord, 'expiresAt'>, now: Date): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = now.getTime() + LINK_TTL_MS;
  await redis.set(linkKey(prefix, token), JSON.stringify({ ...record, expiresAt } satisfies LinkRecord), 'PX', LINK_TTL_MS);
  return { token, expiresAt: new Date(expiresAt) };
}

export type LinkState = { ok: true; link: LinkRecord } | { ok: false; why: 'used' | 'expired' | 'unknown' };

function parseLink(text: string | null): LinkRecord | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as LinkRecord;
  } catch {
    return undefined;
  }
}

/** Looks at a link without using it up (the form page; Slack's link preview fetches it too). */
export async function peekLink(redis: Redis, prefix: string, token: string, now: Date): Promise<LinkState> {
  if (!isLinkToken(token)) return { ok: false, why: 'unknown' };
  const [link, used] = await Promise.all([redis.get(linkKey(prefix, token)), redis.get(usedKey(prefix, token))]);
  const record = parseLink(link);
  if (!record) return { ok: false, why: used ? 'used' : 'unknown' };
  if (record.expiresAt <= now.getTime()) return { ok: false, why: 'expired' };
  return { ok: true, link: record };
}

/** Uses a link up: atomic, so two submissions of the same form give one success. */
export async function consumeLink(redis: Redis, prefix: string, token: string, now: Date): Promise<LinkState> {
  if (!isLinkToken(token)) return { ok: false, why: 'unknown' };
  const record = parseLink(await redis.getdel(linkKey(prefix, token)));
  if (!record) return { ok: false, why: (await redis.exists(usedKey(prefix, token))) ? 'used' : 'unknown' };
  await redis.set(usedKey(prefix, token), JSON.stringify({ at: now.toISOString() }), 'PX', USED_MARKER_TTL_MS);
  if (record.expiresAt <= now.getTime()) return { ok: false, why: 'expired' };
  return { ok: true, link: record };
}

// ---------------------------------------------------------------------------------------------
// Values received through the form

export interface FormValues {
  id: string;
  user: string;
  provider: OAuthProvider;
  channel: string;
  clientId: string;
  sealedSecret: string;
  fingerprint: string;
  createdAt: string;
}

/** How long submitted values wait for the apply request, its approval and the job. */
export function formValuesTtlMs(config: Config): number {
  return durationMs(config.approvals.ttl) + durationMs(config.rollout.timeout) + 60 * 60_000;
}

export async function storeFormValues(
  redis: Redis,
  config: Config,
  secrets: SecretBox,
  input: { user: string; provider: OAuthProvider; channel: string; clientId: string; clientSecret: string },
  now: Date,
): Promise<FormValues> {
  const values: FormValues = {
    id: randomBytes(6).toString('hex'),
    user: input.user,
    provider: input.provider,
    channel: input.channel,
    clientId: input.clientId,
    sealedSecret: secrets.seal(input.clientSecret),
    fingerprint: fingerprint(input.clientSecret),
    createdAt: now.toISOString(),
  };
  const key = formKey(config.redis.prefix, values.id);
  await redis.multi().hset(key, { ...values }).pexpire(key, formValuesTtlMs(config)).exec();
  return values;
}

export async function readFormValues(redis: Redis, prefix: string, id: string): Promise<FormValues | undefined> {
  if (!isFormId(id)) return undefined;
  const hash = await redis.hgetall(formKey(prefix, id));
  if (!hash.sealedSecret || !hash.clientId || !hash.user) return undefined;
  return hash as unknown as FormValues;
}

export async function deleteFormValues(redis: Redis, prefix: string, id: string): Promise<void> {
  await redis.del(formKey(prefix, id));
}

// ---------------------------------------------------------------------------------------------
// Where the new values come from: what a plan may show (never the secret)

/** The form values of `id` for `requester`, checked; throws a UserFacingError the requester can act on. */
export async function formValuesFor(redis: Redis, prefix: string, provider: OAuthProvider, id: string, requester: string): Promise<FormValues> {
  const values = await readFormValues(redis, prefix, id);
  const again = `Run \`/autostack rotate ${provider}\` for a new link.`;
  if (!values) throw new UserFacingError(`No submitted values under form id ${id}: they expired or were already used by a rotation. ${again}`);
  if (values.provider !== provider) {
    throw new UserFacingError(`Form ${id} holds ${values.provider === 'github' ? 'GitHub' : 'Google'} values: use \`/autostack rotate ${values.provider} apply --form ${id}\`.`);
  }
  if (values.user !== requester) {
    throw new UserFacingError(md`Form ${id} was submitted through a link given to another user: only ${mention(values.user)} can request a rotation with it.`);
  }
  return values;
}

/** The staged Secret's values for `provider` (in memory), checked. */
export async function stagedValues(kube: KubeClients, config: Config, provider: OAuthProvider): Promise<{ clientId: string; clientSecret: string }> {
  const namespace = config.kubernetes.namespace;
  const name = config.backend.stagedSecret;
  const keys = OAUTH_KEYS[provider];
  const staged = await readSecretIfExists(kube, namespace, name);
  if (!staged) {
    throw new UserFacingError(`There is no staged Secret ${namespace}/${name}.`, `Create it with the new values, e.g. \`kubectl -n ${namespace} create secret generic ${name} --from-literal=${keys.id}=… --from-literal=${keys.secret}=…\`, or use the one-time form (\`/autostack rotate ${provider}\`).`);
  }
  const clientId = staged.values.get(keys.id);
  const clientSecret = staged.values.get(keys.secret);
  const missing = [clientId === undefined ? keys.id : '', clientSecret === undefined ? keys.secret : ''].filter(Boolean);
  if (missing.length) throw new UserFacingError(`The staged Secret ${namespace}/${name} has no ${missing.join(' and ')}: nothing to rotate to.`);
  const idProblem = clientIdProblem(provider, clientId!);
  if (idProblem) throw new UserFacingError(`${keys.id} in the staged Secret ${namespace}/${name}: ${idProblem}`);
  const secretProblem = clientSecretProblem(clientSecret!);
  if (secretProblem) throw new UserFacingError(`${keys.secret} in the staged Secret ${namespace}/${name}: ${secretProblem}`);
  return { clientId: clientId!, clientSecret: clientSecret! };
}
