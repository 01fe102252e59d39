/**
 * A private, throw-away Kubernetes control plane for the tests: etcd,
 * kube-apiserver, kube-controller-manager, kube-scheduler and kwok (which plays
 * the kubelet of one node: it runs no containers, it moves pods through the
 * phases its stages describe and serves their logs from files).
 *
 * Everything listens on 127.0.0.1 and lives in one temporary directory;
 * stopping it stops the API server before etcd (in the other order the API
 * server hangs on to its etcd connection and ignores SIGTERM) and removes the
 * directory. Authentication: a static token for the admin, ServiceAccount
 * tokens for everyone else; authorization: RBAC.
 *
 * Build the binaries with `bash scripts/install-test-deps.sh` (it runs
 * scripts/build-kube.sh, which pins their versions).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ApiextensionsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { INSTALL_HINT, START_ATTEMPTS, freePort, launch, makeTempDir, onFreePort, removeDir, waitUntil } from './services.ts';
import type { StartedProcess } from './services.ts';

const execFileAsync = promisify(execFile);

const HOST = '127.0.0.1';
const BUILD_SCRIPT = fileURLToPath(new URL('../../scripts/build-kube.sh', import.meta.url));
const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
const CRDS = ['kwok.x-k8s.io_logs.yaml', 'kwok.x-k8s.io_clusterlogs.yaml'] as const;

/** Name of the one (kwok) node every pod is scheduled to. */
export const NODE_NAME = 'kwok-node';
/**
 * A Job's pod whose container runs `sh -c 'exit N'` ends Failed with exit code
 * N, as it would for real (see the job-pod-fail stage); other Job pods succeed.
 */
export const failingCommand = (exitCode: number): string[] => ['sh', '-c', `exit ${exitCode}`];
const FAILING_COMMAND_KEY = '.spec.containers.[0].command | select( .[0] == "sh" and .[1] == "-c" and ( .[2] | startswith("exit ") ) ) | .[2]';
/**
 * A pod (not a Job's) whose container has this environment variable
 * crash-loops: CrashLoopBackOff, restarted that many times, its last run
 * ended with exit code 1 (see the pod-crash-loop stage).
 */
export const RESTART_COUNT_ENV = 'KWOK_RESTART_COUNT';
/**
 * A pod (not a Job's) whose container image tag ends with this crash-loops
 * like one with RESTART_COUNT_ENV: for a deploy of a broken release, which
 * changes only the image.
 */
export const CRASHLOOP_IMAGE_SUFFIX = '-crashloop';
/** A stage selector key: present when the pod's container crash-loops (RESTART_COUNT_ENV or a broken image). */
const CRASHING_KEY = `.spec.containers.[] | select( ( .image | endswith("${CRASHLOOP_IMAGE_SUFFIX}") ) or ( ( .env // [] ) | any( .name == "${RESTART_COUNT_ENV}" ) ) ) | .name`;
/**
 * A pod with this annotation (RFC 3339) is reported started at that time: kwok
 * stamps a pod's start as "now", and tests of log windows need pods that have
 * been running for a while (see the pod-ready stage).
 */
export const STARTED_AT_ANNOTATION = 'test.autostack.dev/started-at';
/**
 * A running pod annotated with this (RFC 3339) reports that its container crashed (exit code 3)
 * and was restarted once at that time, its previous run having started with the pod (see the
 * pod-restarted stage): for a pod with a previous container's log.
 */
export const RESTARTED_AT_ANNOTATION = 'test.autostack.dev/restarted-at';
/** A status template expression: the pod's annotation `key`, else now. */
const annotatedTime = (key: string) => `{{ $at := Now }}{{ with $.metadata.annotations }}{{ with index . "${key}" }}{{ $at = . }}{{ end }}{{ end }}{{ $at | Quote }}`;
const startedAt = annotatedTime(STARTED_AT_ANNOTATION);

/** What test files get (through vitest's provide/inject) to reach the control plane. */
export interface KubeCoordinates {
  /** https://127.0.0.1:PORT */
  server: string;
  /** PEM of the API server's (self-signed) certificate. */
  caPem: string;
  /** Bearer token of a member of system:masters. */
  adminToken: string;
  /** Directory where tests put the CRI-format log files kwok serves. */
  logsDir: string;
  pids: number[];
  dir: string;
}

export interface ControlPlane extends KubeCoordinates {
  stop(): Promise<void>;
}

/** The folder scripts/build-kube.sh builds the binaries into (it alone knows the versions). */
export async function kubeBinDir(): Promise<string> {
  const { stdout } = await execFileAsync('bash', [BUILD_SCRIPT, '--print-dir']);
  return stdout.trim();
}

function requireInstalled(binDir: string): void {
  const missing = [...BINARIES, ...CRDS.map((crd) => path.join('crds', crd))].filter((file) => !fs.existsSync(path.join(binDir, file)));
  if (missing.length > 0) {
    throw new Error(`Kubernetes control plane binaries missing in ${binDir} (${missing.join(', ')}); install the test dependencies with: ${INSTALL_HINT}`);
  }
}

/** A kubeconfig (YAML) for `coordinates` as `token`, with `namespace` as the context's namespace. */
export function kubeconfigYaml(coordinates: Pick<KubeCoordinates, 'server' | 'caPem'>, token: string, namespace = 'default'): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: coordinates.server, 'certificate-authority-data': Buffer.from(coordinates.caPem).toString('base64') } }],
    users: [{ name: 'test-user', user: { token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'test-user', namespace } }],
    'current-context': 'test',
  });
}

export function kubeConfigFor(coordinates: Pick<KubeCoordinates, 'server' | 'caPem'>, token: string, namespace = 'default'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(coordinates, token, namespace));
  return kc;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/** GET `url` over TLS trusting `caPem`; true on a 200. */
function httpsOk(url: string, caPem: string, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(url, { ca: caPem, headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.ok;
}

/** A status template expression: the value of a container's environment variable `name`, else `fallback`. */
const envValue = (name: string, fallback: string) =>
  `{{ $v := ${fallback} }}{{ range $.spec.containers }}{{ range .env }}{{ if eq .name "${name}" }}{{ $v = .value }}{{ end }}{{ end }}{{ end }}{{ $v }}`;

/**
 * A running, ready pod started at its STARTED_AT_ANNOTATION (or now); `restarted`: its container
 * crashed (exit code 3) and runs again since its RESTARTED_AT_ANNOTATION.
 */
function runningStatus(restarted: boolean): string {
  const since = restarted ? annotatedTime(RESTARTED_AT_ANNOTATION) : startedAt;
  const previous = restarted ? `
  lastState:
    terminated:
      exitCode: 3
      reason: Error
      startedAt: ${startedAt}
      finishedAt: ${since}` : '';
  return `
conditions:
- { lastTransitionTime: {{ Now | Quote }}, status: "True", type: Initialized }
- { lastTransitionTime: {{ Now | Quote }}, status: "True", type: Ready }
- { lastTransitionTime: {{ Now | Quote }}, status: "True", type: ContainersReady }
- { lastTransitionTime: {{ Now | Quote }}, status: "True", type: PodScheduled }
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  restartCount: ${restarted ? 1 : 0}
  started: true
  state:
    running:
      startedAt: ${since}${previous}
{{ end }}
phase: Running
startTime: ${startedAt}
`;
}

/**
 * kwok's stages: the node gets Ready; a pod gets Running (and Ready, started
 * now or at its STARTED_AT_ANNOTATION; restarted once when annotated with
 * RESTARTED_AT_ANNOTATION), or
 * crash-loops when its container has RESTART_COUNT_ENV or a broken image; a Job's pod then
 * succeeds, or fails with the exit code of its `sh -c 'exit N'` command; a
 * deleted pod goes away.
 */
function kwokConfig(): string {
  const terminated = (exitCode: string, reason: string, phase: string) => `
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    terminated:
      exitCode: ${exitCode}
      finishedAt: {{ Now | Quote }}
      reason: ${reason}
      startedAt: {{ Now | Quote }}
{{ end }}
phase: ${phase}
`;
  const failedExitCode = '{{ trimPrefix "exit " (index (index $.spec.containers 0).command 2) }}';
  const stages = [
    {
      name: 'node-initialize',
      kind: 'Node',
      selector: { matchExpressions: [{ key: '.status.conditions.[] | select( .type == "Ready" ) | .status', operator: 'NotIn', values: ['True'] }] },
      statusTemplate: `
conditions:
- lastHeartbeatTime: {{ Now | Quote }}
  lastTransitionTime: {{ Now | Quote }}
  message: kwok node
  reason: KubeletReady
  status: "True"
  type: Ready
addresses:
- address: {{ NodeIP | Quote }}
  type: InternalIP
- address: {{ NodeName | Quote }}
  type: Hostname
daemonEndpoints:
  kubeletEndpoint:
    Port: {{ NodePort }}
allocatable: { cpu: 1k, memory: 1Ti, pods: 1M }
capacity: { cpu: 1k, memory: 1Ti, pods: 1M }
nodeInfo: { architecture: amd64, operatingSystem: linux, kubeletVersion: kwok, containerRuntimeVersion: kwok, kernelVersion: kwok, kubeProxyVersion: kwok, bootID: "", machineID: "", osImage: "", systemUUID: "" }
phase: Running
`,
    },
    {
      name: 'pod-ready',
      kind: 'Pod',
      selector: {
        matchExpressions: [
          { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
          { key: '.status.phase', operator: 'In', values: ['Pending'] },
          { key: CRASHING_KEY, operator: 'DoesNotExist' },
        ],
      },
      statusTemplate: runningStatus(false),
    },
    {
      name: 'pod-crash-loop',
      kind: 'Pod',
      selector: {
        matchExpressions: [
          { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
          { key: '.status.phase', operator: 'In', values: ['Pending'] },
          { key: CRASHING_KEY, operator: 'Exists' },
        ],
      },
      statusTemplate: `
conditions:
- { lastTransitionTime: {{ Now | Quote }}, status: "True", type: Initialized }
- { lastTransitionTime: {{ Now | Quote }}, status: "False", type: Ready, reason: ContainersNotReady }
- { lastTransitionTime: {{ Now | Quote }}, status: "False", type: ContainersReady, reason: ContainersNotReady }
- { lastTransitionTime: {{ Now | Quote }}, status: "True", type: PodScheduled }
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  restartCount: ${envValue(RESTART_COUNT_ENV, '1')}
  started: false
  state:
    waiting:
      reason: CrashLoopBackOff
      message: back-off restarting failed container
  lastState:
    terminated:
      exitCode: 1
      reason: Error
      startedAt: {{ Now | Quote }}
      finishedAt: {{ Now | Quote }}
{{ end }}
phase: Running
startTime: {{ Now | Quote }}
`,
    },
    {
      name: 'pod-restarted',
      kind: 'Pod',
      selector: {
        matchExpressions: [
          { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
          { key: '.status.phase', operator: 'In', values: ['Running'] },
          { key: `.metadata.annotations["${RESTARTED_AT_ANNOTATION}"]`, operator: 'Exists' },
          { key: '.status.containerStatuses.[].lastState.terminated', operator: 'DoesNotExist' },
        ],
      },
      statusTemplate: runningStatus(true),
    },
    {
      name: 'job-pod-complete',
      kind: 'Pod',
      selector: {
        matchExpressions: [
          { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
          { key: '.status.phase', operator: 'In', values: ['Running'] },
          { key: '.metadata.ownerReferences.[].kind', operator: 'In', values: ['Job'] },
          { key: FAILING_COMMAND_KEY, operator: 'DoesNotExist' },
        ],
      },
      statusTemplate: terminated('0', 'Completed', 'Succeeded'),
    },
    {
      name: 'job-pod-fail',
      kind: 'Pod',
      selector: {
        matchExpressions: [
          { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
          { key: '.status.phase', operator: 'In', values: ['Running'] },
          { key: '.metadata.ownerReferences.[].kind', operator: 'In', values: ['Job'] },
          { key: FAILING_COMMAND_KEY, operator: 'Exists' },
        ],
      },
      statusTemplate: terminated(failedExitCode, 'Error', 'Failed'),
    },
    {
      name: 'pod-delete',
      kind: 'Pod',
      selector: { matchExpressions: [{ key: '.metadata.deletionTimestamp', operator: 'Exists' }] },
      delete: true,
    },
  ];
  const docs = stages.map((stage) => ({
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'Stage',
    metadata: { name: stage.name },
    spec: {
      resourceRef: { apiGroup: 'v1', kind: stage.kind },
      selector: stage.selector,
      next: stage.delete ? { delete: true } : { statusTemplate: stage.statusTemplate },
    },
  }));
  return docs.map((doc) => toYaml(doc)).join('---\n');
}

/**
 * Starts a control plane and waits until it serves: the node is Ready and the
 * default ServiceAccount exists. On any failure, stops what did start.
 */
export async function startControlPlane(): Promise<ControlPlane> {
  const binDir = await kubeBinDir();
  requireInstalled(binDir);
  const bin = (name: (typeof BINARIES)[number]) => path.join(binDir, name);

  const dir = makeTempDir('kube');
  const started: StartedProcess[] = [];
  const stopAll = async () => {
    // Newest first: kwok, scheduler, controller-manager, API server, then etcd (which removes dir).
    for (const component of started.splice(0).reverse()) await component.stop();
    removeDir(dir);
  };
  const file = (name: string) => path.join(dir, name);
  try {
    const adminToken = randomBytes(24).toString('hex');
    const logsDir = file('pod-logs');
    fs.mkdirSync(logsDir);
    await openssl(
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'tls.key', '-out', 'tls.crt', '-days', '7', '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=IP:${HOST},DNS:localhost`],
      dir,
    );
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sa.key'], dir);
    await openssl(['ec', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
    const caPem = fs.readFileSync(file('tls.crt'), 'utf8');
    fs.writeFileSync(file('tokens.csv'), `${adminToken},admin,admin,system:masters\n`, { mode: 0o600 });

    // The API server binds last, seconds after its port was chosen: it gets a new one if taken.
    const [etcdPort, peerPort, kwokPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const etcdUrl = `http://${HOST}:${etcdPort}`;
    const peerUrl = `http://${HOST}:${peerPort}`;
    started.push(
      await launch({
        bin: bin('etcd'),
        name: 'etcd',
        dir,
        logFile: file('etcd.log'),
        removeDir: true,
        readyWithinMs: 30_000,
        args: [
          '--name=test',
          `--data-dir=${file('etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=test=${peerUrl}`,
          '--unsafe-no-fsync',
          '--log-level=warn',
        ],
        ready: () => httpOk(`${etcdUrl}/health`),
      }),
    );

    const server = await onFreePort(START_ATTEMPTS, (error) => /address already in use/.test(String(error)), async (apiPort) => {
      const server = `https://${HOST}:${apiPort}`;
      started.push(
        await launch({
          bin: bin('kube-apiserver'),
          name: 'kube-apiserver',
          dir,
          logFile: file('kube-apiserver.log'),
          readyWithinMs: 90_000,
          args: [
            `--etcd-servers=${etcdUrl}`,
            `--bind-address=${HOST}`,
            `--advertise-address=${HOST}`,
            `--secure-port=${apiPort}`,
            // On loopback the default reconciler refuses to publish the "kubernetes" Service's endpoint and exits.
            '--endpoint-reconciler-type=none',
            `--tls-cert-file=${file('tls.crt')}`,
            `--tls-private-key-file=${file('tls.key')}`,
            `--token-auth-file=${file('tokens.csv')}`,
            '--authorization-mode=Node,RBAC',
            `--service-account-key-file=${file('sa.pub')}`,
            `--service-account-signing-key-file=${file('sa.key')}`,
            '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
            '--service-cluster-ip-range=10.96.0.0/16',
            // It taints a new node not-ready; only the node lifecycle controller (not run here) would lift it.
            '--disable-admission-plugins=TaintNodesByCondition',
            // kwok's node is reached on its InternalIP (127.0.0.1); its hostname resolves nowhere.
            '--kubelet-preferred-address-types=InternalIP',
            '--enable-priority-and-fairness=false',
            '--max-requests-inflight=0',
            '--max-mutating-requests-inflight=0',
          ],
          ready: () => httpsOk(`${server}/readyz`, caPem, adminToken),
        }),
      );
      return server;
    });

    const coordinates = { server, caPem };
    const admin = kubeConfigFor(coordinates, adminToken);
    fs.writeFileSync(file('admin.kubeconfig'), kubeconfigYaml(coordinates, adminToken), { mode: 0o600 });

    // kwok watches its Logs and ClusterLogs resources: their definitions must be there before it starts.
    const crdApi = admin.makeApiClient(ApiextensionsV1Api);
    for (const crd of CRDS) {
      const body = parseYaml(fs.readFileSync(path.join(binDir, 'crds', crd), 'utf8')) as V1CustomResourceDefinition;
      await crdApi.createCustomResourceDefinition({ body });
      await waitUntil(`CRD ${body.metadata?.name} to be established`, 30_000, async () => {
        const current = await crdApi.readCustomResourceDefinition({ name: body.metadata!.name! });
        return (current.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
      });
    }
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNode({ body: { metadata: { name: NODE_NAME, labels: { 'kubernetes.io/hostname': NODE_NAME, type: 'kwok' } } } });

    const kubeconfig = file('admin.kubeconfig');
    fs.writeFileSync(file('kwok.yaml'), kwokConfig());
    const components = await Promise.allSettled([
      launch({
        bin: bin('kube-controller-manager'),
        name: 'kube-controller-manager',
        dir,
        logFile: file('kube-controller-manager.log'),
        readyWithinMs: 5_000,
        args: [
          `--kubeconfig=${kubeconfig}`,
          // Only what the tests' workloads need (no node lifecycle: kwok's node sends no heartbeats).
          '--controllers=namespace,serviceaccount,deployment,replicaset,statefulset,job,garbagecollector',
          '--leader-elect=false',
          '--secure-port=0',
          '--use-service-account-credentials=false',
        ],
      }),
      launch({
        bin: bin('kube-scheduler'),
        name: 'kube-scheduler',
        dir,
        logFile: file('kube-scheduler.log'),
        readyWithinMs: 5_000,
        args: [`--kubeconfig=${kubeconfig}`, '--leader-elect=false', '--secure-port=0'],
      }),
      launch({
        bin: bin('kwok'),
        name: 'kwok',
        dir,
        logFile: file('kwok.log'),
        readyWithinMs: 5_000,
        args: [
          `--kubeconfig=${kubeconfig}`,
          `--config=${file('kwok.yaml')}`,
          `--manage-single-node=${NODE_NAME}`,
          `--node-ip=${HOST}`,
          `--node-name=${NODE_NAME}`,
          `--node-port=${kwokPort}`,
          `--server-address=${HOST}:${kwokPort}`,
          `--tls-cert-file=${file('tls.crt')}`,
          `--tls-private-key-file=${file('tls.key')}`,
          '--enable-crds=Logs,ClusterLogs',
        ],
      }),
    ]);
    for (const c of components) if (c.status === 'fulfilled') started.push(c.value);
    const failed = components.flatMap((c) => (c.status === 'rejected' ? [String(c.reason)] : []));
    if (failed.length > 0) throw new Error(failed.join('\n'));

    await waitUntil('the kwok node to be Ready and the default ServiceAccount to exist', 90_000, async () => {
      const node = await core.readNode({ name: NODE_NAME });
      const ready = (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
      if (!ready) return false;
      await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
      return true;
    });

    return { server, caPem, adminToken, logsDir, pids: started.map((p) => p.pid), dir, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
