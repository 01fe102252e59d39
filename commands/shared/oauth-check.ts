/**
 * `oauth check [github|google]`: runbook "Scenario 3: OAuth callback failed". Requests the
 * backend's /auth/<provider> without following the redirect and checks, one line each, what the
 * runbook asks a person to eyeball: the redirect, the provider's authorize endpoint, client_id,
 * redirect_uri against the callback URL, and the state parameter. Then counts oauth_state lines
 * in the backend's recent logs.
 */
import type { Config } from '../../src/config.ts';
import type { KubeClients } from '../../src/core/types.ts';
import type { Part, Reply } from '../../src/core/result.ts';
import { redact } from './redact.ts';
import { utcTime } from './evidence.ts';
import type { LogWindow } from './log-window.ts';
import { logWindow, windowText } from './log-window.ts';
import { collectLogs } from './logs.ts';
import { resolveApp } from './apps.ts';

export const PROVIDERS = ['github', 'google'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** The state must carry enough randomness not to be guessed: 16 URL-safe characters is ~96 bits. */
export const MIN_STATE_LENGTH = 16;

interface ProviderInfo {
  label: string;
  authorize: string[];
  settings: string;
  secretEnv: string;
}

export const PROVIDER_INFO: Record<Provider, ProviderInfo> = {
  github: {
    label: 'GitHub',
    authorize: ['https://github.com/login/oauth/authorize'],
    settings: 'the GitHub OAuth app settings (https://github.com/settings/developers)',
    secretEnv: 'GITHUB_CLIENT_ID',
  },
  google: {
    label: 'Google',
    authorize: ['https://accounts.google.com/o/oauth2/v2/auth', 'https://accounts.google.com/o/oauth2/auth'],
    settings: 'the Google OAuth client (https://console.cloud.google.com/apis/credentials), under "Authorized redirect URIs"',
    secretEnv: 'GOOGLE_CLIENT_ID',
  },
};

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface Check {
  id: 'redirect' | 'authorize' | 'client_id' | 'redirect_uri' | 'state' | 'state_length' | 'state_random';
  status: CheckStatus;
  text: string;
  /** What to fix, for a failing check. */
  fix?: string;
}

export interface ProviderReport {
  provider: Provider;
  url: string;
  checks: Check[];
}

interface Probe {
  status?: number;
  location?: URL;
  locationText?: string;
  error?: string;
}

async function probe(http: typeof fetch, url: string, signal?: AbortSignal): Promise<Probe> {
  try {
    const response = await http(url, { redirect: 'manual', signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(10_000)]) : AbortSignal.timeout(10_000) });
    await response.body?.cancel().catch(() => undefined);
    const locationText = response.headers.get('location') ?? undefined;
    let location: URL | undefined;
    if (locationText) {
      try {
        location = new URL(locationText, url);
      } catch {
        location = undefined;
      }
    }
    return { status: response.status, location, locationText };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

const isRedirect = (status: number | undefined) => status !== undefined && [301, 302, 303, 307, 308].includes(status);

/** Runs the checks for one provider (two requests: the second only to compare the state). */
export async function checkProvider(http: typeof fetch, config: Config, provider: Provider, signal?: AbortSignal): Promise<ProviderReport> {
  const info = PROVIDER_INFO[provider];
  const url = `${config.backend.url.replace(/\/+$/, '')}/auth/${provider}`;
  const configured = config.oauth[provider];
  const checks: Check[] = [];
  const skipRest = (why: string) => {
    const ids: Check['id'][] = ['authorize', 'client_id', 'redirect_uri', 'state', 'state_length', 'state_random'];
    for (const id of ids) if (!checks.some((c) => c.id === id)) checks.push({ id, status: 'skip', text: `${labelOf(id)}: not checked (${why})` });
  };

  const first = await probe(http, url, signal);
  if (first.error) {
    checks.push({ id: 'redirect', status: 'fail', text: `GET ${url}: no answer (${redact(first.error)})`, fix: 'The backend is unreachable: check its pods (`/autostack logs backend`) and backend.url.' });
    skipRest('no answer');
    return { provider, url, checks };
  }
  if (!isRedirect(first.status) || !first.location) {
    checks.push({
      id: 'redirect',
      status: 'fail',
      text: `GET ${url} answered ${first.status}${isRedirect(first.status) ? ' without a Location header' : ''}, not a redirect to ${info.label}`,
      fix: `The backend must answer /auth/${provider} with a redirect to ${info.label}: check that ${info.label} login is enabled and ${info.secretEnv} is set in the backend's Secret (${config.backend.secret}), then restart the backend; see the backend logs.`,
    });
    skipRest('no redirect');
    return { provider, url, checks };
  }
  checks.push({ id: 'redirect', status: 'pass', text: `GET ${url} answered ${first.status} (redirect)` });

  const loc = first.location;
  const endpoint = `${loc.origin}${loc.pathname}`;
  if (info.authorize.includes(endpoint)) {
    checks.push({ id: 'authorize', status: 'pass', text: `redirects to the ${info.label} authorize endpoint ${endpoint}` });
  } else {
    checks.push({
      id: 'authorize',
      status: 'fail',
      text: `redirects to ${redact(endpoint)}, not the ${info.label} authorize endpoint ${info.authorize[0]}`,
      fix: `The backend's ${info.label} authorize URL must be ${info.authorize[0]}: fix it in the backend configuration.`,
    });
  }

  const clientId = loc.searchParams.get('client_id');
  if (!clientId) {
    checks.push({ id: 'client_id', status: 'fail', text: 'client_id is missing from the authorize URL', fix: `Set ${info.secretEnv} in the backend's Secret (${config.backend.secret}) and restart the backend.` });
  } else if (!configured.clientId) {
    checks.push({ id: 'client_id', status: 'skip', text: `client_id is ${clientId}; not compared: oauth.${provider}.clientId is not configured in the bot` });
  } else if (clientId !== configured.clientId) {
    checks.push({
      id: 'client_id',
      status: 'fail',
      text: `client_id is ${clientId} but the configured one is ${configured.clientId}`,
      fix: `The backend runs with a different ${info.label} app: set ${info.secretEnv}=${configured.clientId} in the backend's Secret (${config.backend.secret}) and restart the backend (or update oauth.${provider}.clientId if the app was replaced).`,
    });
  } else {
    checks.push({ id: 'client_id', status: 'pass', text: `client_id ${clientId} matches the configured one` });
  }

  const redirectUri = loc.searchParams.get('redirect_uri');
  const callback = configured.callbackUrl;
  if (!callback) {
    checks.push({ id: 'redirect_uri', status: 'skip', text: `redirect_uri is ${redirectUri ?? '(not sent)'}; not compared: oauth.${provider}.callbackUrl is not configured in the bot` });
  } else if (!redirectUri) {
    if (provider === 'github') {
      checks.push({ id: 'redirect_uri', status: 'pass', text: `redirect_uri not sent: GitHub uses the OAuth app's callback URL, which must be ${callback}` });
    } else {
      checks.push({
        id: 'redirect_uri',
        status: 'fail',
        text: 'redirect_uri is missing (Google requires it)',
        fix: `The backend must send redirect_uri=${callback}; and the callback URL in ${info.settings} must be ${callback}.`,
      });
    }
  } else if (redirectUri !== callback) {
    checks.push({
      id: 'redirect_uri',
      status: 'fail',
      text: `redirect_uri is ${redact(redirectUri)} but the callback URL must be ${callback}`,
      fix: `Set the backend's ${info.label} callback URL to ${callback}; the callback URL in ${info.settings} must be ${callback}.`,
    });
  } else {
    checks.push({ id: 'redirect_uri', status: 'pass', text: `redirect_uri ${redirectUri} matches the configured callback URL` });
  }

  const state = loc.searchParams.get('state');
  if (!state) {
    checks.push({ id: 'state', status: 'fail', text: 'no state parameter', fix: 'The backend must send a random state per login and check it on the callback (CSRF protection); without it callbacks fail state validation or are unsafe.' });
    checks.push({ id: 'state_length', status: 'skip', text: 'state length: not checked (no state)' });
    checks.push({ id: 'state_random', status: 'skip', text: 'state randomness: not checked (no state)' });
    return { provider, url, checks };
  }
  checks.push({ id: 'state', status: 'pass', text: 'state parameter present' });
  if (state.length >= MIN_STATE_LENGTH) {
    checks.push({ id: 'state_length', status: 'pass', text: `state is ${state.length} characters (at least ${MIN_STATE_LENGTH})` });
  } else {
    checks.push({
      id: 'state_length',
      status: 'fail',
      text: `state is only ${state.length} characters`,
      fix: `A state shorter than ${MIN_STATE_LENGTH} characters can be guessed, which defeats its CSRF protection: generate it with e.g. secrets.token_urlsafe(32) (43 characters).`,
    });
  }
  const second = await probe(http, url, signal);
  const secondState = second.location?.searchParams.get('state');
  if (!secondState) {
    checks.push({ id: 'state_random', status: 'skip', text: `state randomness: not checked (the second request got ${second.error ? 'no answer' : `${second.status} without a state`})` });
  } else if (secondState === state) {
    checks.push({
      id: 'state_random',
      status: 'fail',
      text: 'state is the same in two requests',
      fix: 'The state must be new and random for every login attempt (not a constant or a per-process value); otherwise it protects nothing and concurrent logins clash.',
    });
  } else {
    checks.push({ id: 'state_random', status: 'pass', text: 'state differs between two requests' });
  }
  return { provider, url, checks };
}

function labelOf(id: Check['id']): string {
  return {
    redirect: 'redirect',
    authorize: 'authorize endpoint',
    client_id: 'client_id',
    redirect_uri: 'redirect_uri',
    state: 'state',
    state_length: 'state length',
    state_random: 'state randomness',
  }[id];
}

// ---------------------------------------------------------------------------------------------
// oauth_state in the backend logs

export interface StateLogReport {
  checked: boolean;
  count: number;
  last: string[];
  note?: string;
  /** How far back the lines read reach. */
  window?: LogWindow;
  now?: Date;
}

export const OAUTH_LOG_WINDOW_SECONDS = 3600;
export const OAUTH_LOG_TAIL = 5000;

/** Lines mentioning oauth_state in the last hour of the backend's logs (runbook step 3). */
export async function oauthStateErrors(kube: () => KubeClients, config: Config, now: Date, lastLines = 5): Promise<StateLogReport> {
  let clients: KubeClients;
  try {
    clients = kube();
  } catch (error) {
    return { checked: false, count: 0, last: [], note: `backend logs not checked: ${(error as Error).message}` };
  }
  try {
    const target = resolveApp(config, 'backend');
    const logs = await collectLogs(clients, config.kubernetes.namespace, target, { tail: OAUTH_LOG_TAIL, sinceSeconds: OAUTH_LOG_WINDOW_SECONDS, grep: 'oauth_state', previous: false });
    const window = logWindow(logs.reach, new Date(now.getTime() - OAUTH_LOG_WINDOW_SECONDS * 1000), now);
    return { checked: true, count: logs.lines.length, last: logs.lines.slice(-lastLines), window, now };
  } catch (error) {
    return { checked: false, count: 0, last: [], note: `backend logs not checked: ${redact((error as Error).message)}` };
  }
}

// ---------------------------------------------------------------------------------------------
// Presentation

const MARK: Record<CheckStatus, string> = { pass: '✓', fail: '✗', skip: '–' };

export function oauthReply(reports: ProviderReport[], logs: StateLogReport): Reply {
  const period = logs.window && logs.now && !logs.window.complete ? `since ${utcTime(logs.window.from, logs.now)} (as far as they reach)` : 'of the last hour';
  const parts: Part[] = [{ kind: 'heading', text: 'OAuth check' }];
  let failures = 0;
  for (const report of reports) {
    parts.push({ kind: 'text', text: `*${PROVIDER_INFO[report.provider].label}* (${report.url})` });
    const lines = report.checks.map((c) => {
      if (c.status === 'fail') failures++;
      return `${MARK[c.status]} ${c.text}${c.fix ? `\n      → ${c.fix}` : ''}`;
    });
    parts.push({ kind: 'text', text: lines.join('\n') });
  }
  if (!logs.checked) {
    parts.push({ kind: 'context', text: logs.note ?? 'backend logs not checked' });
  } else if (logs.count === 0) {
    parts.push({ kind: 'text', text: logs.window?.complete === false ? `– no oauth_state lines in the backend logs ${period}` : `✓ no oauth_state lines in the backend logs of the last hour` });
  } else {
    parts.push({ kind: 'text', text: `✗ ${logs.count} line${logs.count === 1 ? '' : 's'} mention oauth_state in the backend logs ${period} (state validation failing: check the state store/cookie and that all backend replicas share the session secret). Last ${logs.last.length}:` });
    parts.push({ kind: 'code', text: logs.last.join('\n') });
  }
  if (logs.window && logs.now) {
    const earlier = logs.window.complete ? '' : ': nothing is known about earlier from them; the crashed containers\' logs: `/autostack logs backend --previous --grep oauth_state`';
    parts.push({ kind: 'context', text: `${logs.window.complete ? '' : ':warning: '}The backend ${windowText(logs.window, logs.now)}${earlier}.` });
  }
  const providers = reports.map((r) => PROVIDER_INFO[r.provider].label).join(' and ');
  const summary = failures === 0 ? `OAuth check for ${providers}: all checks passed${logs.count ? `, but ${logs.count} oauth_state log lines` : ''}` : `OAuth check for ${providers}: ${failures} check${failures === 1 ? '' : 's'} failed`;
  return { summary, parts, visibility: 'channel' };
}
