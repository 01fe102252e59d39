import net from 'node:net';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserFacingError } from '../../src/core/types.ts';
import { dbMigrateVerb, dbRestartVerb, dbCheckVerb } from '../../commands/incident/verbs.ts';
import { MIGRATION_LABEL, MIGRATION_TTL_SECONDS } from '../../commands/shared/migrate.ts';
import { RESTARTED_AT_ANNOTATION } from '../../commands/shared/kube.ts';
import { dbRestartJob } from '../../jobs/db-restart.ts';
import { dbMigrateJob } from '../../jobs/db-migrate.ts';
import { dbMigrateTiming, dbRestartTiming } from '../../commands/incident/operations.ts';
import type { V1StatefulSet } from '@kubernetes/client-node';
import { planOf, runJob, testContext } from '../harness/context.ts';
import type { TestContext } from '../harness/context.ts';
import { createDatabase, testServices } from '../harness/env.ts';
import { RESTART_COUNT_ENV, createDeployment, deploymentPods, failingCommand, kubeNamespace, podsIn, setNamespaceLogs, watchJobs } from '../harness/kube-env.ts';
import type { TestNamespace } from '../harness/kube-env.ts';
import { waitUntil } from '../harness/services.ts';

beforeAll(() => {
  dbRestartTiming.pollMs = 100;
  dbMigrateTiming.pollMs = 100;
});

/** A namespace of its own and an operator's context whose bot works in it under its Role. */
async function setup(config: Record<string, unknown> = {}): Promise<{ ns: TestNamespace; ctx: TestContext }> {
  const ns = await kubeNamespace();
  const kubernetes = { namespace: ns.name, ...(config.kubernetes as object) };
  return { ns, ctx: testContext({ role: 'operator', kube: ns.bot, config: { ...config, kubernetes } }) };
}

/** The database StatefulSet `db` with one running pod (or, with `crashLoop`, one that never gets ready). */
async function createDatabaseWorkload(ns: TestNamespace, options: { crashLoop?: boolean } = {}): Promise<void> {
  const labels = { app: 'db' };
  const env = options.crashLoop ? [{ name: RESTART_COUNT_ENV, value: '3' }] : undefined;
  await ns.kube.apps.createNamespacedStatefulSet({
    namespace: ns.name,
    body: { metadata: { name: 'db', labels }, spec: { serviceName: 'db', replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'postgres', image: 'postgres:15', env }] } } } },
  });
  await waitUntil('the database pod', 30_000, async () => (await podsIn(ns, 'app=db')).some((p) => p.status?.phase === 'Running'));
}

async function statefulSet(ns: TestNamespace): Promise<V1StatefulSet> {
  return ns.kube.apps.readNamespacedStatefulSet({ name: 'db', namespace: ns.name });
}

async function refusedUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `postgresql://app:pw-not-shown@127.0.0.1:${port}/autostack`;
}

describe('db check (verb)', () => {
  it('checks the configured database and never shows its password', async () => {
    const db = await createDatabase('dbverb');
    const ctx = testContext({ role: 'operator', config: { database: { url: db.url } } });
    const reply = await dbCheckVerb.execute!(dbCheckVerb.parse({ positional: [], flags: {} }, ctx), ctx);
    expect(reply.summary).toMatch(/^Database OK: PostgreSQL \d+/);
    expect(JSON.stringify(reply)).not.toContain(testServices().postgres.password);
    expect(reply.visibility).toBe('channel');
  });
});

describe('db restart', () => {
  it('asks for approval with a plan and makes the approver type the workload name', async () => {
    const { ns, ctx } = await setup();
    await createDatabaseWorkload(ns);
    const params = dbRestartVerb.parse({ positional: [], flags: {} }, ctx);
    expect(dbRestartVerb.guard).toBe('approval');
    expect(dbRestartVerb.approverMustType!(params)).toEqual({ label: 'Name of the database workload', expected: 'db' });
    const plan = await planOf(dbRestartVerb, params, ctx);
    expect(plan.title).toBe(`Restart the database: StatefulSet db in ${ns.name}`);
    expect(plan.steps[0]).toContain('rollout restart StatefulSet db');
  });

  it('restarts the StatefulSet, follows it until ready and then runs db check', async () => {
    const db = await createDatabase('dbrestart');
    const { ns, ctx } = await setup({ database: { url: db.url } });
    await createDatabaseWorkload(ns);
    const before = (await podsIn(ns, 'app=db'))[0]!.metadata!.uid;
    const result = await runJob(dbRestartJob, { workload: 'db' }, ctx);
    expect((await statefulSet(ns)).spec!.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]).toBeDefined();
    // The StatefulSet controller replaced the pod.
    expect((await podsIn(ns, 'app=db')).map((p) => p.metadata!.uid)).not.toContain(before);
    expect(result.steps.some((s) => s.startsWith('rollout: '))).toBe(true);
    expect(result.reply.summary).toMatch(/^Database restarted and reachable\. Database OK/);
    expect(JSON.stringify(result.reply.parts)).toContain('StatefulSet db restarted: 1/1 ready');
    expect(JSON.stringify(result.reply.parts)).toContain('Connected to the database');
    expect(ctx.audited.map((a) => a.action)).toContain('db restart');
  });

  it('restarts a Deployment when the database workload is configured as one', async () => {
    const db = await createDatabase('dbdep');
    const { ns, ctx } = await setup({ database: { url: db.url, workload: { kind: 'Deployment', name: 'postgres' } } });
    await createDeployment(ns, { name: 'postgres', image: 'postgres:15' });
    const result = await runJob(dbRestartJob, { workload: 'postgres' }, ctx);
    const deployment = await ns.kube.apps.readNamespacedDeployment({ name: 'postgres', namespace: ns.name });
    expect(deployment.spec!.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]).toBeDefined();
    expect(result.reply.summary).toContain('Database restarted and reachable');
  });

  it('says exactly what state it left when the database does not become ready in time', async () => {
    const { ns, ctx } = await setup({ rollout: { timeout: '1s' }, database: { url: await refusedUrl() } });
    await createDatabaseWorkload(ns, { crashLoop: true });
    const error = await runJob(dbRestartJob, { workload: 'db' }, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toMatch(/^StatefulSet db was restarted \(pod template annotated at \S+\), but it is not ready after 1s: .*\(0\/1 ready\)/);
    expect((error as Error).message).toContain('nothing else was changed');
  });

  it('fails with the classified database error when the database is ready but unreachable', async () => {
    const { ns, ctx } = await setup({ database: { url: await refusedUrl() } });
    await createDatabaseWorkload(ns);
    const error = await runJob(dbRestartJob, { workload: 'db' }, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toContain('restarted and is ready, but the database check failed: Database check failed: connection refused');
    expect((error as Error).message).not.toContain('pw-not-shown');
  });

  it('refuses a StatefulSet with the OnDelete strategy and changes nothing', async () => {
    const { ns, ctx } = await setup();
    await createDatabaseWorkload(ns);
    const sts = await statefulSet(ns);
    sts.spec!.updateStrategy = { type: 'OnDelete' };
    await ns.kube.apps.replaceNamespacedStatefulSet({ name: 'db', namespace: ns.name, body: sts });
    const before = (await statefulSet(ns)).metadata!.resourceVersion;
    await expect(planOf(dbRestartVerb, { workload: 'db' }, ctx)).rejects.toThrow(/OnDelete update strategy.*Nothing was changed/);
    await expect(runJob(dbRestartJob, { workload: 'db' }, ctx)).rejects.toThrow(/OnDelete/);
    expect((await statefulSet(ns)).metadata!.resourceVersion).toBe(before);
  });
});

describe('db migrate', () => {
  async function seedBackend(ns: TestNamespace): Promise<string> {
    await createDeployment(ns, { name: 'backend', image: 'registry.example/autostack/backend:1.4.2' });
    await ns.kube.core.createNamespacedSecret({ namespace: ns.name, body: { metadata: { name: 'backend-env' }, stringData: { DATABASE_URL: 'postgresql://app:pw@db/app' } } });
    return (await deploymentPods(ns, 'backend'))[0]!.metadata!.name!;
  }

  async function migrationJobs(ns: TestNamespace) {
    return (await ns.kube.batch.listNamespacedJob({ namespace: ns.name, labelSelector: `${MIGRATION_LABEL}=db-migrate` })).items;
  }

  it('asks for confirmation with the image and command it will run', async () => {
    const { ns, ctx } = await setup({ database: { migrateCommand: ['alembic', 'upgrade', 'head'] } });
    await seedBackend(ns);
    expect(dbMigrateVerb.guard).toBe('confirm');
    const plan = await planOf(dbMigrateVerb, {}, ctx);
    expect(plan.title).toBe('Run database migrations: alembic upgrade head');
    expect(plan.steps[0]).toContain("from the backend's current image registry.example/autostack/backend:1.4.2");
    expect(plan.resources).toContain('secret/backend-env');
  });

  it("runs the command as a Job from the backend's current image with its Secret, streams the log and deletes the Job", async () => {
    const { ns, ctx } = await setup();
    const backendPod = await seedBackend(ns);
    await setNamespaceLogs(ns, backendPod, ['INFO  [alembic.runtime.migration] Running upgrade 1a2b -> 3c4d, add users', 'connecting with password=hunter2']);
    const result = await runJob(dbMigrateJob, {}, ctx);
    expect(result.steps).toContain('`INFO  [alembic.runtime.migration] Running upgrade 1a2b -> 3c4d, add users`');
    expect(result.steps.join('\n')).not.toContain('hunter2');
    expect(result.attachments[0]!.content).toContain('password=[REDACTED]');
    // The test database has no alembic_version table, so the bot says so and falls back to the log.
    expect(result.reply.summary).toBe('Migration succeeded: database revision not readable; its log shows 1a2b → 3c4d (1 step in its log)');
    await waitUntil('the Job to be deleted', 30_000, async () => (await migrationJobs(ns)).length === 0);
    expect(ctx.audited.find((a) => a.action === 'db migrate')?.result).toBe('succeeded');
  });

  it('ends with the database revision it observed before and after: from → to', async () => {
    const db = await createDatabase('dbmigrated');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)');
    await client.query(`INSERT INTO alembic_version VALUES ('1a2b3c4d5e6f')`);
    const { ns, ctx } = await setup({ database: { url: db.url, migrateCommand: ['alembic', 'upgrade', 'head'] } });
    const backendPod = await seedBackend(ns);
    await setNamespaceLogs(ns, backendPod, ['INFO  [alembic.runtime.migration] Running upgrade 1a2b3c4d5e6f -> c0ffee123456']);
    // The bot reads the revision before it starts the Job; what `alembic upgrade head` does to the
    // database happens while the Job runs, i.e. after the "Starting" line.
    const { reply } = await runJob(dbMigrateJob, {}, ctx, {
      onStep: async (text) => {
        if (text.startsWith('Starting')) await client.query(`UPDATE alembic_version SET version_num = 'c0ffee123456'`);
      },
    });
    await client.end();
    expect(reply.summary).toBe('Migration succeeded: database 1a2b3c4d5e6f → c0ffee123456');
  });

  it('reports a failed migration with its exit code, attaches its log and deletes the Job', async () => {
    const { ns, ctx } = await setup({ database: { migrateCommand: failingCommand(2) } });
    const backendPod = await seedBackend(ns);
    await setNamespaceLogs(ns, backendPod, ['sqlalchemy.exc.ProgrammingError: relation "users" already exists']);
    const created = await watchJobs(ns);
    const result = await runJob(dbMigrateJob, {}, ctx).catch((e: unknown) => e);
    created.stop();
    expect(result).toBeInstanceOf(UserFacingError);
    const message = (result as Error).message;
    expect(message).toContain('The migration failed (exit code 2; BackoffLimitExceeded');
    expect(message).toMatch(/Job autostack-migrate-\S+ was deleted \(its log is attached\)/);
    await waitUntil('the failed Job to be deleted', 30_000, async () => (await migrationJobs(ns)).length === 0);
    // The Job ran the backend's current image with its Secret, once, with a TTL in case the bot stops before deleting it.
    expect(created.jobs).toHaveLength(1);
    const job = created.jobs[0]!;
    const container = job.spec!.template.spec!.containers[0]!;
    expect(container.image).toBe('registry.example/autostack/backend:1.4.2');
    expect(container.command).toEqual(failingCommand(2));
    expect(container.envFrom).toEqual([{ secretRef: { name: 'backend-env' } }]);
    expect(job.spec!.backoffLimit).toBe(0);
    expect(job.spec!.template.spec!.restartPolicy).toBe('Never');
    expect(job.spec!.ttlSecondsAfterFinished).toBe(MIGRATION_TTL_SECONDS);
  });

  it('refuses to start while another migration is running', async () => {
    const { ns, ctx } = await setup();
    await seedBackend(ns);
    // Suspended, it stays unfinished (kwok would complete a running one at once).
    await ns.kube.batch.createNamespacedJob({
      namespace: ns.name,
      body: { metadata: { name: 'autostack-migrate-running', labels: { [MIGRATION_LABEL]: 'db-migrate' } }, spec: { suspend: true, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'migrate', image: 'x' }] } } } },
    });
    await expect(runJob(dbMigrateJob, {}, ctx)).rejects.toThrow('A migration Job is already running (autostack-migrate-running); nothing was started.');
    expect(await migrationJobs(ns)).toHaveLength(1);
  });

  it('says when the backend Deployment is missing', async () => {
    const { ctx } = await setup();
    await expect(planOf(dbMigrateVerb, {}, ctx)).rejects.toThrow(/Deployment backend not found/);
  });
});
