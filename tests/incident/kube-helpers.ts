/** A fake Kubernetes API per test file, and KubeClients (the real client library) pointed at it. */
import { afterAll } from 'vitest';
import { kubeClientsFrom } from '../../src/clients.ts';
import type { KubeClients } from '../../src/core/types.ts';
import { FakeKube } from '../harness/fake-kube.ts';

export function kubeClientsFor(fake: FakeKube, namespace = 'default'): KubeClients {
  return kubeClientsFrom(fake.kubeConfig({ namespace }));
}

/** Starts a fake API server that is closed after the test file. */
export async function startFakeKube(): Promise<{ fake: FakeKube; kube: KubeClients }> {
  const fake = await FakeKube.start();
  afterAll(() => fake.close());
  return { fake, kube: kubeClientsFor(fake) };
}
