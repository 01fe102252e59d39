/**
 * A platform for rotation tests: a namespace on the test control plane (the bot under its Role)
 * with the backend Deployment and its Secret, and a fake backend whose env is that Secret as its
 * pods would see it (read again only when a rollout brought new pods).
 */
import { afterAll } from 'vitest';
import { DEFAULT_BACKEND_ENV, FakeBackend } from '../harness/fake-backend.ts';
import type { BackendEnv } from '../harness/fake-backend.ts';
import { createDeploymentWithHistory, deploymentReplicaSets, kubeNamespace, podsSecretEnv, readSecret } from '../harness/kube-env.ts';
import type { TestNamespace } from '../harness/kube-env.ts';
import { rotationTiming } from '../../commands/rotate/apply.ts';

export const SECRET = 'backend-env';
export const STAGED = 'backend-env-next';
export const DEPLOYMENT = 'backend';

/** Test values of the shapes the providers issue (never real credentials). */
export const NEW_GITHUB = { id: 'Ov23liNEWclient0001', secret: 'ghsecret-NEW-5f1e0c2b7a9d4e6f8a1b3c5d7e9f0a2b' };
export const NEW_GOOGLE = { id: '123456789012-newclient.apps.googleusercontent.com', secret: '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' };

export function fastTiming(): void {
  rotationTiming.pollMs = 10;
  rotationTiming.checkAttempts = 2;
  rotationTiming.checkDelayMs = 10;
}

export interface Platform {
  kns: TestNamespace;
  backend: FakeBackend;
  ns: string;
  /** Raw configuration pointing the bot at this platform. */
  config: Record<string, unknown>;
  secretData(name?: string): Promise<Record<string, string> | undefined>;
  /** Creates a Secret in the platform's namespace (as an operator staging values would). */
  createSecret(name: string, data: Record<string, string>): Promise<void>;
  /** How many ReplicaSets the backend Deployment has had (one more per restart). */
  replicaSets(): Promise<number>;
  callback(provider: 'github' | 'google'): string;
  /** The client_id the running backend redirects with. */
  liveClientId(provider: 'github' | 'google'): Promise<string | null>;
}

export interface PlatformOptions {
  env?: BackendEnv;
  around?: (env: BackendEnv | undefined) => BackendEnv | undefined;
  /** The backend's pods crash-loop, so no restart of it ever completes. */
  crashing?: boolean;
}

export async function platform(options: PlatformOptions = {}): Promise<Platform> {
  const kns = await kubeNamespace();
  const ns = kns.name;
  const env = options.env ?? { ...DEFAULT_BACKEND_ENV };
  const createSecret = async (name: string, data: Record<string, string>) => {
    await kns.kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: data } });
  };
  await createSecret(SECRET, Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)));
  await createDeploymentWithHistory(kns, { name: DEPLOYMENT, replicas: 2, revisions: [{ image: 'autostack/backend:1.4.0', crashing: options.crashing }] });
  const backend = await FakeBackend.start();
  afterAll(() => backend.close());
  const source = podsSecretEnv(kns, { secret: SECRET, deployment: DEPLOYMENT });
  backend.useEnvSource(options.around ? async () => options.around!(await source()) : source, { reload: 'request' });
  const callback = (provider: 'github' | 'google') => `${backend.publicUrl}/auth/${provider}/callback`;
  return {
    kns,
    backend,
    ns,
    config: {
      kubernetes: { namespace: ns },
      backend: { url: backend.url },
      oauth: { github: { callbackUrl: callback('github') }, google: { callbackUrl: callback('google') } },
      rollout: { timeout: '30s' },
    },
    secretData: (name = SECRET) => readSecret(kns, name),
    createSecret,
    replicaSets: async () => (await deploymentReplicaSets(kns, DEPLOYMENT)).length,
    callback,
    async liveClientId(provider) {
      const res = await fetch(`${backend.url}/auth/${provider}`, { redirect: 'manual' });
      await res.arrayBuffer();
      const location = res.headers.get('location');
      return location ? new URL(location).searchParams.get('client_id') : null;
    },
  };
}
