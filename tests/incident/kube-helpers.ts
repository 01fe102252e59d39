/**
 * A fake Kubernetes API per test file, KubeClients (the real client library) pointed at it, and
 * command contexts working in a namespace of their own.
 */
import { afterAll } from 'vitest';
import { kubeClientsFrom } from '../../src/clients.ts';
import type { KubeClients } from '../../src/core/types.ts';
import { testContext } from '../harness/context.ts';
import type { TestContext, TestContextOptions } from '../harness/context.ts';
import { uniqueName } from '../harness/env.ts';
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

/**
 * A new namespace in `fake` and a context whose Kubernetes clients and `kubernetes.namespace`
 * point at it; `options.config` is laid over that (and may replace `kubernetes`).
 */
export function namespaceContext(fake: FakeKube, options: Omit<TestContextOptions, 'kube'> = {}): { ns: string; ctx: TestContext } {
  const ns = uniqueName('ns');
  fake.seedNamespace(ns);
  const ctx = testContext({ ...options, kube: fake.kubeConfig({ namespace: ns }), config: { kubernetes: { namespace: ns }, ...options.config } });
  return { ns, ctx };
}
