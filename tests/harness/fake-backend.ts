/**
 * A fake AutoStack backend, serving the HTTP API the operations runbook uses:
 *
 *   GET  /health                        → 200 {"status":"ok"} (or 503, or no answer)
 *   GET  /auth/github, /auth/google     → 307 to the provider's authorize URL
 *                                         (client_id, redirect_uri, scope, state)
 *   POST /api/deployments/{id}/rollback → Bearer token, JSON {"reason"}
 *   GET  /api/deployments/{id}          → Bearer token
 *   GET  /api/version                   → {"version", "alembic_head", "alembic_revisions"}
 *
 * The OAuth client IDs and redirect URIs come from the backend's "current
 * env". A test sets it directly (`setEnv`) or gives an env source, e.g. the
 * backend's Kubernetes Secret as its pods see it (`podsSecretEnv` in
 * kube-env.ts), read when the backend (re)starts, the way a process reads its
 * environment once.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback, readRequest, requestMatches, sendJson } from './fake-http.ts';

export interface BackendEnv {
  GITHUB_CLIENT_ID?: string;
  GITHUB_CLIENT_SECRET?: string;
  /** Default: <publicUrl>/auth/github/callback */
  GITHUB_REDIRECT_URI?: string;
  GOOGLE_CLIENT_ID?: string;
  GOOGLE_CLIENT_SECRET?: string;
  /** Default: <publicUrl>/auth/google/callback */
  GOOGLE_REDIRECT_URI?: string;
  JWT_SECRET?: string;
  SECRET_KEY?: string;
  [key: string]: string | undefined;
}

/** Produces the env a freshly started backend would see (undefined: nothing available). */
/** Where the backend's env comes from; an asynchronous one only with reload 'request'. */
export type EnvSource = () => BackendEnv | undefined | Promise<BackendEnv | undefined>;

export type OAuthProvider = 'github' | 'google';

export type OAuthFailure =
  | 'none'
  /** 500 with a JSON error body. */
  | 'error-500'
  /** 200 with an HTML login page instead of a redirect. */
  | 'no-redirect'
  /** Redirects to a look-alike host instead of the provider. */
  | 'wrong-host'
  /** The authorize URL lacks client_id. */
  | 'missing-client-id'
  /** redirect_uri is not the configured callback. */
  | 'wrong-redirect-uri'
  /** The authorize URL lacks state. */
  | 'missing-state'
  /** state is the same value on every request (CONSTANT_STATE). */
  | 'constant-state';

export type HealthMode = 'ok' | 'unhealthy' | 'hang';

export const GITHUB_AUTHORIZE_URL = 'https://github.com/login/oauth/authorize';
export const GOOGLE_AUTHORIZE_URL = 'https://accounts.google.com/o/oauth2/v2/auth';
export const WRONG_HOST_URLS: Record<OAuthProvider, string> = {
  github: 'https://github.com.login-oauth.example.net/login/oauth/authorize',
  google: 'https://accounts.google.com.oauth2.example.net/o/oauth2/v2/auth',
};
export const WRONG_REDIRECT_URI = 'http://localhost:3000/legacy/oauth/callback';
export const CONSTANT_STATE = 'state';
export const DEFAULT_API_TOKEN = 'backend-api-token';

export interface BackendDeployment {
  id: string;
  status: string;
  [key: string]: unknown;
}

export interface RecordedBackendRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, raw text if not JSON, undefined if empty. */
  body: unknown;
  rawBody: string;
}

export interface RollbackRecord {
  id: string;
  reason: string;
  token: string;
}

export interface BackendFailure {
  method?: string;
  path: RegExp | string;
  times?: number;
  /** HTTP status to answer with (ignored with hang). */
  status?: number;
  body?: unknown;
  /** Never answer until the server closes. */
  hang?: boolean;
}

export interface FakeBackendOptions {
  /** Initial env (default: fixed test client IDs and secrets). */
  env?: BackendEnv;
  /** Bearer tokens accepted by /api (default [DEFAULT_API_TOKEN]). */
  apiTokens?: string[];
  /** Status of the OAuth redirects (default 307, as FastAPI's RedirectResponse). */
  redirectStatus?: 302 | 307;
  /** Base of the default redirect URIs (default: the server's own URL). */
  publicUrl?: string;
  /** Deployments known to /api/deployments (default: none). */
  deployments?: BackendDeployment[];
}

export const DEFAULT_BACKEND_ENV: Readonly<BackendEnv> = {
  GITHUB_CLIENT_ID: 'gh-client-id-initial',
  GITHUB_CLIENT_SECRET: 'gh-client-secret-initial',
  GOOGLE_CLIENT_ID: 'google-client-id-initial.apps.googleusercontent.com',
  GOOGLE_CLIENT_SECRET: 'google-client-secret-initial',
  JWT_SECRET: 'jwt-secret-initial',
  SECRET_KEY: 'secret-key-initial',
};

export class FakeBackend {
  readonly requests: RecordedBackendRequest[] = [];
  readonly rollbacks: RollbackRecord[] = [];
  /** Every state value handed out in an OAuth redirect, in order. */
  readonly issuedStates: string[] = [];
  /** How many times restart() was called. */
  restarts = 0;

  private env: BackendEnv;
  private envSource: EnvSource | undefined;
  private envReload: 'restart' | 'request' = 'restart';
  private health: HealthMode = 'ok';
  private readonly oauthFailures: Record<OAuthProvider, OAuthFailure> = { github: 'none', google: 'none' };
  private apiTokens: Set<string>;
  private readonly deployments = new Map<string, BackendDeployment>();
  private migrations: string[] = [];
  private rollbackEffect: ((deployment: BackendDeployment) => Promise<void>) | undefined;
  private readonly failures: Array<BackendFailure & { left: number }> = [];
  private readonly hung = new Set<ServerResponse>();
  private readonly redirectStatus: 302 | 307;
  private readonly publicUrlOption: string | undefined;
  private server: Server | undefined;
  private baseUrl: string | undefined;

  constructor(options: FakeBackendOptions = {}) {
    this.env = { ...(options.env ?? DEFAULT_BACKEND_ENV) };
    this.apiTokens = new Set(options.apiTokens ?? [DEFAULT_API_TOKEN]);
    this.redirectStatus = options.redirectStatus ?? 307;
    this.publicUrlOption = options.publicUrl;
    for (const d of options.deployments ?? []) this.addDeployment(d);
  }

  static async start(options: FakeBackendOptions = {}): Promise<FakeBackend> {
    const backend = new FakeBackend(options);
    await backend.start();
    return backend;
  }

  // -------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<{ url: string; close: () => Promise<void> }> {
    if (this.server) throw new Error('fake backend already started');
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { detail: err instanceof Error ? err.message : String(err) });
        else res.destroy();
      });
    });
    this.server = server;
    this.baseUrl = await listenOnLoopback(server);
    this.loadEnv();
    return { url: this.baseUrl, close: () => this.close() };
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('fake backend not started');
    return this.baseUrl;
  }

  /** Base of the default redirect URIs. */
  get publicUrl(): string {
    return this.publicUrlOption ?? this.url;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const res of this.hung) res.destroy();
    this.hung.clear();
    await closeServer(server);
  }

  /** Models a process restart: the env is read again from the env source, if any. */
  restart(): void {
    this.restarts++;
    this.loadEnv();
  }

  // -------------------------------------------------------------------------
  // Configuration

  /** Replaces the current env (what the running backend uses). */
  setEnv(env: BackendEnv): void {
    this.env = { ...env };
  }

  /** The env the backend currently uses. */
  async currentEnv(): Promise<BackendEnv> {
    return { ...(await this.resolveEnv()) };
  }

  /**
   * Reads the env from `source` now and on every restart() (reload 'restart',
   * default), or on every request (reload 'request'; pair with
   * kubeSecretEnv(..., { deployment }) to follow the pods' lifecycle).
   */
  useEnvSource(source: EnvSource | undefined, options: { reload?: 'restart' | 'request' } = {}): void {
    this.envSource = source;
    this.envReload = options.reload ?? 'restart';
    this.loadEnv();
  }

  setHealth(mode: HealthMode): void {
    this.health = mode;
  }

  setOAuthFailure(provider: OAuthProvider, failure: OAuthFailure): void {
    this.oauthFailures[provider] = failure;
  }

  setApiTokens(tokens: string[]): void {
    this.apiTokens = new Set(tokens);
  }

  addDeployment(deployment: { id: string; status?: string; [key: string]: unknown }): BackendDeployment {
    const d: BackendDeployment = { ...deployment, id: deployment.id, status: deployment.status ?? 'failed' };
    this.deployments.set(d.id, d);
    return { ...d };
  }

  /**
   * What an accepted rollback starts before answering "rolling_back" (default: nothing, the
   * platform only records it), e.g. roll the test cluster's Deployment back.
   */
  onRollback(effect: ((deployment: BackendDeployment) => Promise<void>) | undefined): void {
    this.rollbackEffect = effect;
  }

  /** The Alembic revisions the running release ships, oldest first (its head is the last). */
  setMigrations(revisions: string[]): void {
    this.migrations = [...revisions];
  }

  getDeployment(id: string): BackendDeployment | undefined {
    const d = this.deployments.get(id);
    return d ? { ...d } : undefined;
  }

  /** Makes the next `times` matching requests answer `status`/`body`, or hang. */
  failNext(failure: BackendFailure): void {
    this.failures.push({ ...failure, left: failure.times ?? 1 });
  }

  requestsMatching(method?: string, path?: RegExp | string): RecordedBackendRequest[] {
    return this.requests.filter((r) => requestMatches({ method, path }, r.method, r.path));
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  // -------------------------------------------------------------------------
  // Request handling

  private loadEnv(): void {
    if (!this.envSource || this.envReload === 'request') return;
    const env = this.envSource();
    if (env instanceof Promise) throw new Error("an asynchronous env source needs reload: 'request'");
    this.env = { ...(env ?? {}) };
  }

  private async resolveEnv(): Promise<BackendEnv> {
    if (this.envSource && this.envReload === 'request') return { ...((await this.envSource()) ?? {}) };
    return this.env;
  }

  private hang(res: ServerResponse): void {
    this.hung.add(res);
    res.on('close', () => this.hung.delete(res));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { url, method, query, body, rawBody } = await readRequest(req);
    this.requests.push({ method, path: url.pathname, query, headers: req.headers, body, rawBody });

    const failure = this.failures.find((f) => f.left > 0 && requestMatches(f, method, url.pathname));
    if (failure) {
      failure.left--;
      if (failure.hang) this.hang(res);
      else sendJson(res, failure.status ?? 500, failure.body ?? { detail: 'Internal Server Error' });
      return;
    }

    const path = url.pathname;
    if (path === '/health' && method === 'GET') return this.healthCheck(res);
    if (path === '/api/version' && method === 'GET') {
      sendJson(res, 200, { version: '1.4.2', alembic_head: this.migrations.at(-1) ?? null, alembic_revisions: this.migrations });
      return;
    }
    const oauth = /^\/auth\/(github|google)$/.exec(path);
    if (oauth && method === 'GET') return this.oauthRedirect(oauth[1] as OAuthProvider, res);
    const rollback = /^\/api\/deployments\/([^/]+)\/rollback$/.exec(path);
    if (rollback && method === 'POST') return this.rollback(decodeURIComponent(rollback[1] ?? ''), req, rawBody, res);
    const deployment = /^\/api\/deployments\/([^/]+)$/.exec(path);
    if (deployment && method === 'GET') return this.readDeployment(decodeURIComponent(deployment[1] ?? ''), req, res);
    if (path === '/health' || oauth || rollback || deployment) {
      sendJson(res, 405, { detail: 'Method Not Allowed' });
      return;
    }
    sendJson(res, 404, { detail: 'Not Found' });
  }

  private healthCheck(res: ServerResponse): void {
    if (this.health === 'hang') return this.hang(res);
    if (this.health === 'unhealthy') sendJson(res, 503, { status: 'unhealthy', database: 'disconnected' });
    else sendJson(res, 200, { status: 'ok' });
  }

  private async oauthRedirect(provider: OAuthProvider, res: ServerResponse): Promise<void> {
    const failure = this.oauthFailures[provider];
    if (failure === 'error-500') {
      sendJson(res, 500, { detail: 'Internal Server Error' });
      return;
    }
    if (failure === 'no-redirect') {
      const html = `<!doctype html><html><body><a href="/auth/${provider}">Sign in with ${provider}</a></body></html>`;
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(html) });
      res.end(html);
      return;
    }
    const env = await this.resolveEnv();
    const prefix = provider === 'github' ? 'GITHUB' : 'GOOGLE';
    const base = failure === 'wrong-host' ? WRONG_HOST_URLS[provider] : provider === 'github' ? GITHUB_AUTHORIZE_URL : GOOGLE_AUTHORIZE_URL;
    const target = new URL(base);
    const clientId = env[`${prefix}_CLIENT_ID`];
    if (failure !== 'missing-client-id' && clientId !== undefined) target.searchParams.set('client_id', clientId);
    const redirectUri =
      failure === 'wrong-redirect-uri' ? WRONG_REDIRECT_URI : env[`${prefix}_REDIRECT_URI`] ?? `${this.publicUrl}/auth/${provider}/callback`;
    target.searchParams.set('redirect_uri', redirectUri);
    if (provider === 'google') {
      target.searchParams.set('response_type', 'code');
      target.searchParams.set('scope', 'openid email profile');
    } else {
      target.searchParams.set('scope', 'read:user user:email');
    }
    if (failure !== 'missing-state') {
      const state = failure === 'constant-state' ? CONSTANT_STATE : randomBytes(24).toString('base64url');
      this.issuedStates.push(state);
      target.searchParams.set('state', state);
    }
    res.writeHead(this.redirectStatus, { Location: target.toString(), 'Content-Length': 0 });
    res.end();
  }

  /** The bearer token if accepted; otherwise answers 401 and returns undefined. */
  private authorize(req: IncomingMessage, res: ServerResponse): string | undefined {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
    if (!match) {
      sendJson(res, 401, { detail: 'Not authenticated' }, { 'WWW-Authenticate': 'Bearer' });
      return undefined;
    }
    const token = match[1] ?? '';
    if (!this.apiTokens.has(token)) {
      sendJson(res, 401, { detail: 'Invalid authentication credentials' }, { 'WWW-Authenticate': 'Bearer' });
      return undefined;
    }
    return token;
  }

  private async rollback(id: string, req: IncomingMessage, rawBody: string, res: ServerResponse): Promise<void> {
    const token = this.authorize(req, res);
    if (token === undefined) return;
    const deployment = this.deployments.get(id);
    if (!deployment) {
      sendJson(res, 404, { detail: 'Deployment not found' });
      return;
    }
    let parsed: unknown;
    try {
      parsed = rawBody.length > 0 ? JSON.parse(rawBody) : undefined;
    } catch {
      sendJson(res, 400, { detail: 'Request body must be JSON' });
      return;
    }
    const reason = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).reason : undefined;
    if (typeof reason !== 'string' || reason.trim() === '') {
      sendJson(res, 400, { detail: 'A non-empty "reason" is required' });
      return;
    }
    deployment.status = 'rolling_back';
    deployment.reason = reason;
    this.rollbacks.push({ id, reason, token });
    await this.rollbackEffect?.(deployment);
    sendJson(res, 200, { id, status: 'rolling_back', reason });
  }

  private readDeployment(id: string, req: IncomingMessage, res: ServerResponse): void {
    if (this.authorize(req, res) === undefined) return;
    const deployment = this.deployments.get(id);
    if (!deployment) sendJson(res, 404, { detail: 'Deployment not found' });
    else sendJson(res, 200, deployment);
  }
}
