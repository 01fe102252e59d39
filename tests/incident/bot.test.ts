/**
 * Incident scenarios 1, 3 and 4 end to end: signed slash commands through the real bot (Bolt's
 * HTTP receiver, dispatcher guards, BullMQ jobs in the test Redis) against the Slack emulator, the
 * fake Kubernetes API, the fake backend and the test PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeClientsFrom } from '../../src/clients.ts';
import { incidentModule } from '../../commands/index.ts';
import { rollbackTiming } from '../../commands/incident/operations.ts';
import { dbRestartTiming } from '../../commands/incident/operations.ts';
import { dbMigrateTiming } from '../../commands/incident/operations.ts';
import { RESTARTED_AT_ANNOTATION } from '../../commands/shared/kube.ts';
import { DEFAULT_API_TOKEN, FakeBackend } from '../harness/fake-backend.ts';
import { FakeKube, type Job } from '../harness/fake-kube.ts';
import { INCIDENT, USERS, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';
import { createDatabase, testServices } from '../harness/env.ts';

const NS = 'autostack';
let fake: FakeKube;
let backend: FakeBackend;
let t: TestBot;

beforeAll(async () => {
  rollbackTiming.pollMs = 10;
  rollbackTiming.healthDelayMs = 10;
  dbRestartTiming.pollMs = 10;
  dbMigrateTiming.pollMs = 10;
  fake = await FakeKube.start();
  backend = await FakeBackend.start();
  const db = await createDatabase('incidentbot');
  fake.seedDeployment({ namespace: NS, name: 'backend', image: 'registry.example/autostack/backend:2.0', revisions: [{ image: 'registry.example/autostack/backend:1.9' }] });
  fake.seedSecret(NS, 'backend-env', { DATABASE_URL: db.url });
  fake.seedStatefulSet({ namespace: NS, name: 'db', image: 'postgres:15' });
  const kc = fake.kubeConfig({ namespace: NS });
  t = await startTestBot({
    modules: [incidentModule],
    config: {
      kubernetes: { namespace: NS },
      backend: { url: backend.url, apiToken: DEFAULT_API_TOKEN },
      database: { url: db.url },
      oauth: {
        github: { clientId: 'gh-client-id-initial', callbackUrl: `${backend.url}/auth/github/callback` },
        google: { clientId: 'google-client-id-initial.apps.googleusercontent.com', callbackUrl: `${backend.url}/auth/google/callback` },
      },
    },
    overrides: { kube: () => kubeClientsFrom(kc) },
  });
});

afterAll(async () => {
  await t?.stop();
  await backend?.close();
  await fake?.close();
});

/** Every message and thread reply in the incident channel, as text. */
function everything(): string[] {
  return t.emulator.channelMessages(INCIDENT, { includeReplies: true }).map((m) => t.text(m));
}

async function confirm(user: string): Promise<void> {
  const ephemeral = t.lastEphemeral(user)!;
  await t.click(user, { channel: INCIDENT, ts: ephemeral.ts }, 'Confirm');
}

describe('incident response through the bot', () => {
  it("scenario 1: a viewer reads a crashed pod's previous logs in the incident channel", async () => {
    fake.seedDeployment({ namespace: NS, name: 'web', image: 'web:1', replicas: 1, revisions: [{ image: 'web:0' }] });
    fake.setImageBehaviour('web:2', 'stuck', { failure: 'CrashLoopBackOff', crashLogs: ['KeyError: JWT_SECRET', 'token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX3ZhbHVl'], restartCount: 3 });
    const apps = kubeClientsFrom(fake.kubeConfig({ namespace: NS })).apps;
    const dep = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    dep.spec!.template!.spec!.containers[0]!.image = 'web:2';
    await apps.replaceNamespacedDeployment({ name: 'web', namespace: NS, body: dep });

    await t.command(USERS.viewer, 'logs web --previous', INCIDENT);
    const posted = await t.eventually(() => everything().find((m) => m.includes('KeyError: JWT_SECRET')), 'the logs message');
    expect(posted).toMatch(/\[web-[a-z0-9-]+\] KeyError: JWT_SECRET/);
    expect(posted).toContain('token=[REDACTED_JWT]');
    expect(posted).not.toContain('eyJzdWIiOiIxIn0');
  });

  it('scenario 1: history, then a confirmed rollback by app that follows the rollout and checks /health', async () => {
    await t.command(USERS.viewer, 'history web', INCIDENT);
    const history = await t.eventually(() => everything().find((m) => m.includes('Rollout history of web')), 'the history');
    expect(history).toMatch(/3 ◀ live/);

    await t.command(USERS.viewer, 'rollback web', INCIDENT);
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/needs the operator role/);

    await t.command(USERS.operator, 'rollback web crash loop after release 2', INCIDENT);
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toContain('Roll back Deployment web from revision 3 to revision 2');
    expect(fake.getDeployment(NS, 'web')?.spec.template.spec.containers[0]?.image).toBe('web:2');
    await confirm(USERS.operator);
    await t.eventually(() => everything().find((m) => m.includes('Rolled back: live image web:1 (was web:2), 1/1 ready, /health 200')), 'the rollback outcome');
    expect(fake.getDeployment(NS, 'web')?.spec.template.spec.containers[0]?.image).toBe('web:1');
    expect(everything().some((m) => m.includes('Rollout complete'))).toBe(true);
  });

  it('scenario 1: a confirmed rollback by deployment ID calls the platform API as the runbook does', async () => {
    backend.addDeployment({ id: '1234' });
    // The platform rolls the backend Deployment back to its previous image.
    backend.onRollback(async () => {
      const dep = await kubeClientsFrom(fake.kubeConfig({ namespace: NS })).apps.readNamespacedDeployment({ name: 'backend', namespace: NS });
      dep.spec!.template!.spec!.containers[0]!.image = 'registry.example/autostack/backend:1.9';
      await kubeClientsFrom(fake.kubeConfig({ namespace: NS })).apps.replaceNamespacedDeployment({ name: 'backend', namespace: NS, body: dep });
    });
    await t.command(USERS.operator, 'rollback 1234 "bad config push"', INCIDENT);
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toContain(`POST ${backend.url}/api/deployments/1234/rollback`);
    await confirm(USERS.operator);
    await t.eventually(() => everything().find((m) => m.includes('Rolled back: live image backend:1.9 (was backend:2.0)')), 'the platform rollback outcome');
    backend.onRollback(undefined);
    // Back to the release the other scenarios expect.
    const apps = kubeClientsFrom(fake.kubeConfig({ namespace: NS })).apps;
    const dep = await apps.readNamespacedDeployment({ name: 'backend', namespace: NS });
    dep.spec!.template!.spec!.containers[0]!.image = 'registry.example/autostack/backend:2.0';
    await apps.replaceNamespacedDeployment({ name: 'backend', namespace: NS, body: dep });
    expect(backend.rollbacks).toContainEqual({ id: '1234', reason: 'bad config push', token: DEFAULT_API_TOKEN });
  });

  it('scenario 3: oauth check posts one line per check', async () => {
    backend.setOAuthFailure('google', 'wrong-redirect-uri');
    await t.command(USERS.viewer, 'oauth check google', INCIDENT);
    const report = await t.eventually(() => everything().find((m) => m.includes('OAuth check')), 'the oauth report');
    backend.setOAuthFailure('google', 'none');
    expect(report).toContain('✓ redirects to the Google authorize endpoint https://accounts.google.com/o/oauth2/v2/auth');
    expect(report).toContain('✗ redirect_uri is http://localhost:3000/legacy/oauth/callback');
    expect(report).toContain('https://console.cloud.google.com/apis/credentials');
  });

  it('scenario 4: db check, db restart with a typed approval, db migrate with confirmation', async () => {
    await t.command(USERS.viewer, 'db check', INCIDENT);
    const check = await t.eventually(() => everything().find((m) => m.includes('Database check')), 'the db check');
    expect(check).toContain('connections in use');
    expect(check).not.toContain(testServices().postgres.password);

    await t.command(USERS.operator, 'db restart', INCIDENT);
    const request = await t.eventually(() => t.emulator.channelMessages(INCIDENT).find((m) => t.text(m).includes('Restart the database: StatefulSet db')), 'the approval request');
    await t.click(USERS.approver, { channel: INCIDENT, ts: request.ts }, 'Approve');
    const modal = t.emulator.modalStack(USERS.approver).at(-1)!;
    const wrong = await t.emulator.submitView(t.url, { viewId: modal.id, values: { typed: { value: 'postgres' } } });
    expect(wrong.outcome).toBe('errors');
    expect(fake.getStatefulSet(NS, 'db')?.spec.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]).toBeUndefined();
    await t.emulator.submitView(t.url, { viewId: modal.id, values: { typed: { value: 'db' } } });
    await t.eventually(() => everything().find((m) => m.includes('Database restarted and reachable')), 'the restart outcome');
    expect(fake.getStatefulSet(NS, 'db')?.spec.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]).toBeDefined();

    fake.onJob(() => ({ succeed: true, logs: ['INFO  [alembic.runtime.migration] Running upgrade  -> 0001, initial schema'] }));
    await t.command(USERS.operator, 'db migrate', INCIDENT);
    expect(t.ephemeralTexts(USERS.operator).at(-1)!.replace(/\s+/g, ' ')).toContain("from the backend's current image registry.example/autostack/backend:2.0");
    await confirm(USERS.operator);
    await t.eventually(() => everything().find((m) => m.includes('Migration succeeded')), 'the migration outcome');
    expect(everything().some((m) => m.includes('Running upgrade  -&gt; 0001') || m.includes('Running upgrade  -> 0001'))).toBe(true);
    const uploaded = t.emulator.files().find((f) => f.name?.startsWith('autostack-migrate-'));
    expect(uploaded).toBeDefined();
  });
});

describe('a Job whose log stream outlives it (a kubelet may keep a follow stream open)', () => {
  // An aborted stream whose 'error' nobody listens to ends a real process; here it would reach these.
  const escaped: unknown[] = [];
  const record = (error: unknown) => escaped.push(error);
  beforeAll(() => {
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
  });
  afterAll(() => {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
  });

  const alembic = (from: string, to: string, what: string) => `INFO  [alembic.runtime.migration] Running upgrade ${from} -> ${to}, ${what}`;
  const migrationJobs = () => fake.listObjects<Job>('jobs', NS).filter((job) => job.metadata.name?.startsWith('autostack-migrate-'));
  /** Messages (and replies) posted since `since` was taken, as text: earlier scenarios ran migrations too. */
  const snapshot = () => new Set(t.emulator.channelMessages(INCIDENT, { includeReplies: true }).map((m) => m.ts));
  const newSince = (since: Set<string>) => t.emulator.channelMessages(INCIDENT, { includeReplies: true }).filter((m) => !since.has(m.ts)).map((m) => t.text(m));

  it('db migrate posts the outcome with from → to and deletes the Job, while a job beside it finishes', async () => {
    fake.onJob(() => ({ succeed: true, afterPolls: 2, keepLogStreamsOpen: true, logs: [alembic('0001', '0002', 'add users'), alembic('0002', '0003', 'index emails')] }));
    const since = snapshot();
    await t.command(USERS.viewer, 'ping --slow 9', INCIDENT);
    await t.command(USERS.operator, 'db migrate', INCIDENT);
    await confirm(USERS.operator);
    const outcome = await t.eventually(() => newSince(since).find((m) => m.includes('Migration succeeded')), 'the migration outcome');
    expect(outcome).toContain('0001 → 0003');
    // The test database has no migrations applied: the bot shows both sources and that they disagree.
    expect(outcome).toContain('still reports (none) while its log shows 0001 → 0003');
    expect(outcome).toContain('the Job may have migrated another database');
    await t.eventually(() => newSince(since).some((m) => m.includes('Database migration') && m.includes('Succeeded in')), 'the parent saying Succeeded');
    expect(migrationJobs().filter((job) => job.status?.succeeded)).toEqual([]);
    await t.eventually(() => newSince(since).some((m) => m.includes('pong after 9 steps')), 'the ping job beside it finishing');
    expect(escaped).toEqual([]);
  });

  it('a failing migration Job ends with its real outcome and what its log reached', async () => {
    const before = new Set(migrationJobs().map((job) => job.metadata.name));
    const since = snapshot();
    fake.onJob(() => ({ succeed: false, exitCode: 1, afterPolls: 2, keepLogStreamsOpen: true, logs: [alembic('0003', '0004', 'drop legacy'), 'sqlalchemy.exc.ProgrammingError: relation "legacy" does not exist'] }));
    await t.command(USERS.operator, 'db migrate', INCIDENT);
    await confirm(USERS.operator);
    const parent = await t.eventually(() => newSince(since).find((m) => m.includes('Database migration') && m.includes('Failed in')), 'the parent saying Failed');
    expect(parent).toContain('The migration failed (exit code 1; BackoffLimitExceeded');
    expect(parent).toContain('0003 → 0004');
    // The failed Job is cleaned up too: its log is in the thread.
    expect(migrationJobs().filter((job) => !before.has(job.metadata.name))).toEqual([]);
    expect(parent).toMatch(/Job autostack-migrate-\S+ was deleted \(its log is attached\)/);
    expect(escaped).toEqual([]);
  });
});
