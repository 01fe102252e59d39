/**
 * Vitest globalSetup: starts one private Redis, PostgreSQL, moto_server,
 * Alertmanager and Kubernetes control plane per test run and hands their coordinates to the
 * test files via `inject('services')` and `inject('kube')` (see
 * tests/harness/env.ts and tests/harness/kube-env.ts for the helpers built on
 * them).
 */
import type { TestProject } from 'vitest/node';
import { startControlPlane } from './kube.ts';
import type { KubeCoordinates } from './kube.ts';
import { startAllServices } from './services.ts';
import type { ServiceCoordinates } from './services.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    services: ServiceCoordinates;
    kube: KubeCoordinates;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [services, kube] = await Promise.allSettled([startAllServices(), startControlPlane()]);
  if (services.status !== 'fulfilled' || kube.status !== 'fulfilled') {
    await Promise.allSettled([services, kube].map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    const reasons = [services, kube].flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []));
    throw new Error(reasons.join('\n'));
  }
  project.provide('services', services.value.coordinates);
  const { stop: stopKube, ...kubeCoordinates } = kube.value;
  project.provide('kube', kubeCoordinates);

  // Defaults for code under test: worker processes are forked after this runs,
  // so they inherit these. Static credentials and the moto endpoint make sure
  // nothing can reach a real AWS account.
  process.env.AWS_ENDPOINT_URL = services.value.coordinates.awsEndpoint;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';

  return async () => {
    await Promise.all([services.value.stop(), stopKube()]);
  };
}
