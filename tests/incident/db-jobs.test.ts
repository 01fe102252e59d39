import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserFacingError } from '../../src/core/types.ts';
import { dbMigrateVerb, dbRestartVerb, dbCheckVerb } from '../../commands/incident/verbs.ts';
import { MIGRATION_LABEL, MIGRATION_TTL_SECONDS } from '../../commands/shared/migrate.ts';
import { RESTARTED_AT_ANNOTATION } from '../../commands/shared/kube.ts';
import { dbRestartJob } from '../../jobs/db-restart.ts';
import { dbMigrateJob } from '../../jobs/db-migrate.ts';
import { dbMigrateTiming, dbRestartTiming } from '../../commands/incident/operations.ts';
import { FakeKube } from '../harness/fake-kube.ts';
import type { Job } from '../harness/fake-kube.ts';
import { planOf, runJob } from '../harness/context.ts';
import type { TestContext } from '../harness/context.ts';
import { createDatabase, testServices } from '../harness/env.ts';
import { namespaceContext } from './kube-helpers.ts';

let fake: FakeKube;

beforeAll(async () => {
  fake = await FakeKube.start();
  dbRestartTiming.pollMs = 10;
  dbMigrateTiming.pollMs = 10;
});
afterAll(() => fake.close());

function setup(config: Record<string, unknown> = {}): { ns: string; ctx: TestContext } {
  return namespaceContext(fake, { role: 'operator', config });
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
    const { ctx } = setup({ database: { url: db.url } });
    const reply = await dbCheckVerb.execute!(dbCheckVerb.parse({ positional: [], flags: {} }, ctx), ctx);
    expect(reply.summary).toMatch(/^Database OK: PostgreSQL \d+/);
    expect(JSON.stringify(reply)).not.toContain(testServices().postgres.password);
    expect(reply.visibility).toBe('channel');
  });
});

describe('db restart', () => {
  it('asks for approval with a plan and makes the approver type the workload name', async () => {
    const { ns, ctx } = setup();
    fake.seedStatefulSet({ namespace: ns, name: 'db', image: 'postgres:15' });
    const params = dbRestartVerb.parse({ positional: [], flags: {} }, ctx);
    expect(dbRestartVerb.guard).toBe('approval');
    expect(dbRestartVerb.approverMustType!(params)).toEqual({ label: 'Name of the database workload', expected: 'db' });
    const plan = await planOf(dbRestartVerb, params, ctx);
    expect(plan.title).toBe(`Restart the database: StatefulSet db in ${ns}`);
    expect(plan.steps[0]).toContain('rollout restart StatefulSet db');
  });

  it('restarts the StatefulSet, follows it until ready and then runs db check', async () => {
    const db = await createDatabase('dbrestart');
    const { ns, ctx } = setup({ database: { url: db.url } });
    fake.seedStatefulSet({ namespace: ns, name: 'db', image: 'postgres:15' });
    fake.setRolloutBehaviour(ns, 'db', 'ready', { kind: 'StatefulSet', readyAfterPolls: 2 });
    const result = await runJob(dbRestartJob, { workload: 'db' }, ctx);
    expect(fake.getStatefulSet(ns, 'db')?.spec.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]).toBeDefined();
    expect(result.steps.some((s) => s.startsWith('rollout: '))).toBe(true);
    expect(result.reply.summary).toMatch(/^Database restarted and reachable\. Database OK/);
    expect(JSON.stringify(result.reply.parts)).toContain('StatefulSet db restarted: 1/1 ready');
    expect(JSON.stringify(result.reply.parts)).toContain('Connected to the database');
    expect(ctx.audited.map((a) => a.action)).toContain('db restart');
  });

  it('restarts a Deployment when the database workload is configured as one', async () => {
    const db = await createDatabase('dbdep');
    const { ns, ctx } = setup({ database: { url: db.url, workload: { kind: 'Deployment', name: 'postgres' } } });
    fake.seedDeployment({ namespace: ns, name: 'postgres', image: 'postgres:15' });
    const result = await runJob(dbRestartJob, { workload: 'postgres' }, ctx);
    expect(fake.getDeployment(ns, 'postgres')?.spec.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]).toBeDefined();
    expect(result.reply.summary).toContain('Database restarted and reachable');
  });

  it('says exactly what state it left when the database does not become ready in time', async () => {
    const { ns, ctx } = setup({ rollout: { timeout: '1s' }, database: { url: await refusedUrl() } });
    fake.seedStatefulSet({ namespace: ns, name: 'db', image: 'postgres:15' });
    fake.setRolloutBehaviour(ns, 'db', 'stuck', { kind: 'StatefulSet' });
    const error = await runJob(dbRestartJob, { workload: 'db' }, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toMatch(/^StatefulSet db was restarted \(pod template annotated at \S+\), but it is not ready after 1s: .*\(0\/1 ready\)/);
    expect((error as Error).message).toContain('nothing else was changed');
  });

  it('fails with the classified database error when the database is ready but unreachable', async () => {
    const { ns, ctx } = setup({ database: { url: await refusedUrl() } });
    fake.seedStatefulSet({ namespace: ns, name: 'db', image: 'postgres:15' });
    const error = await runJob(dbRestartJob, { workload: 'db' }, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toContain('restarted and is ready, but the database check failed: Database check failed: connection refused');
    expect((error as Error).message).not.toContain('pw-not-shown');
  });

  it('refuses a StatefulSet with the OnDelete strategy and changes nothing', async () => {
    const { ns, ctx } = setup();
    fake.seedStatefulSet({ namespace: ns, name: 'db', image: 'postgres:15' });
    const apps = ctx.clients.kube().apps;
    const sts = await apps.readNamespacedStatefulSet({ name: 'db', namespace: ns });
    sts.spec!.updateStrategy = { type: 'OnDelete' };
    await apps.replaceNamespacedStatefulSet({ name: 'db', namespace: ns, body: sts });
    const before = fake.getStatefulSet(ns, 'db')!.metadata.resourceVersion;
    await expect(planOf(dbRestartVerb, { workload: 'db' }, ctx)).rejects.toThrow(/OnDelete update strategy.*Nothing was changed/);
    await expect(runJob(dbRestartJob, { workload: 'db' }, ctx)).rejects.toThrow(/OnDelete/);
    expect(fake.getStatefulSet(ns, 'db')!.metadata.resourceVersion).toBe(before);
  });
});

describe('db migrate', () => {
  function seedBackend(ns: string) {
    fake.seedDeployment({ namespace: ns, name: 'backend', image: 'registry.example/autostack/backend:1.4.2', revisions: [{ image: 'registry.example/autostack/backend:1.4.1' }] });
    fake.seedSecret(ns, 'backend-env', { DATABASE_URL: 'postgresql://app:pw@db/app' });
  }

  function createdJob(ns: string): Job {
    const post = fake.requestsMatching('POST', `/apis/batch/v1/namespaces/${ns}/jobs`).at(-1);
    return post!.body as Job;
  }

  it('asks for confirmation with the image and command it will run', async () => {
    const { ns, ctx } = setup({ database: { migrateCommand: ['alembic', 'upgrade', 'head'] } });
    seedBackend(ns);
    expect(dbMigrateVerb.guard).toBe('confirm');
    const plan = await planOf(dbMigrateVerb, {}, ctx);
    expect(plan.title).toBe('Run database migrations: alembic upgrade head');
    expect(plan.steps[0]).toContain("from the backend's current image registry.example/autostack/backend:1.4.2");
    expect(plan.resources).toContain('secret/backend-env');
  });

  it("runs the command as a Job from the backend's current image with its Secret, streams the log and deletes the Job", async () => {
    const { ns, ctx } = setup();
    seedBackend(ns);
    fake.onJob((job) => (job.metadata.namespace === ns ? { succeed: true, logs: ['INFO  [alembic.runtime.migration] Running upgrade 1a2b -> 3c4d, add users', 'connecting with password=hunter2'] } : undefined));
    const result = await runJob(dbMigrateJob, {}, ctx);
    const job = createdJob(ns);
    const container = job.spec.template.spec.containers[0]!;
    expect(container.image).toBe('registry.example/autostack/backend:1.4.2');
    expect(container.command).toEqual(['alembic', 'upgrade', 'head']);
    expect(container.envFrom).toEqual([{ secretRef: { name: 'backend-env' } }]);
    expect(job.spec.backoffLimit).toBe(0);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    expect(job.spec.ttlSecondsAfterFinished).toBe(MIGRATION_TTL_SECONDS);
    expect(result.steps).toContain('`INFO  [alembic.runtime.migration] Running upgrade 1a2b -> 3c4d, add users`');
    expect(result.steps.join('\n')).not.toContain('hunter2');
    expect(result.attachments[0]!.content).toContain('password=[REDACTED]');
    expect(result.reply.summary).toBe('Migration succeeded (exit code 0)');
    expect(fake.listObjects('jobs', ns)).toHaveLength(0);
    expect(ctx.audited.find((a) => a.action === 'db migrate')?.result).toBe('succeeded');
  });

  it('reports a failed migration with its exit code and keeps the Job for inspection', async () => {
    const { ns, ctx } = setup();
    seedBackend(ns);
    fake.onJob((job) => (job.metadata.namespace === ns ? { succeed: false, exitCode: 2, logs: ['sqlalchemy.exc.ProgrammingError: relation "users" already exists'], afterPolls: 2 } : undefined));
    const error = await runJob(dbMigrateJob, {}, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    const message = (error as Error).message;
    expect(message).toContain('The migration failed (exit code 2; BackoffLimitExceeded');
    expect(message).toMatch(/Job autostack-migrate-\S+ is kept for inspection and removed 1h after it finished/);
    const jobs = fake.listObjects<Job>('jobs', ns);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.metadata.labels?.[MIGRATION_LABEL]).toBe('db-migrate');
  });

  it('refuses to start while another migration is running', async () => {
    const { ns, ctx } = setup();
    seedBackend(ns);
    fake.onJob((job) => (job.metadata.namespace === ns ? { succeed: true, hold: true } : undefined));
    await ctx.clients.kube().batch.createNamespacedJob({
      namespace: ns,
      body: { metadata: { name: 'autostack-migrate-running', labels: { [MIGRATION_LABEL]: 'db-migrate' } }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'migrate', image: 'x' }] } } } },
    });
    await expect(runJob(dbMigrateJob, {}, ctx)).rejects.toThrow('A migration Job is already running (autostack-migrate-running); nothing was started.');
    expect(fake.listObjects('jobs', ns)).toHaveLength(1);
  });

  it('says when the backend Deployment is missing', async () => {
    const { ctx } = setup();
    await expect(planOf(dbMigrateVerb, {}, ctx)).rejects.toThrow(/Deployment backend not found/);
  });
});
