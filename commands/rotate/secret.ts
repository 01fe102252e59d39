/**
 * The backend's Kubernetes Secret: reading some keys, writing some keys (JSON merge patch guarded
 * by the resourceVersion read before, so a concurrent edit is a 409 and nothing changes), and the
 * fingerprint that stands for a secret value wherever a person must recognise it.
 * Values are only ever held in memory here: never logged, never in an error message.
 */
import { createHash } from 'node:crypto';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Secret } from '@kubernetes/client-node';
import type { KubeClients } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { isConflict, isNotFound, kubeFailure } from '../shared/kube.ts';
import type { OAuthProvider } from './records.ts';

/** "sha256:" and the first 8 hex digits of the value's SHA-256: enough to recognise, useless to guess. */
export function fingerprint(value: string): string {
  return `sha256:${createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 8)}`;
}

export interface SecretSnapshot {
  name: string;
  namespace: string;
  resourceVersion: string;
  /** Decoded values of every key (in memory only). */
  values: Map<string, string>;
  immutable: boolean;
}

function decode(secret: V1Secret): Map<string, string> {
  const values = new Map<string, string>();
  for (const [key, value] of Object.entries(secret.data ?? {})) values.set(key, Buffer.from(value, 'base64').toString('utf8'));
  return values;
}

export async function readSecret(kube: KubeClients, namespace: string, name: string): Promise<SecretSnapshot> {
  let secret: V1Secret;
  try {
    secret = await kube.core.readNamespacedSecret({ name, namespace });
  } catch (error) {
    if (isNotFound(error)) throw new UserFacingError(`Secret ${namespace}/${name} not found.`);
    throw kubeFailure(`reading Secret ${namespace}/${name}`, error);
  }
  return { name, namespace, resourceVersion: secret.metadata?.resourceVersion ?? '', values: decode(secret), immutable: secret.immutable === true };
}

/** Reads a Secret that may not exist (the staged one). */
export async function readSecretIfExists(kube: KubeClients, namespace: string, name: string): Promise<SecretSnapshot | undefined> {
  try {
    return await readSecret(kube, namespace, name);
  } catch (error) {
    if (error instanceof UserFacingError && /not found/.test(error.message)) return undefined;
    throw error;
  }
}

/**
 * Sets (string) or removes (undefined) keys of a Secret with one merge patch; with
 * `expectedResourceVersion` the API refuses (409) if the Secret changed since it was read.
 * Returns the new resourceVersion.
 */
export async function patchSecretKeys(
  kube: KubeClients,
  namespace: string,
  name: string,
  changes: Map<string, string | undefined>,
  expectedResourceVersion?: string,
): Promise<string> {
  const data: Record<string, string | null> = {};
  for (const [key, value] of changes) data[key] = value === undefined ? null : Buffer.from(value, 'utf8').toString('base64');
  const body: Record<string, unknown> = { data };
  if (expectedResourceVersion) body.metadata = { resourceVersion: expectedResourceVersion };
  try {
    const patched = await kube.core.patchNamespacedSecret({ name, namespace, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    return patched.metadata?.resourceVersion ?? '';
  } catch (error) {
    if (isConflict(error)) throw new SecretConflict(namespace, name);
    if (isNotFound(error)) throw new UserFacingError(`Secret ${namespace}/${name} not found.`);
    // The API's message may echo the request; only the status code and reason are shown.
    throw kubeFailure(`writing keys ${[...changes.keys()].join(', ')} of Secret ${namespace}/${name}`, scrub(error));
  }
}

export class SecretConflict extends UserFacingError {
  constructor(namespace: string, name: string) {
    super(`Secret ${namespace}/${name} was changed by someone else at the same time (409 Conflict).`);
  }
}

/** An API error without its body: Kubernetes may quote the rejected object, values included. */
function scrub(error: unknown): unknown {
  const e = error as { code?: unknown; body?: unknown };
  let reason: string | undefined;
  try {
    const body = typeof e.body === 'string' ? (JSON.parse(e.body) as { reason?: unknown }) : (e.body as { reason?: unknown } | undefined);
    if (typeof body?.reason === 'string') reason = body.reason;
  } catch {
    reason = undefined;
  }
  return { code: e.code, message: reason ?? 'request refused', body: undefined };
}

// ---------------------------------------------------------------------------------------------
// OAuth values

export const OAUTH_KEYS: Record<OAuthProvider, { id: string; secret: string }> = {
  github: { id: 'GITHUB_CLIENT_ID', secret: 'GITHUB_CLIENT_SECRET' },
  google: { id: 'GOOGLE_CLIENT_ID', secret: 'GOOGLE_CLIENT_SECRET' },
};

export const PREVIOUS_PREFIX = 'PREVIOUS_';

export const MAX_CLIENT_ID_LENGTH = 200;
export const MIN_SECRET_LENGTH = 8;
export const MAX_SECRET_LENGTH = 512;

/** Checks a client ID's shape; returns an error message or undefined. */
export function clientIdProblem(provider: OAuthProvider, clientId: string): string | undefined {
  if (clientId === '') return 'The client ID is empty.';
  if (clientId.length > MAX_CLIENT_ID_LENGTH) return `The client ID is ${clientId.length} characters; at most ${MAX_CLIENT_ID_LENGTH} are expected.`;
  if (!/^[A-Za-z0-9._-]+$/.test(clientId)) return 'The client ID may only contain letters, digits, dots, dashes and underscores (check for spaces or quotes pasted with it).';
  if (provider === 'google' && !/^[A-Za-z0-9-]+\.apps\.googleusercontent\.com$/.test(clientId)) {
    return 'A Google OAuth client ID ends with .apps.googleusercontent.com (copy it from the Google Cloud Console credentials page).';
  }
  return undefined;
}

/** Checks a client secret's shape without ever quoting it; returns an error message or undefined. */
export function clientSecretProblem(secret: string): string | undefined {
  if (secret === '') return 'The client secret is empty.';
  if (secret.length < MIN_SECRET_LENGTH) return `The client secret is only ${secret.length} characters; a provider's secret is much longer.`;
  if (secret.length > MAX_SECRET_LENGTH) return `The client secret is ${secret.length} characters; at most ${MAX_SECRET_LENGTH} are expected.`;
  if (!/^[\x21-\x7e]+$/.test(secret)) return 'The client secret contains spaces or characters a provider never issues (check what was pasted).';
  return undefined;
}
