/**
 * Alertmanager's v2 silences API, the part Silence and Unsilence use: create a silence
 * (`POST /api/v2/silences`), expire it (`DELETE /api/v2/silence/{id}`) and read it back
 * (`GET /api/v2/silence/{id}`) when an expiry is refused, to tell "already expired" from a failure.
 */
import { UserFacingError } from '../../src/core/types.ts';

const TIMEOUT_MS = 10_000;
/** Alertmanager's label names (the Prometheus data model). */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export interface SilenceMatcher {
  name: string;
  value: string;
  isRegex: false;
  isEqual: true;
}

export interface NewSilence {
  matchers: SilenceMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

/** Equality matchers for the labels every given alert has with the same value: they silence exactly these alerts. */
export function sharedLabelMatchers(labelSets: Array<Record<string, string>>): SilenceMatcher[] {
  const [first, ...rest] = labelSets;
  if (!first) return [];
  return Object.entries(first)
    .filter(([name, value]) => value !== '' && LABEL_NAME.test(name) && rest.every((labels) => labels[name] === value))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => ({ name, value, isRegex: false, isEqual: true }));
}

function endpoint(baseUrl: string, path: string): URL {
  return new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
}

async function call(http: typeof fetch, url: URL, init: RequestInit, what: string): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await http(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    throw new UserFacingError(`Alertmanager at ${url.origin} could not be reached to ${what} (${(error as Error).message}).`);
  }
  const text = await response.text().catch(() => '');
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // Alertmanager answers errors as a JSON string or plain text: kept as text.
  }
  return { status: response.status, body };
}

function refusal(url: URL, status: number, body: unknown, what: string): UserFacingError {
  const said = typeof body === 'string' ? body.trim().slice(0, 300) : '';
  return new UserFacingError(`Alertmanager at ${url.origin} answered ${status} to ${what}${said ? `: ${said}` : ''}.`);
}

/** Creates the silence; resolves with the ID Alertmanager gave it. */
export async function createSilence(http: typeof fetch, baseUrl: string, silence: NewSilence): Promise<string> {
  const url = endpoint(baseUrl, 'api/v2/silences');
  const what = 'create a silence';
  const { status, body } = await call(http, url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(silence) }, what);
  const id = (body as { silenceID?: unknown } | undefined)?.silenceID;
  if (status !== 200 || typeof id !== 'string' || !id) throw refusal(url, status, body, what);
  return id;
}

/** Expires the silence now; 'already expired' when Alertmanager shows it expired (ended, or expired by someone else). */
export async function expireSilence(http: typeof fetch, baseUrl: string, id: string): Promise<'expired' | 'already expired'> {
  const url = endpoint(baseUrl, `api/v2/silence/${encodeURIComponent(id)}`);
  const what = `expire silence ${id}`;
  const expired = await call(http, url, { method: 'DELETE' }, what);
  if (expired.status === 200) return 'expired';
  const read = await call(http, url, { method: 'GET' }, `read silence ${id}`);
  const state = (read.body as { status?: { state?: unknown } } | undefined)?.status?.state;
  if (read.status === 200 && state === 'expired') return 'already expired';
  throw refusal(url, expired.status, expired.body, what);
}
