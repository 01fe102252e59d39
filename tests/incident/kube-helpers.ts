/**
 * Command contexts working in a namespace of their own on the test control plane, as the bot
 * would: under its ServiceAccount and Role (see tests/harness/kube-env.ts).
 */
import { testContext } from '../harness/context.ts';
import type { TestContext, TestContextOptions } from '../harness/context.ts';
import { kubeNamespace } from '../harness/kube-env.ts';
import type { TestNamespace } from '../harness/kube-env.ts';

/**
 * A new namespace and a context whose Kubernetes clients and `kubernetes.namespace` point at
 * it; `options.config` is laid over that (and may replace `kubernetes`).
 */
export async function namespaceContext(options: Omit<TestContextOptions, 'kube'> = {}): Promise<{ ns: TestNamespace; ctx: TestContext }> {
  const ns = await kubeNamespace();
  const ctx = testContext({ ...options, kube: ns.bot, config: { kubernetes: { namespace: ns.name }, ...options.config } });
  return { ns, ctx };
}
