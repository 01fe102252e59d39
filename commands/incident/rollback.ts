/**
 * `rollback <app|deployment-id> [reason]`: runbook "Scenario 1, step 3".
 *
 * The target rule: a number (`42`) or a UUID (`0b6f…-…`) is a platform deployment ID and goes to
 * the platform API exactly as the runbook's curl does; anything else is an app name and rolls the
 * Kubernetes Deployment back to the previous revision (or `--to-revision N`) as
 * `kubectl rollout undo` does. Either way the rollout is followed and /health checked.
 */
import type { Config } from '../../src/config.ts';
import type { KubeClients, Plan } from '../../src/core/types.ts';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import { imageTag } from '../shared/evidence.ts';
import { planUndo } from '../shared/kube-rollouts.ts';
import type { UndoPlan } from '../shared/kube-rollouts.ts';
import { redact } from '../shared/redact.ts';
import { appName, resolveApp } from '../shared/apps.ts';

export const DEFAULT_REASON = 'Deployment failed';
const NUMERIC_ID = /^\d{1,18}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const MAX_REASON = 500;

export type RollbackTarget =
  | { kind: 'platform'; id: string }
  | { kind: 'app'; app: string; deployment: string; toRevision?: number };

export interface RollbackParams {
  target: RollbackTarget;
  reason: string;
  /** The Deployment whose rollout is followed afterwards (for a platform rollback: --app, else the backend). */
  follow: { app: string; deployment: string };
}

export function isDeploymentId(word: string): boolean {
  return NUMERIC_ID.test(word) || UUID.test(word);
}

export function parseRollback(words: string[], flags: { toRevision?: string; app?: string }, config: Config): RollbackParams {
  const [first, ...rest] = words;
  if (!first) throw new UsageError('give an app name or a platform deployment ID');
  const reason = rest.join(' ').trim() || DEFAULT_REASON;
  if (reason.length > MAX_REASON) throw new UsageError(`the reason is ${reason.length} characters; keep it under ${MAX_REASON}`);
  let toRevision: number | undefined;
  if (flags.toRevision !== undefined) {
    if (!/^\d{1,9}$/.test(flags.toRevision) || Number(flags.toRevision) < 1) throw new UsageError(`--to-revision must be a revision number (see \`history\`), got "${flags.toRevision}"`);
    toRevision = Number(flags.toRevision);
  }
  if (isDeploymentId(first)) {
    if (toRevision !== undefined) throw new UsageError('--to-revision applies to an app name; a platform deployment ID is rolled back by the platform API');
    const app = appName(flags.app ?? 'backend', '--app');
    const resolved = resolveApp(config, app);
    return { target: { kind: 'platform', id: first }, reason, follow: { app, deployment: resolved.workload } };
  }
  if (flags.app !== undefined) throw new UsageError('--app is only for a platform deployment ID (which app to follow); give the app name directly instead');
  const app = appName(first);
  const { workload } = resolveApp(config, app);
  return { target: { kind: 'app', app, deployment: workload, toRevision }, reason, follow: { app, deployment: workload } };
}

export function deploymentUrl(config: Config, id: string): string {
  return `${config.backend.url.replace(/\/+$/, '')}/api/deployments/${encodeURIComponent(id)}`;
}

export function rollbackUrl(config: Config, id: string): string {
  return `${deploymentUrl(config, id)}/rollback`;
}

export function healthUrl(config: Config): string {
  return `${config.backend.url.replace(/\/+$/, '')}/health`;
}

/** What a rollback acts on: for an app, the revisions it moves between (nothing for a platform ID). */
export type RollbackInspection = { undo?: UndoPlan };

export async function inspectRollback(params: RollbackParams, config: Config, kube: () => KubeClients, http: typeof fetch): Promise<RollbackInspection> {
  if (params.target.kind === 'platform') {
    await ensurePlatformDeployment(http, config, params.target.id);
    return {};
  }
  return { undo: await planUndo(kube(), config.kubernetes.namespace, params.target.deployment, params.target.toRevision) };
}

/** What the rollback will do, from what inspectRollback saw. */
export function rollbackPlan(params: RollbackParams, config: Config, seen: RollbackInspection): Plan {
  const namespace = config.kubernetes.namespace;
  const follow = `follow the rollout of Deployment ${params.follow.deployment} until all replicas are ready (timeout ${config.rollout.timeout})`;
  const health = `GET ${healthUrl(config)}`;
  if (params.target.kind === 'platform') {
    const warnings = config.backend.apiToken ? [] : ['No platform API token is configured (backend.apiToken / AUTOSTACK_API_TOKEN): the call will be refused.'];
    return {
      title: `Roll back platform deployment ${params.target.id}`,
      steps: [`POST ${rollbackUrl(config, params.target.id)} with the configured bearer token and {"reason": ${JSON.stringify(params.reason)}}`, follow, health],
      resources: [`platform deployment ${params.target.id}`, `deployment/${params.follow.deployment} in ${namespace}`],
      warnings,
    };
  }
  const { deployment } = params.target;
  const undo = seen.undo!;
  const warnings: string[] = [];
  if (undo.alreadyCurrent) warnings.push(`Deployment ${deployment} already runs the template of revision ${undo.toRevision}: nothing will change; the rollout and health are checked only.`);
  return {
    title: `Roll back Deployment ${deployment} from revision ${undo.fromRevision ?? '?'} to revision ${undo.toRevision}`,
    steps: [
      `copy the pod template of revision ${undo.toRevision} (ReplicaSet ${undo.replicaSet}) into Deployment ${deployment}, guarded by its resourceVersion, with change-cause "${params.reason}"`,
      `images: ${undo.fromImages.map(imageTag).join(', ')} → ${undo.toImages.map(imageTag).join(', ')}`,
      follow,
      health,
    ],
    resources: [`deployment/${deployment} in ${namespace}`],
    warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// Platform API and health

export interface PlatformRollbackResult {
  status: number;
  /** Short, redacted description of the answer. */
  detail: string;
  body?: unknown;
}

function describeBody(text: string): { detail: string; body?: unknown } {
  const trimmed = text.trim();
  if (!trimmed) return { detail: '(empty body)' };
  try {
    const body = JSON.parse(trimmed) as unknown;
    return { detail: redact(JSON.stringify(body)).slice(0, 300), body };
  } catch {
    return { detail: redact(trimmed.replace(/\s+/g, ' ')).slice(0, 300) };
  }
}

/**
 * Refuses, before any plan is shown, a platform deployment ID the platform says does not exist
 * (GET /api/deployments/{id} answers 404). Any other answer, or none, leaves the decision to the
 * rollback call itself, which reports what the platform said.
 */
async function ensurePlatformDeployment(http: typeof fetch, config: Config, id: string): Promise<void> {
  const token = config.backend.apiToken;
  if (!token) return;
  const url = deploymentUrl(config, id);
  const response = await http(url, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' }, signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
  if (!response) return;
  await response.body?.cancel();
  if (response.status === 404) {
    throw new UserFacingError(`Platform deployment ${id} does not exist (GET ${url} answered 404). Nothing was asked or rolled back.`, 'Check the ID: `/autostack deploy history` lists recent deploys; `/autostack rollback <app>` rolls an app back to its previous revision.');
  }
}

/** POST /api/deployments/{id}/rollback as the runbook does. Throws UserFacingError for any non-2xx answer. */
export async function platformRollback(http: typeof fetch, config: Config, id: string, reason: string, signal?: AbortSignal): Promise<PlatformRollbackResult> {
  const token = config.backend.apiToken;
  if (!token) throw new UserFacingError('No platform API token is configured (backend.apiToken, env AUTOSTACK_API_TOKEN); nothing was called.');
  const url = rollbackUrl(config, id);
  let response: Response;
  try {
    response = await http(url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ reason }),
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(30_000)]) : AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new UserFacingError(`The platform API at ${url} did not answer (${(error as Error).message}); the rollback was not requested.`, 'Check that the backend is up: `/autostack logs backend`.');
  }
  const { detail, body } = describeBody(await response.text());
  if (response.ok) return { status: response.status, detail, body };
  const what = `The platform API answered ${response.status} to POST ${url}: ${detail}`;
  switch (response.status) {
    case 401:
    case 403:
      throw new UserFacingError(`${what}. The API token was refused; nothing was rolled back.`, 'Check backend.apiToken (AUTOSTACK_API_TOKEN) in the bot configuration.');
    case 404:
      throw new UserFacingError(`${what}. No deployment ${id}; nothing was rolled back.`, 'Check the deployment ID in the platform.');
    case 409:
      throw new UserFacingError(`${what}. The platform refused in the deployment's current state; nothing was rolled back.`);
    default:
      throw new UserFacingError(`${what}. The rollback may not have happened.`, 'Check the deployment in the platform and `/autostack history <app>`.');
  }
}

export interface HealthResult {
  ok: boolean;
  status?: number;
  detail: string;
}

/** GET {backend}/health; a few attempts, since endpoints settle right after a rollout. */
export async function checkHealth(http: typeof fetch, url: string, options: { attempts?: number; delayMs?: number; signal?: AbortSignal } = {}): Promise<HealthResult> {
  const attempts = options.attempts ?? 3;
  let last: HealthResult = { ok: false, detail: 'not checked' };
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 2000));
    options.signal?.throwIfAborted();
    try {
      const response = await http(url, { signal: AbortSignal.timeout(5000), redirect: 'manual' });
      const { detail } = describeBody(await response.text());
      last = { ok: response.ok, status: response.status, detail };
      if (response.ok) return last;
    } catch (error) {
      last = { ok: false, detail: `no answer: ${(error as Error).message}` };
    }
  }
  return last;
}
