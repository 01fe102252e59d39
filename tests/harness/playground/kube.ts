/**
 * The playground's cluster, on its own Kubernetes control plane: namespace autostack with the
 * backend Deployment (two revisions, two pods, one restarted once after a crash), its Secret, the
 * database StatefulSet, the Ingress, an ingress-nginx controller, and their logs (kwok serves them
 * from files). Pods report they started when the story says; the API server stamps every object's
 * creation itself, so Deployments and ReplicaSets are as old as the playground. A ticker keeps
 * traffic (and the attack) going.
 */
import ipaddr from 'ipaddr.js';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { DENYLIST_ANNOTATION } from '../../../commands/incident/ratelimit/blocklist.ts';
import { createDeployment, createDeploymentWithHistory, deploymentPods, setPodLogs } from '../kube-env.ts';
import type { LogLine, TestNamespace } from '../kube-env.ts';
import { RESTARTED_AT_ANNOTATION, STARTED_AT_ANNOTATION } from '../kube.ts';
import { waitUntil } from '../services.ts';
import { ATTACKERS, BACKEND, DATABASE, INGRESS_CONTROLLER, PROBE_IP, PUBLIC_URL, VISITORS } from './world.ts';
import { ingressLine, podLogs, random, uvicornLine } from './logs.ts';
import type { Request } from './logs.ts';

const HOUR = 3_600_000;
const WAIT_MS = 60_000;
const INGRESS = 'autostack';

/** What the Secret backend-env holds (the backend's environment). */
export interface BackendSecrets {
  GITHUB_CLIENT_ID: string;
  GITHUB_CLIENT_SECRET: string;
  GOOGLE_CLIENT_ID: string;
  GOOGLE_CLIENT_SECRET: string;
  JWT_SECRET: string;
  SECRET_KEY: string;
  DATABASE_URL: string;
  REDIS_URL: string;
}

/** The log files kwok serves, one per pod and container; pods started later (a rollout) get theirs on first write. */
export class PodLogFiles {
  private readonly appenders = new Map<string, Promise<(container: string, lines: LogLine[]) => void>>();

  constructor(private readonly ns: TestNamespace) {}

  /** Registers `pod`'s logs (and its previous container's); waits until kwok serves them. */
  async create(pod: string, container: string, lines: LogLine[], previous?: LogLine[]): Promise<void> {
    const appender = setPodLogs(this.ns, pod, { [container]: { lines, previous } });
    this.appenders.set(pod, appender);
    await appender;
  }

  async append(pod: string, container: string, lines: LogLine[]): Promise<void> {
    if (!this.appenders.has(pod)) await this.create(pod, container, []);
    (await this.appenders.get(pod)!)(container, lines);
  }
}

export interface SeededCluster {
  backendPods: string[];
  crashedPod: string;
  ingressPod: string;
  dbPod: string;
  logs: PodLogFiles;
}

function podIp(pod: V1Pod, index: number): string {
  return pod.status?.podIP ?? `10.244.1.${10 + index}`;
}

async function createDatabase(ns: TestNamespace, startedAt: Date): Promise<V1Pod> {
  const labels = { app: DATABASE.workload };
  await ns.kube.apps.createNamespacedStatefulSet({
    namespace: ns.name,
    body: {
      metadata: { name: DATABASE.workload, labels },
      spec: {
        serviceName: DATABASE.workload,
        replicas: 1,
        selector: { matchLabels: labels },
        template: { metadata: { labels, annotations: { [STARTED_AT_ANNOTATION]: startedAt.toISOString() } }, spec: { containers: [{ name: 'postgres', image: DATABASE.image }] } },
      },
    },
  });
  let pod: V1Pod | undefined;
  await waitUntil(`StatefulSet ${DATABASE.workload}'s pod to run`, WAIT_MS, async () => {
    pod = (await deploymentPods(ns, DATABASE.workload)).find((p) => p.status?.phase === 'Running');
    return Boolean(pod);
  });
  return pod!;
}

async function createIngress(ns: TestNamespace): Promise<void> {
  const host = new URL(PUBLIC_URL).host;
  await ns.kube.networking.createNamespacedIngress({
    namespace: ns.name,
    body: {
      metadata: { name: INGRESS, annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '10m', 'cert-manager.io/cluster-issuer': 'letsencrypt' } },
      spec: {
        ingressClassName: 'nginx',
        tls: [{ hosts: [host], secretName: 'autostack-tls' }],
        rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: BACKEND.deployment, port: { number: BACKEND.port } } } }] } }],
      },
    },
  });
}

/** Marks `pod` as restarted once at `at` after a crash (kwok's pod-restarted stage) and waits until it reports so. */
async function restartOnce(ns: TestNamespace, pod: string, at: Date): Promise<void> {
  await ns.kube.core.patchNamespacedPod(
    { name: pod, namespace: ns.name, body: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: at.toISOString() } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  await waitUntil(`pod ${pod} to report its restart`, WAIT_MS, async () => {
    const current = await ns.kube.core.readNamespacedPod({ name: pod, namespace: ns.name });
    return current.status?.containerStatuses?.[0]?.restartCount === 1;
  });
}

export async function seedCluster(ns: TestNamespace, secrets: BackendSecrets, now: Date): Promise<SeededCluster> {
  const ago = (hours: number) => new Date(now.getTime() - hours * HOUR);
  const current = BACKEND.revisions[BACKEND.revisions.length - 1]!;
  const deployedAt = ago(current.hoursAgo);
  await ns.kube.core.createNamespacedSecret({ namespace: ns.name, body: { metadata: { name: BACKEND.secret, labels: { app: BACKEND.deployment } }, stringData: { ...secrets } } });
  const [, , dbPod] = await Promise.all([
    createDeploymentWithHistory(ns, {
      name: BACKEND.deployment,
      replicas: BACKEND.replicas,
      revisions: BACKEND.revisions.map((r) => ({ image: `${BACKEND.image}:${r.tag}`, changeCause: r.changeCause })),
      startedAt: deployedAt,
    }),
    createDeployment(ns, { name: INGRESS_CONTROLLER.deployment, image: INGRESS_CONTROLLER.image, container: 'controller', startedAt: ago(24 * 41) }),
    createDatabase(ns, ago(26)),
    createIngress(ns),
  ]);

  const pods = await deploymentPods(ns, BACKEND.deployment);
  const names = pods.map((p) => p.metadata!.name!);
  const crashedPod = names[names.length - 1]!;
  // Ten minutes after the deploy the last pod's container lost the database and was restarted.
  await restartOnce(ns, crashedPod, new Date(deployedAt.getTime() + 10 * 60_000 + 15_000));

  const logs = new PodLogFiles(ns);
  const lines = podLogs(now, pods.length, pods.map(podIp));
  const ingressPod = (await deploymentPods(ns, INGRESS_CONTROLLER.deployment))[0]!.metadata!.name!;
  await Promise.all([
    ...names.map((pod, i) => logs.create(pod, BACKEND.container, lines.backend[i] ?? [], pod === crashedPod ? lines.crashed : undefined)),
    logs.create(ingressPod, 'controller', lines.ingress),
    logs.create(dbPod.metadata!.name!, 'postgres', lines.db),
  ]);
  return { backendPods: names, crashedPod, ingressPod, dbPod: dbPod.metadata!.name!, logs };
}

/** Networks in the Ingress's deny list: their requests end at the ingress with 403. */
async function deniedNetworks(ns: TestNamespace): Promise<Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>> {
  const ingress = await ns.kube.networking.readNamespacedIngress({ name: INGRESS, namespace: ns.name });
  const value = ingress.metadata?.annotations?.[DENYLIST_ANNOTATION] ?? '';
  const out: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [];
  for (const entry of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    try {
      out.push(entry.includes('/') ? ipaddr.parseCIDR(entry) : [ipaddr.parse(entry), ipaddr.parse(entry).kind() === 'ipv4' ? 32 : 128]);
    } catch {
      // not an address: ingress-nginx would refuse the annotation; ignore it here
    }
  }
  return out;
}

function isDenied(ip: string, networks: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>): boolean {
  const address = ipaddr.parse(ip);
  return networks.some(([net, bits]) => {
    if (address instanceof ipaddr.IPv4 && net instanceof ipaddr.IPv4) return address.match(net, bits);
    if (address instanceof ipaddr.IPv6 && net instanceof ipaddr.IPv6) return address.match(net, bits);
    return false;
  });
}

/**
 * Live traffic every `everyMs`: visitors, probes and the heaviest attacker still knocking on /login
 * (below the alert threshold now). Clients in the Ingress's deny list get 403 from the ingress and
 * never reach the backend, as with ingress-nginx. Returns the function that stops it.
 */
export function startTraffic(ns: TestNamespace, cluster: SeededCluster, everyMs = 15_000): () => void {
  const rnd = random(Date.now() & 0xffff);
  let tick = 0;
  let busy = false;
  const write = async () => {
    const now = new Date();
    const denied = await deniedNetworks(ns);
    const pods = (await deploymentPods(ns, BACKEND.deployment)).filter((p) => p.status?.phase === 'Running');
    if (pods.length === 0) return;
    const attacker = ATTACKERS[0];
    const requests: Request[] = [
      ...Array.from({ length: 8 }, (_, i) => ({ time: new Date(now.getTime() - i * 1500), ip: attacker.ip, method: 'POST', path: attacker.path, status: 429, agent: attacker.agent })),
      { time: now, ip: VISITORS[tick % VISITORS.length]!, method: 'GET', path: '/api/deployments', status: 200, agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0' },
    ].sort((a, b) => a.time.getTime() - b.time.getTime());
    const backendLines: LogLine[][] = pods.map(() => []);
    const ingressLines: LogLine[] = [];
    requests.forEach((r, i) => {
      const pod = i % pods.length;
      const blocked = isDenied(r.ip, denied);
      const answered = blocked ? { ...r, status: 403 } : r;
      ingressLines.push({ time: r.time, text: ingressLine(answered, blocked ? '-' : `${podIp(pods[pod]!, pod)}:${BACKEND.port}`, Math.floor(rnd() * 2 ** 48).toString(16).padStart(32, '0')) });
      if (!blocked) backendLines[pod]!.push({ time: r.time, text: uvicornLine(r, 40000 + Math.floor(rnd() * 20000)) });
    });
    // The ingress first, as a request passes it before the backend.
    await cluster.logs.append(cluster.ingressPod, 'controller', ingressLines);
    await Promise.all(
      pods.map((pod, i) => {
        const lines = backendLines[i]!;
        lines.push({ time: now, text: `INFO:     ${PROBE_IP}:${50000 + Math.floor(rnd() * 9000)} - "GET /health HTTP/1.1" 200 OK` });
        return cluster.logs.append(pod.metadata!.name!, BACKEND.container, lines);
      }),
    );
    tick++;
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    // A pod that went away between listing and writing (rollout), or a control plane stopping: the next tick writes again.
    write()
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
