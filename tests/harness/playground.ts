/**
 * `npm run playground`: console mode against the harness's real services and fakes, seeded with a
 * believable AutoStack platform in the middle of an incident, so anyone can try every command
 * locally in a minute. Private Redis, PostgreSQL, moto_server and a Kubernetes control plane (the
 * one the tests run on, tests/harness/kube.ts) are started in parallel, plus the fake backend;
 * everything stops on /quit, Ctrl-D or Ctrl-C. Without the control plane's binaries the start
 * stops and says how to build them, like any other missing service.
 *
 * Tests import `startPlayground({ input, output })` and drive it like a person would.
 * See docs/playground.md.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { parseConfig } from '../../src/config.ts';
import { TRIAGE_JOB } from '../../commands/alerts/triage/index.ts';
import type { Config } from '../../src/config.ts';
import { kubeClientsFrom } from '../../src/clients.ts';
import { runConsole } from '../../dev/console/console.ts';
import type { ConsoleSession } from '../../dev/console/console.ts';
import { FakeBackend } from './fake-backend.ts';
import { startControlPlane } from './kube.ts';
import type { ControlPlane } from './kube.ts';
import { kubeNamespace, podsSecretEnv } from './kube-env.ts';
import type { TestNamespace } from './kube-env.ts';
import { freePort, startMoto, startPostgres, startRedis } from './services.ts';
import type { MotoInstance, PostgresInstance, RedisInstance } from './services.ts';
import { seedAws } from './playground/aws.ts';
import { seedBackups, seedDatabase } from './playground/database.ts';
import { seedCluster, startTraffic } from './playground/kube.ts';
import type { BackendSecrets, SeededCluster } from './playground/kube.ts';
import { seedRecords } from './playground/redis.ts';
import { ATTACKERS, BACKEND, BACKUPS, DATABASE, IAM, INCIDENT_CHANNEL, INGRESS_CONTROLLER, NAMESPACE, PLATFORM_DEPLOYMENTS, PUBLIC_URL, REGION, TERRAFORM } from './playground/world.ts';

export interface PlaygroundOptions {
  input: Readable;
  output: Writable;
  /** The bot's logger (default: errors only, to stderr). */
  log?: Logger;
  /** Live traffic (and the attack) in the pod logs every this many ms; 0 turns it off. Default 15 s. */
  trafficEveryMs?: number;
}

export interface Playground {
  /** Service processes the playground started. */
  pids: { redis: number; postgres: number; moto: number; controlPlane: number[] };
  urls: { aws: string; kube: string; backend: string; redis: string; bot: string; postgres: string };
  config: Config;
  session: ConsoleSession;
  /** The cluster's namespace (with an admin's clients) and the fake backend, for tests that look behind the scenes. */
  cluster: TestNamespace;
  backend: FakeBackend;
  /** Settles once the console has ended (/quit, end of input) and everything is stopped. */
  finished: Promise<void>;
}

/** Environment the AWS SDK reads: static fake credentials for moto, never a real account's. */
const AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'playground',
  AWS_SECRET_ACCESS_KEY: 'playground',
  AWS_REGION: REGION,
  AWS_DEFAULT_REGION: REGION,
  AWS_EC2_METADATA_DISABLED: 'true',
} as const;
const CLEARED_ENV = ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE'] as const;

function setEnvironment(values: Record<string, string | undefined>): () => void {
  const saved: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(values)) {
    saved[key] = process.env[key];
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  return () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

/** Values of the shapes GitHub, Google and `secrets.token_urlsafe(32)` produce; new every start. */
function backendSecrets(databaseUrl: string): BackendSecrets {
  const token = (bytes: number) => randomBytes(bytes).toString('base64url');
  const url = new URL(databaseUrl);
  url.hostname = `${DATABASE.workload}.${NAMESPACE}.svc.cluster.local`;
  url.port = '5432';
  return {
    GITHUB_CLIENT_ID: `Ov23li${randomBytes(7).toString('hex')}`,
    GITHUB_CLIENT_SECRET: randomBytes(20).toString('hex'),
    GOOGLE_CLIENT_ID: `${Math.floor(1e11 + Math.random() * 9e11)}-${randomBytes(16).toString('hex')}.apps.googleusercontent.com`,
    GOOGLE_CLIENT_SECRET: `GOCSPX-${token(21)}`,
    JWT_SECRET: token(32),
    SECRET_KEY: token(32),
    DATABASE_URL: url.toString(),
    REDIS_URL: `redis://redis.${NAMESPACE}.svc.cluster.local:6379/0`,
  };
}

interface Started {
  redis: RedisInstance;
  postgres: PostgresInstance;
  moto: MotoInstance;
  kube: ControlPlane;
  backend: FakeBackend;
}

/** Starts the service processes, the control plane and the fake backend in parallel; on any failure stops what did start. */
async function startEverything(apiToken: string): Promise<Started> {
  const results = await Promise.allSettled([
    startRedis(),
    startPostgres(),
    startMoto(),
    startControlPlane(),
    FakeBackend.start({
      publicUrl: PUBLIC_URL,
      apiTokens: [apiToken],
      deployments: PLATFORM_DEPLOYMENTS.map((d) => ({ id: d.id, status: d.status, app: d.app, version: d.version })),
    }),
  ] as const);
  const [redis, postgres, moto, kube, backend] = results;
  if (redis.status === 'fulfilled' && postgres.status === 'fulfilled' && moto.status === 'fulfilled' && kube.status === 'fulfilled' && backend.status === 'fulfilled') {
    return { redis: redis.value, postgres: postgres.value, moto: moto.value, kube: kube.value, backend: backend.value };
  }
  await Promise.allSettled([
    redis.status === 'fulfilled' ? redis.value.stop() : undefined,
    postgres.status === 'fulfilled' ? postgres.value.stop() : undefined,
    moto.status === 'fulfilled' ? moto.value.stop() : undefined,
    kube.status === 'fulfilled' ? kube.value.stop() : undefined,
    backend.status === 'fulfilled' ? backend.value.close() : undefined,
  ]);
  const reasons = results.flatMap((r) => (r.status === 'rejected' ? [`  - ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`] : []));
  throw new Error(`The playground could not start its services (nothing is left running):\n${reasons.join('\n')}`);
}

async function stopEverything(started: Started): Promise<void> {
  const outcomes = await Promise.allSettled([started.kube.stop(), started.backend.close(), started.redis.stop(), started.postgres.stop(), started.moto.stop()]);
  const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
  if (failed.length) throw new Error(`stopping the playground failed:\n${failed.join('\n')}`);
}

function rawConfig(started: Started, options: { databaseUrl: string; apiToken: string; alertsToken: string; port: number; secrets: BackendSecrets }): Record<string, unknown> {
  const backend = started.backend.url;
  return {
    redis: { url: started.redis.url, prefix: 'autostack' },
    channels: { incident: INCIDENT_CHANNEL },
    http: { publicUrl: `http://127.0.0.1:${options.port}` },
    aws: { endpoint: started.moto.endpoint, region: REGION, s3ForcePathStyle: true },
    kubernetes: { namespace: NAMESPACE },
    terraform: { lockTable: TERRAFORM.table, states: [{ name: 'default', bucket: TERRAFORM.bucket, key: TERRAFORM.key }] },
    iam: { roleName: IAM.role, policyName: IAM.policy },
    backend: { url: backend, apiToken: options.apiToken, deployment: BACKEND.deployment, secret: BACKEND.secret },
    database: { url: options.databaseUrl, binDir: started.postgres.binDir, workload: { kind: 'StatefulSet', name: DATABASE.workload } },
    rollout: { timeout: '2m' },
    backup: { bucket: BACKUPS.bucket, prefix: BACKUPS.prefix },
    rateLimit: { app: BACKEND.deployment, logSources: [INGRESS_CONTROLLER.deployment], perMinuteThreshold: 100, block: { backend: 'ingress', ingress: 'autostack', defaultTtl: '1h', allowList: ['10.0.0.0/8'] } },
    oauth: {
      github: { clientId: options.secrets.GITHUB_CLIENT_ID, callbackUrl: `${PUBLIC_URL}/auth/github/callback` },
      google: { clientId: options.secrets.GOOGLE_CLIENT_ID, callbackUrl: `${PUBLIC_URL}/auth/google/callback` },
    },
    deploy: {
      apps: {
        backend: {
          deployment: BACKEND.deployment,
          container: BACKEND.container,
          image: BACKEND.image,
          migrate: true,
          healthUrl: `${backend}/health`,
          smoke: [
            { url: `${backend}/auth/github`, status: 307 },
            { url: `${backend}/auth/google`, status: 307 },
          ],
        },
      },
    },
    alerts: { token: options.alertsToken },
  };
}

function withoutPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = '';
  return parsed.toString();
}

/** The "Try:" list of the banner: the playground's script, in the order a paged engineer would type it. */
export const PLAYGROUND_SCRIPT: ReadonlyArray<readonly [command: string, what: string]> = [
  ['/autostack status', 'the overview: alerts, the Terraform lock, deploys, approvals, IP blocks, jobs'],
  [`/autostack status ${BACKEND.deployment}`, 'its pods: restarts and why, warning events, next steps'],
  ['/autostack tf lock', 'who holds the Terraform lock, since when'],
  [`/autostack history ${BACKEND.deployment}`, 'the two revisions, which one is live'],
  [`/autostack logs ${BACKEND.deployment} --grep oauth_state --tail 2000`, 'the errors since the deploy'],
  [`/autostack logs ${BACKEND.deployment} --previous`, 'the crashed container'],
  ['/autostack ratelimit top', 'who gets the 429s (its buttons block them on the Ingress)'],
  ['/autostack oauth check', 'the login redirects against the configured OAuth apps'],
  ['/autostack db check', 'the database: connections, migration head'],
  ['/autostack backup list', 'the nightly backups (then: backup verify latest)'],
  ['/as bob', `then /autostack rollback ${BACKEND.deployment} oauth_state errors since ${BACKEND.revisions[BACKEND.revisions.length - 1]!.tag}; a number clicks a button`],
  ['/autostack help', 'every command, by runbook section (/help: console commands)'],
];

function banner(cluster: SeededCluster, urls: Playground['urls'], seconds: number, backups: string[], lockCreated: string): string {
  const pods = cluster.backendPods.length;
  const [older, live] = [BACKEND.revisions[0]!.tag, BACKEND.revisions[BACKEND.revisions.length - 1]!.tag];
  const failed = PLATFORM_DEPLOYMENTS.filter((d) => d.status === 'failed').map((d) => d.id);
  const rows = [
    ['AWS (moto)', urls.aws, `s3://${TERRAFORM.bucket} (versioned, 3 states), DynamoDB ${TERRAFORM.table} (lock held), s3://${BACKUPS.bucket}, IAM role ${IAM.role}`],
    ['Kubernetes', urls.kube, `namespace ${NAMESPACE}: Deployment ${BACKEND.deployment} (${older} → ${live}, ${pods} pods), StatefulSet ${DATABASE.workload}, Ingress autostack`],
    ['Backend (fake)', urls.backend, `/health, /auth/github, /auth/google, /api/deployments/{id}/rollback (public URL ${PUBLIC_URL})`],
    ['PostgreSQL', urls.postgres, `database ${DATABASE.name}: users, deployments, audit_log, alembic_version`],
    ['Redis', urls.redis, 'jobs, approvals, audit, rotation and deploy records'],
    ['Bot HTTP', urls.bot, '/health, /metrics, /alerts, one-time forms'],
  ];
  const tryWidth = Math.max(...PLAYGROUND_SCRIPT.map(([command]) => command.length));
  const width = Math.max(...rows.map((r) => r[0]!.length));
  const urlWidth = Math.max(...rows.map((r) => r[1]!.length));
  return [
    `AutoStack playground: everything below is local and thrown away on exit (ready in ${seconds.toFixed(1)} s).`,
    ...rows.map(([name, url, what]) => `  ${name!.padEnd(width)}  ${url!.padEnd(urlWidth)}  ${what}`),
    '',
    'The incident in progress:',
    `  - backend ${live} went out ${BACKEND.revisions[BACKEND.revisions.length - 1]!.hoursAgo} h ago; since then users hit oauth_state errors, and one pod crashed once (logs --previous).`,
    `  - ${ATTACKERS.map((a) => a.ip).join(', ')} hammer the login: a burst of 429s over the last minutes.`,
    `  - a terraform apply has held the state lock since ${lockCreated.slice(11, 16)} UTC (${TERRAFORM.lockWho}).`,
    `  - platform deployment ${failed.join(', ')} failed; nightly backups: ${backups.join(', ')}.`,
    '',
    'Try:',
    ...PLAYGROUND_SCRIPT.map(([command, what]) => `  ${command.padEnd(tryWidth)}  ${what}`),
    '',
  ].join('\n');
}

/** Fires the runbook's rate-limit alert through the bot's own POST /alerts, when that area is loaded. */
async function fireRateLimitAlert(session: ConsoleSession, botUrl: string, token: string): Promise<void> {
  if (!session.bot.registry.routes.some((r) => r.method === 'POST' && r.path === '/alerts')) return;
  const startsAt = new Date(Date.now() - 4 * 60_000).toISOString();
  const labels = { alertname: 'HighRateLimiting', severity: 'medium', app: BACKEND.deployment, namespace: NAMESPACE };
  const annotations = {
    summary: '123 rate-limit triggers (429) in the last minute (threshold 100/min)',
    description: 'Clients are being rate limited more than 100 times a minute: possibly a DDoS or a misbehaving client.',
    action: 'Investigate potential DDoS',
  };
  const payload = {
    version: '4',
    groupKey: '{}:{alertname="HighRateLimiting"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'autostack-chatops',
    groupLabels: { alertname: 'HighRateLimiting' },
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: 'http://alertmanager.monitoring.svc:9093',
    alerts: [{ status: 'firing', labels, annotations, startsAt, endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://prometheus.monitoring.svc:9090/graph', fingerprint: '5c3b1f0e9a7d2c41' }],
  };
  const response = await fetch(`${botUrl}/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(payload) });
  await response.arrayBuffer();
  // The alert's triage posts into its thread: let it finish (its summary, then the charts under
  // it) before anyone types, so its lines come first.
  const incident = session.bot.deps.config.channels.incident ?? '';
  const summarized = () => session.emulator.channelMessages(incident, { includeReplies: true }).some((m) => /^Triage S\d: \d+ finding/.test(m.text ?? ''));
  const triaging = async () => (await session.bot.jobs.queue.getJobs(['active', 'waiting'])).some((job) => job.name === TRIAGE_JOB);
  for (let waited = 0; waited < 30_000; waited += 200) {
    if (summarized() && !(await triaging())) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function startPlayground(options: PlaygroundOptions): Promise<Playground> {
  const t0 = Date.now();
  const { output } = options;
  output.write('Starting Redis, PostgreSQL, moto_server, a Kubernetes control plane and the fake backend...\n');
  const apiToken = randomBytes(24).toString('base64url');
  const alertsToken = randomBytes(24).toString('base64url');
  const started = await startEverything(apiToken);
  const restoreEnv = setEnvironment({ ...AWS_ENV, ...Object.fromEntries(CLEARED_ENV.map((k) => [k, undefined])) });
  const stopTraffic: Array<() => void> = [];
  let stopped: Promise<void> | undefined;
  const stopAll = () =>
    (stopped ??= (async () => {
      for (const stop of stopTraffic) stop();
      try {
        await stopEverything(started);
      } finally {
        restoreEnv();
      }
    })());

  let restorePort: (() => void) | undefined;
  try {
    output.write('Seeding the platform...\n');
    const now = new Date();
    const credentials = { accessKeyId: AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: AWS_ENV.AWS_SECRET_ACCESS_KEY };
    const aws = {
      s3: new S3Client({ endpoint: started.moto.endpoint, region: REGION, credentials, forcePathStyle: true }),
      dynamodb: new DynamoDBClient({ endpoint: started.moto.endpoint, region: REGION, credentials }),
      iam: new IAMClient({ endpoint: started.moto.endpoint, region: REGION, credentials }),
    };
    const redis = new Redis(started.redis.url, { maxRetriesPerRequest: 3 });
    const namespace = await kubeNamespace({ name: NAMESPACE, coordinates: started.kube });
    let seeded: { database: { url: string }; tf: Awaited<ReturnType<typeof seedAws>>; backups: string[]; secrets: BackendSecrets; cluster: SeededCluster };
    try {
      const [tf, database] = await Promise.all([seedAws(aws, now), seedDatabase(started.postgres.url)]);
      const secrets = backendSecrets(database.url);
      const [cluster, backups] = await Promise.all([
        seedCluster(namespace, secrets, now),
        seedBackups(aws.s3, database.url, started.postgres.binDir, now),
        seedRecords(redis, 'autostack', now, { github: `Ov23li${randomBytes(7).toString('hex')}` }),
      ]);
      started.backend.useEnvSource(podsSecretEnv(namespace, { secret: BACKEND.secret, deployment: BACKEND.deployment }), { reload: 'request' });
      seeded = { database, tf, backups, secrets, cluster };
    } finally {
      for (const client of Object.values(aws)) client.destroy();
      await redis.quit().catch(() => redis.disconnect());
    }
    if ((options.trafficEveryMs ?? 15_000) > 0) stopTraffic.push(startTraffic(namespace, seeded.cluster, options.trafficEveryMs ?? 15_000));

    // The console's HTTP server listens on PORT when it is set: fix it so one-time links and
    // POST /alerts have a known address.
    const port = process.env.PORT ? Number(process.env.PORT) : await freePort();
    restorePort = setEnvironment({ PORT: String(port) });
    const config = parseConfig(rawConfig(started, { databaseUrl: seeded.database.url, apiToken, alertsToken, port, secrets: seeded.secrets }), {});
    config.slack.port = port;
    const urls: Playground['urls'] = {
      aws: started.moto.endpoint,
      kube: started.kube.server,
      backend: started.backend.url,
      redis: started.redis.url,
      bot: `http://127.0.0.1:${port}`,
      postgres: withoutPassword(seeded.database.url),
    };
    output.write(`${banner(seeded.cluster, urls, (Date.now() - t0) / 1000, seeded.backups, seeded.tf.lockCreated)}\n`);

    // The bot acts as its ServiceAccount under the Role it ships with (deploy/kubernetes/bot-role.yaml).
    const kube = kubeClientsFrom(namespace.bot);
    let ready!: (session: ConsoleSession) => void;
    const readiness = new Promise<ConsoleSession>((resolve) => (ready = resolve));
    const log = options.log ?? pino({ level: process.env.LOG_LEVEL ?? 'error' }, pino.destination(2));
    const consoleDone = runConsole({ config, log, input: options.input, output, bot: { overrides: { kube: () => kube } }, onReady: ready });
    const session = await Promise.race([readiness, consoleDone.then(() => undefined)]);
    const finished = consoleDone.finally(async () => {
      restorePort?.();
      await stopAll();
    });
    if (!session) {
      await finished;
      throw new Error('the console ended before it was ready');
    }
    await fireRateLimitAlert(session, urls.bot, alertsToken).catch((error: unknown) => log.warn({ err: (error as Error).message }, 'could not fire the example alert'));
    return {
      pids: { redis: started.redis.pid, postgres: started.postgres.pid, moto: started.moto.pid, controlPlane: started.kube.pids },
      urls,
      config,
      session,
      cluster: namespace,
      backend: started.backend,
      finished,
    };
  } catch (error) {
    restorePort?.();
    await stopAll().catch(() => undefined);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// npm run playground

async function main(): Promise<void> {
  const input = new PassThrough();
  process.stdin.pipe(input);
  let interrupts = 0;
  const interrupt = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130); // the services' exit hook still stops them
    process.stdout.write('\nStopping the playground (Ctrl-C again to force)...\n');
    input.end();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    const playground = await startPlayground({ input, output: process.stdout });
    await playground.finished;
    process.stdout.write('Playground stopped; nothing is left running.\n');
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  } finally {
    process.stdin.unpipe(input);
    process.stdin.pause();
  }
  process.exit();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) void main();
