/** A fake Kubernetes API per test file, and KubeClients (the real client library) pointed at it. */
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';
import { afterAll } from 'vitest';
import type { KubeClients } from '../../src/core/types.ts';
import { FakeKube } from '../harness/fake-kube.ts';

export function kubeClientsFor(fake: FakeKube, namespace = 'default'): KubeClients {
  // The client library refuses plain HTTP unless the cluster entry skips TLS verification.
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'fake', server: fake.url, skipTLSVerify: true }],
    users: [{ name: 'fake-user', token: fake.token }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fake-user', namespace }],
    currentContext: 'fake',
  });
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    batch: config.makeApiClient(BatchV1Api),
    networking: config.makeApiClient(NetworkingV1Api),
  };
}

/** Starts a fake API server that is closed after the test file. */
export async function startFakeKube(): Promise<{ fake: FakeKube; kube: KubeClients }> {
  const fake = await FakeKube.start();
  afterAll(() => fake.close());
  return { fake, kube: kubeClientsFor(fake) };
}
