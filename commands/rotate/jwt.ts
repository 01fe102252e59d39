/**
 * `rotate jwt`: new JWT_SECRET and SECRET_KEY (32 random bytes each, URL-safe base64, as the
 * runbook's `secrets.token_urlsafe(32)`), optionally at a set time and announced in a channel
 * first, because every session ends.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../../src/config.ts';
import type { Plan } from '../../src/core/types.ts';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import type { Verification } from './apply.ts';
import { targets } from './apply.ts';
import { fingerprint } from './secret.ts';

export const JWT_KEYS = ['JWT_SECRET', 'SECRET_KEY'] as const;

/** How far ahead `--at` may be (a delayed job waits in Redis until then). */
export const MAX_DELAY_DAYS = 30;

export interface JwtParams {
  /** ISO time to run at (UTC, as given with its offset normalised). */
  at?: string;
  /** Channel to notify beforehand. */
  notify?: string;
}

export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** `<#C123|ops>`, `<#C123>` or `C123`; a plain `#name` cannot be resolved without a lookup. */
export function parseChannel(text: string): string {
  const escaped = /^<#([CG][A-Z0-9]{2,})(\|[^>]*)?>$/.exec(text);
  if (escaped) return escaped[1]!;
  if (/^[CG][A-Z0-9]{2,}$/.test(text)) return text;
  if (text.startsWith('#')) {
    throw new UsageError(`--notify needs the channel's ID (e.g. C012ABCDEF, shown at the bottom of the channel's details), not its name ${text}`);
  }
  throw new UsageError(`--notify must be a Slack channel ID such as C012ABCDEF, got "${text.slice(0, 40)}"`);
}

/** An ISO 8601 time with a date, a time and a zone (Z or ±hh:mm): 3 a.m. must not be ambiguous. */
export function parseAt(text: string): string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    throw new UsageError(`--at must be an ISO time with its zone, e.g. 2025-06-01T22:00:00Z or 2025-06-02T00:00+02:00, got "${text.slice(0, 40)}"`);
  }
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new UsageError(`--at ${text} is not a valid time`);
  return time.toISOString();
}

export function parseJwt(flags: Record<string, string | true>): JwtParams {
  const params: JwtParams = {};
  if (typeof flags.at === 'string') params.at = parseAt(flags.at);
  if (typeof flags.notify === 'string') params.notify = parseChannel(flags.notify);
  return params;
}

/** The requested time must still be ahead, and not too far. */
export function checkAt(params: JwtParams, now: Date): void {
  if (!params.at) return;
  const at = Date.parse(params.at);
  if (at <= now.getTime()) throw new UserFacingError(`The requested time ${params.at} has passed; nothing was scheduled. Request the rotation again with a later --at (or none to run it now).`);
  if (at - now.getTime() > MAX_DELAY_DAYS * 86_400_000) throw new UserFacingError(`--at ${params.at} is more than ${MAX_DELAY_DAYS} days ahead; request it closer to the time.`);
}

/** `current`: the backend's values now (fingerprints), as describeJwt() gives them. */
export function jwtPlan(config: Config, params: JwtParams, current: string): Plan {
  const { namespace, secret, deployment, timeout } = targets(config);
  const when = params.at ? `At ${params.at.replace('.000Z', 'Z')} (UTC)` : 'Right after approval';
  const steps = [
    ...(params.notify ? [`On approval: post a notice in <#${params.notify}> that every session ends ${params.at ? `at ${params.at.replace('.000Z', 'Z')} (UTC)` : 'in a moment'}`] : []),
    `${when}: generate new JWT_SECRET and SECRET_KEY (32 random bytes each from the system's secure random source, URL-safe base64)`,
    `Write them into Secret ${namespace}/${secret} (now: ${current})`,
    `Rollout restart Deployment ${namespace}/${deployment} and wait until complete (at most ${timeout})`,
    `GET ${config.backend.url.replace(/\/+$/, '')}/health: expect 200`,
    'If the restart or the health check fails: put the previous values back, restart again and wait',
    `Record the rotation (next due in ${config.rotation.jwt} days)${params.notify ? ` and tell <#${params.notify}> it is done` : ''}`,
  ];
  const warnings = [
    `This ends every session: all users are signed out and every issued token stops working. Users must be told first${params.notify ? '' : ' (no --notify channel was given)'}.`,
  ];
  return { title: 'Rotate JWT_SECRET and SECRET_KEY of the backend (ends every session)', steps, resources: [`Secret ${namespace}/${secret}`, `Deployment ${namespace}/${deployment}`], warnings };
}

export function describeJwt(values: Map<string, string | undefined>): string {
  return JWT_KEYS.map((key) => {
    const value = values.get(key);
    return `${key} ${value === undefined ? '(none)' : fingerprint(value)}`;
  }).join(', ');
}

export async function healthVerification(http: typeof fetch, config: Config, signal: AbortSignal): Promise<Verification> {
  const url = `${config.backend.url.replace(/\/+$/, '')}/health`;
  try {
    const response = await http(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) });
    const text = await response.text().catch(() => '');
    let status: unknown;
    try {
      status = (JSON.parse(text) as { status?: unknown }).status;
    } catch {
      status = undefined;
    }
    const healthy = response.status === 200 && (status === undefined || status === 'ok' || status === 'healthy');
    const line = `${healthy ? '✓' : '✗'} GET ${url} answered ${response.status}${typeof status === 'string' ? ` (status ${status})` : ''}`;
    return healthy ? { ok: true, lines: [line], summary: `GET ${url} answered ${response.status}` } : { ok: false, lines: [line], summary: `The health check failed: GET ${url} answered ${response.status}${typeof status === 'string' ? ` (status ${status})` : ''}` };
  } catch (error) {
    return { ok: false, lines: [`✗ GET ${url}: no answer`], summary: `The health check failed: GET ${url} gave no answer (${(error as Error).message})` };
  }
}
