/**
 * The steps of a deploy that touch outside systems, each taking the clients it uses: setting the
 * image (a JSON patch guarded by resourceVersion), the migration Job spec, and the HTTP checks
 * (/health and the configured smoke checks).
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Deployment, V1Job } from '@kubernetes/client-node';
import type { Config } from '../../src/config.ts';
import type { KubeClients } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { CHANGE_CAUSE_ANNOTATION, isConflict, kubeFailure, readDeployment } from '../shared/kube.ts';
import { redact } from '../shared/redact.ts';
import { migrationJob } from '../shared/migrate.ts';
import type { MigrationSource } from '../shared/migrate.ts';
import type { AppConfig } from './apps.ts';
import { appContainer } from './apps.ts';

const jsonPatch = () => setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

export interface SetImageResult {
  /** The Deployment's generation after the patch: what the rollout must observe. */
  generation?: number;
  /** False when the container already ran that image (nothing was patched). */
  changed: boolean;
}

/**
 * Sets the container's image and the change-cause annotation. The patch carries the
 * resourceVersion that was read, so a concurrent change answers 409 and nothing is applied. A
 * conflict caused only by a status update (the image is still the expected one) is retried with
 * a fresh read; if someone else changed the image, nothing is changed and the error says so.
 */
export async function setImage(
  kube: KubeClients,
  namespace: string,
  app: AppConfig,
  options: { expectedImage: string; image: string; changeCause: string; attempts?: number },
): Promise<SetImageResult> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    const deployment = await readDeployment(kube, namespace, app.deployment);
    const { index, container } = appContainer(deployment, app);
    if (container.image === options.image) return { changed: false, generation: deployment.metadata?.generation };
    if (container.image !== options.expectedImage) {
      throw new UserFacingError(
        `Deployment ${app.deployment} was changed by someone else: container ${container.name} runs ${container.image ?? '(no image)'}, not ${options.expectedImage} as recorded; nothing was changed.`,
        `Check \`/autostack history ${app.deployment}\` and run the deploy again.`,
      );
    }
    const body = patchBody(deployment, index, container.name, options.image, options.changeCause);
    try {
      const patched = await kube.apps.patchNamespacedDeployment({ name: app.deployment, namespace, body }, jsonPatch());
      return { changed: true, generation: patched.metadata?.generation };
    } catch (error) {
      if (isConflict(error) && attempt < attempts) continue;
      if (isConflict(error)) {
        throw new UserFacingError(`Deployment ${app.deployment} kept changing while its image was being set (409 Conflict ${attempts} times); nothing was changed.`);
      }
      throw kubeFailure(`setting the image of Deployment ${app.deployment}`, error);
    }
  }
}

function patchBody(deployment: V1Deployment, index: number, container: string, image: string, changeCause: string): unknown[] {
  const annotations = { ...(deployment.metadata?.annotations ?? {}), [CHANGE_CAUSE_ANNOTATION]: changeCause };
  return [
    { op: 'replace', path: '/metadata/resourceVersion', value: deployment.metadata?.resourceVersion ?? '' },
    { op: 'test', path: `/spec/template/spec/containers/${index}/name`, value: container },
    { op: 'replace', path: `/spec/template/spec/containers/${index}/image`, value: image },
    { op: 'add', path: '/metadata/annotations', value: annotations },
  ];
}

/**
 * The migration Job of a deploy: `db migrate`'s Job (commands/shared/migrate.ts) run from the
 * NEW image, with the app container's own environment (env and envFrom) when it has one, else the
 * backend Secret as `db migrate` uses.
 */
export function deployMigrationJob(deployment: V1Deployment, app: AppConfig, image: string, config: Config, options: { activeDeadlineSeconds: number; requestedBy: string }): V1Job {
  const { container } = appContainer(deployment, app);
  const pod = deployment.spec?.template?.spec;
  const source: MigrationSource = {
    deployment: app.deployment,
    container: container.name,
    image,
    command: [...config.database.migrateCommand],
    secret: config.backend.secret,
    serviceAccountName: pod?.serviceAccountName,
    imagePullSecrets: (pod?.imagePullSecrets ?? []).map((s) => s.name ?? '').filter(Boolean),
  };
  const job = migrationJob(source, options);
  const migrate = job.spec?.template.spec?.containers[0];
  if (migrate && (container.env?.length || container.envFrom?.length)) {
    migrate.env = container.env ? structuredClone(container.env) : undefined;
    migrate.envFrom = container.envFrom ? structuredClone(container.envFrom) : undefined;
  }
  job.metadata!.annotations = { ...job.metadata?.annotations, 'autostack.io/deploy-image': image };
  return job;
}

export interface HttpCheck {
  url: string;
  expected: string;
  ok: boolean;
  status?: number;
  /** Short, redacted description of the answer. */
  detail: string;
}

/** Timing knobs (tests make them short). */
export const checkTiming = { healthAttempts: 3, healthDelayMs: 2000, timeoutMs: 10_000 };

async function get(http: typeof fetch, url: string, signal?: AbortSignal): Promise<{ status?: number; detail: string }> {
  const timeout = AbortSignal.timeout(checkTiming.timeoutMs);
  try {
    const response = await http(url, { redirect: 'manual', signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    const text = (await response.text()).replace(/\s+/g, ' ').trim();
    return { status: response.status, detail: text ? redact(text).slice(0, 200) : '(empty body)' };
  } catch (error) {
    signal?.throwIfAborted();
    return { detail: `no answer: ${redact((error as Error).message)}` };
  }
}

/** GET the health URL until it answers 2xx, a few attempts apart (endpoints settle after a rollout). */
export async function checkHealthUrl(http: typeof fetch, url: string, signal?: AbortSignal): Promise<HttpCheck> {
  let last: HttpCheck = { url, expected: '2xx', ok: false, detail: 'not checked' };
  for (let i = 0; i < checkTiming.healthAttempts; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, checkTiming.healthDelayMs));
    signal?.throwIfAborted();
    const answer = await get(http, url, signal);
    last = { url, expected: '2xx', ok: answer.status !== undefined && answer.status >= 200 && answer.status < 300, ...answer };
    if (last.ok) return last;
  }
  return last;
}

/** One smoke check: GET the URL once; it passes when the status is exactly the expected one. */
export async function smokeCheck(http: typeof fetch, check: { url: string; status: number }, signal?: AbortSignal): Promise<HttpCheck> {
  const answer = await get(http, check.url, signal);
  return { url: check.url, expected: String(check.status), ok: answer.status === check.status, ...answer };
}

export function describeCheck(check: HttpCheck): string {
  return `${check.ok ? '✓' : '✗'} GET ${check.url} → ${check.status ?? 'no answer'} (expected ${check.expected})${check.ok ? '' : `: ${check.detail}`}`;
}
