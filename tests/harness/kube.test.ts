/**
 * The test control plane: it is real Kubernetes (workloads roll out, Jobs end,
 * pod logs come from kwok through the API server), the bot's account has only
 * what deploy/kubernetes/bot-role.yaml grants, and stopping a control plane
 * leaves nothing behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubeClientsFrom } from '../../src/clients.ts';
import { kubeConfigFor, startControlPlane } from './kube.ts';
import { botRoleRules, createDeployment, deploymentPods, kubeCoordinates, kubeNamespace, setPodLogs } from './kube-env.ts';
import { INSTALL_HINT, processGroupMembers, trackedPids } from './services.ts';

function status(error: unknown): number | undefined {
  return (error as { code?: number }).code;
}

describe('the test control plane', () => {
  it('rolls out a Deployment onto the kwok node and serves its pod logs through the API server', async () => {
    const ns = await kubeNamespace();
    await createDeployment(ns, { name: 'web', image: 'web:1', replicas: 2 });
    const pods = await deploymentPods(ns, 'web');
    expect(pods.map((p) => p.status?.phase)).toEqual(['Running', 'Running']);
    const pod = pods[0]!.metadata!.name!;
    const started = new Date(Date.UTC(2025, 0, 2, 3, 4, 5));
    await setPodLogs(ns, pod, { web: { lines: [{ text: 'listening on :8080', time: started }], previous: ['panic: boom'] } });
    const bot = kubeClientsFrom(ns.bot);
    expect(await bot.core.readNamespacedPodLog({ name: pod, namespace: ns.name, container: 'web' })).toBe('listening on :8080\n');
    expect(await bot.core.readNamespacedPodLog({ name: pod, namespace: ns.name, container: 'web', previous: true })).toBe('panic: boom\n');
    const stamped = await bot.core.readNamespacedPodLog({ name: pod, namespace: ns.name, container: 'web', timestamps: true });
    expect(stamped).toBe('2025-01-02T03:04:05.000000000Z listening on :8080\n');
  });

  it("gives the bot's account what its Role grants in its own namespace, and nothing else", async () => {
    const ns = await kubeNamespace();
    const other = await kubeNamespace();
    const bot = kubeClientsFrom(ns.bot);
    await bot.core.listNamespacedPod({ namespace: ns.name });
    // Not granted: deleting pods, reading ConfigMaps, anything in another namespace.
    const refusals = await Promise.all([
      bot.core.deleteCollectionNamespacedPod({ namespace: ns.name }).catch(status),
      bot.core.listNamespacedConfigMap({ namespace: ns.name }).catch(status),
      bot.core.listNamespacedPod({ namespace: other.name }).catch(status),
    ]);
    expect(refusals).toEqual([403, 403, 403]);
  });

  it('refuses a call once its grant is taken out of the Role', async () => {
    const rules = botRoleRules().filter((rule) => !(rule.resources ?? []).includes('pods/log'));
    expect(rules.length).toBe(botRoleRules().length - 1);
    const ns = await kubeNamespace({ rules });
    await createDeployment(ns, { name: 'web', image: 'web:1' });
    const pod = (await deploymentPods(ns, 'web'))[0]!.metadata!.name!;
    const bot = kubeClientsFrom(ns.bot);
    await bot.core.readNamespacedPod({ name: pod, namespace: ns.name });
    expect(await bot.core.readNamespacedPodLog({ name: pod, namespace: ns.name }).catch(status)).toBe(403);
  });

  it('fails fast with the install command when the binaries are missing', async () => {
    const saved = process.env.AUTOSTACK_TOOLS_CACHE;
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-kube-'));
    process.env.AUTOSTACK_TOOLS_CACHE = empty;
    try {
      await expect(startControlPlane()).rejects.toThrow(new RegExp(`kube-apiserver.*install the test dependencies with: ${INSTALL_HINT.replace(/\./g, '\\.')}`));
    } finally {
      if (saved === undefined) delete process.env.AUTOSTACK_TOOLS_CACHE;
      else process.env.AUTOSTACK_TOOLS_CACHE = saved;
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  it('starts a control plane of its own and leaves no process or directory behind', async () => {
    const plane = await startControlPlane();
    try {
      expect(plane.server).not.toBe(kubeCoordinates().server);
      const core = kubeConfigFor(plane, plane.adminToken).makeApiClient(CoreV1Api);
      expect((await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' })).metadata?.name).toBe('default');
      expect(trackedPids()).toEqual(expect.arrayContaining(plane.pids));
      for (const pid of plane.pids) expect(processGroupMembers(pid)).toContain(pid);
      expect(fs.existsSync(plane.dir)).toBe(true);
    } finally {
      await plane.stop();
    }
    for (const pid of plane.pids) expect(processGroupMembers(pid)).toEqual([]);
    for (const pid of plane.pids) expect(trackedPids()).not.toContain(pid);
    expect(fs.existsSync(plane.dir)).toBe(false);
  });
});
