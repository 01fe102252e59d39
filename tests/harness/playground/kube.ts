/**
 * The playground's cluster in the fake Kubernetes API: namespace autostack with the backend
 * Deployment (two revisions, two pods, one crashed once), its Secret, the database StatefulSet,
 * the Ingress, an ingress-nginx controller, and their logs. Times are backdated so `history` and
 * pod ages read like a running platform. A ticker keeps traffic (and the attack) going.
 */
import ipaddr from 'ipaddr.js';
import { FakeKube } from '../fake-kube.ts';
import type { Deployment, LogLine, Pod, ReplicaSet, StatefulSet } from '../fake-kube.ts';
import { resourceInfo } from '../fake-kube/resources.ts';
import { DENYLIST_ANNOTATION } from '../../../commands/incident/ratelimit/blocklist.ts';
import { ATTACKERS, BACKEND, DATABASE, INGRESS_CONTROLLER, NAMESPACE, PROBE_IP, PUBLIC_URL, VISITORS } from './world.ts';
import { ingressLine, podLogs, random, uvicornLine } from './logs.ts';
import type { Request } from './logs.ts';

const HOUR = 3_600_000;

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

function rfc3339(time: Date): string {
  return `${time.toISOString().slice(0, 19)}Z`;
}

/** Moves an object's creation (and a pod's start) back in time; the store keeps what it is given. */
function backdate<T extends Deployment | ReplicaSet | StatefulSet | Pod>(fake: FakeKube, resource: 'deployments' | 'replicasets' | 'statefulsets' | 'pods', obj: T, created: Date): void {
  const next = structuredClone(obj);
  next.metadata.creationTimestamp = rfc3339(created);
  fake.store.put(resourceInfo(resource), next);
}

function backdatePod(fake: FakeKube, pod: Pod, started: Date, crash?: { at: Date; restarted: Date }): void {
  const next = structuredClone(fake.getObject<Pod>('pods', NAMESPACE, pod.metadata.name ?? '') ?? pod);
  next.metadata.creationTimestamp = rfc3339(started);
  if (next.status) {
    next.status.startTime = rfc3339(started);
    for (const status of next.status.containerStatuses ?? []) {
      if (status.state.running) status.state.running.startedAt = rfc3339(crash?.restarted ?? started);
      if (crash && status.lastState.terminated) {
        status.lastState.terminated = { ...status.lastState.terminated, exitCode: 3, reason: 'Error', startedAt: rfc3339(started), finishedAt: rfc3339(crash.at) };
      }
    }
  }
  fake.store.put(resourceInfo('pods'), next);
}

function podIp(pod: Pod): string {
  const ip = pod.status?.podIP;
  return typeof ip === 'string' ? ip : '10.244.1.10';
}

export interface SeededCluster {
  backendPods: string[];
  crashedPod: string;
  ingressPod: string;
  dbPod: string;
}

export function seedCluster(fake: FakeKube, secrets: BackendSecrets, now: Date): SeededCluster {
  fake.seedNamespace(NAMESPACE, { 'kubernetes.io/metadata.name': NAMESPACE });
  fake.seedSecret(NAMESPACE, BACKEND.secret, { ...secrets }, { labels: { app: BACKEND.deployment } });

  const [first, ...later] = BACKEND.revisions;
  const current = later[later.length - 1] ?? first!;
  fake.seedDeployment({
    namespace: NAMESPACE,
    name: BACKEND.deployment,
    image: `${BACKEND.image}:${current.tag}`,
    changeCause: current.changeCause,
    revisions: BACKEND.revisions.slice(0, -1).map((r) => ({ image: `${BACKEND.image}:${r.tag}`, changeCause: r.changeCause })),
    replicas: BACKEND.replicas,
    labels: { app: BACKEND.deployment, 'app.kubernetes.io/part-of': 'autostack' },
    containers: [
      {
        name: BACKEND.container,
        image: `${BACKEND.image}:${first!.tag}`,
        ports: [{ containerPort: BACKEND.port, name: 'http' }],
        envFrom: [{ secretRef: { name: BACKEND.secret } }],
        readinessProbe: { httpGet: { path: '/health', port: BACKEND.port }, periodSeconds: 10 },
        resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } },
      },
    ],
  });
  fake.seedDeployment({
    namespace: NAMESPACE,
    name: INGRESS_CONTROLLER.deployment,
    image: INGRESS_CONTROLLER.image,
    containerName: 'controller',
    labels: { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' },
    containerPort: 80,
  });
  fake.seedStatefulSet({ namespace: NAMESPACE, name: DATABASE.workload, image: DATABASE.image, containerName: 'postgres', labels: { app: DATABASE.workload } });
  fake.seedIngress({
    namespace: NAMESPACE,
    name: 'autostack',
    host: new URL(PUBLIC_URL).host,
    serviceName: BACKEND.deployment,
    servicePort: BACKEND.port,
    ingressClassName: 'nginx',
    tlsSecretName: 'autostack-tls',
    annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '10m', 'cert-manager.io/cluster-issuer': 'letsencrypt' },
  });

  // Ages: the backend Deployment since its first revision, each ReplicaSet since its deploy.
  const ago = (hours: number) => new Date(now.getTime() - hours * HOUR);
  const deployment = fake.getDeployment(NAMESPACE, BACKEND.deployment)!;
  backdate(fake, 'deployments', deployment, ago(first!.hoursAgo));
  fake.getReplicaSets(NAMESPACE, BACKEND.deployment).forEach((rs, i) => backdate(fake, 'replicasets', rs, ago(BACKEND.revisions[i]?.hoursAgo ?? 0)));
  backdate(fake, 'deployments', fake.getDeployment(NAMESPACE, INGRESS_CONTROLLER.deployment)!, ago(24 * 41));
  backdate(fake, 'statefulsets', fake.getStatefulSet(NAMESPACE, DATABASE.workload)!, ago(24 * 41));

  const pods = fake.getDeploymentPods(NAMESPACE, BACKEND.deployment, 'live').sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  const names = pods.map((p) => p.metadata.name ?? '');
  const ips = pods.map((p) => podIp(p));
  const logs = podLogs(now, pods.length, ips);
  names.forEach((pod, i) => fake.appendLogs(NAMESPACE, pod, logs.backend[i] ?? []));
  const crashedPod = names[names.length - 1]!;
  fake.appendLogs(NAMESPACE, crashedPod, logs.crashed, { previous: true });
  const deployedAt = ago(current.hoursAgo);
  pods.forEach((pod, i) => {
    const started = new Date(deployedAt.getTime() + i * 40_000);
    const crash = i === pods.length - 1 ? { at: new Date(deployedAt.getTime() + 10 * 60_000), restarted: new Date(deployedAt.getTime() + 10 * 60_000 + 15_000) } : undefined;
    backdatePod(fake, pod, started, crash);
  });

  const ingressPod = fake.getDeploymentPods(NAMESPACE, INGRESS_CONTROLLER.deployment)[0]!;
  fake.appendLogs(NAMESPACE, ingressPod.metadata.name!, logs.ingress);
  backdatePod(fake, ingressPod, ago(24 * 41));
  const dbPod = fake.getPods(NAMESPACE, { app: DATABASE.workload })[0]!;
  fake.appendLogs(NAMESPACE, dbPod.metadata.name!, logs.db);
  backdatePod(fake, dbPod, ago(26));

  // Migrations (db migrate, deploy with migrate): the database is at head, so alembic prints only
  // its two context lines and exits 0.
  fake.onJob((job) => {
    const commands = job.spec?.template?.spec?.containers?.flatMap((c) => [...((c.command as string[] | undefined) ?? []), ...((c.args as string[] | undefined) ?? [])]) ?? [];
    if (!commands.includes('alembic')) return undefined;
    return { succeed: true, logs: ['INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.', 'INFO  [alembic.runtime.migration] Will assume transactional DDL.'] };
  });

  return { backendPods: names, crashedPod, ingressPod: ingressPod.metadata.name!, dbPod: dbPod.metadata.name! };
}

/** Networks in the Ingress's deny list: their requests end at the ingress with 403. */
function deniedNetworks(fake: FakeKube): Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> {
  const value = fake.getIngress(NAMESPACE, 'autostack')?.metadata.annotations?.[DENYLIST_ANNOTATION] ?? '';
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
export function startTraffic(fake: FakeKube, everyMs = 15_000): () => void {
  const rnd = random(Date.now() & 0xffff);
  let tick = 0;
  const timer = setInterval(() => {
    try {
      const now = new Date();
      const denied = deniedNetworks(fake);
      const pods = fake.getDeploymentPods(NAMESPACE, BACKEND.deployment, 'live').filter((p) => p.status?.phase === 'Running');
      const ingress = fake.getDeploymentPods(NAMESPACE, INGRESS_CONTROLLER.deployment)[0];
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
        ingressLines.push({ time: r.time, text: ingressLine(answered, blocked ? '-' : `${podIp(pods[pod]!)}:${BACKEND.port}`, Math.floor(rnd() * 2 ** 48).toString(16).padStart(32, '0')) });
        if (!blocked) backendLines[pod]!.push({ time: r.time, text: uvicornLine(r, 40000 + Math.floor(rnd() * 20000)) });
      });
      pods.forEach((pod, i) => {
        const lines = backendLines[i]!;
        lines.push({ time: now, text: `INFO:     ${PROBE_IP}:${50000 + Math.floor(rnd() * 9000)} - "GET /health HTTP/1.1" 200 OK` });
        fake.appendLogs(NAMESPACE, pod.metadata.name!, lines);
      });
      if (ingress) fake.appendLogs(NAMESPACE, ingress.metadata.name!, ingressLines);
      tick++;
    } catch {
      // a pod went away between listing and writing (rollout): the next tick writes to the new ones
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
