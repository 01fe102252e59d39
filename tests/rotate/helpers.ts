/**
 * A platform for rotation tests: a namespace in a fake Kubernetes API with the backend Deployment
 * and its Secret, and a fake backend whose env is that Secret as its pods would see it (re-read
 * when a rollout brings new pods).
 */
import { afterAll } from 'vitest';
import { DEFAULT_BACKEND_ENV, FakeBackend, kubeSecretEnv } from '../harness/fake-backend.ts';
import type { BackendEnv } from '../harness/fake-backend.ts';
import { FakeKube } from '../harness/fake-kube.ts';
import { uniqueName } from '../harness/env.ts';
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
  fake: FakeKube;
  backend: FakeBackend;
  ns: string;
  /** Raw configuration pointing the bot at this platform. */
  config: Record<string, unknown>;
  secretData(): Record<string, string>;
  callback(provider: 'github' | 'google'): string;
  /** The client_id the running backend redirects with. */
  liveClientId(provider: 'github' | 'google'): Promise<string | null>;
}

export async function startFake(): Promise<FakeKube> {
  const fake = await FakeKube.start();
  afterAll(() => fake.close());
  return fake;
}

export async function platform(fake: FakeKube, options: { env?: BackendEnv; around?: (env: BackendEnv | undefined) => BackendEnv | undefined } = {}): Promise<Platform> {
  const ns = uniqueName('ns');
  fake.seedNamespace(ns);
  const env = options.env ?? { ...DEFAULT_BACKEND_ENV };
  fake.seedSecret(ns, SECRET, Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)));
  fake.seedDeployment({ namespace: ns, name: DEPLOYMENT, image: 'autostack/backend:1.4.0', replicas: 2 });
  const backend = await FakeBackend.start();
  afterAll(() => backend.close());
  const source = kubeSecretEnv(fake, { namespace: ns, secret: SECRET, deployment: DEPLOYMENT });
  backend.useEnvSource(options.around ? () => options.around!(source()) : source, { reload: 'request' });
  const callback = (provider: 'github' | 'google') => `${backend.publicUrl}/auth/${provider}/callback`;
  return {
    fake,
    backend,
    ns,
    config: {
      kubernetes: { namespace: ns },
      backend: { url: backend.url },
      oauth: { github: { callbackUrl: callback('github') }, google: { callbackUrl: callback('google') } },
      rollout: { timeout: '30s' },
    },
    secretData: () => fake.getSecretData(ns, SECRET) ?? {},
    callback,
    async liveClientId(provider) {
      const res = await fetch(`${backend.url}/auth/${provider}`, { redirect: 'manual' });
      await res.arrayBuffer();
      const location = res.headers.get('location');
      return location ? new URL(location).searchParams.get('client_id') : null;
    },
  };
}
