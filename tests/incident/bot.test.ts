/**
 * Incident scenarios 1, 3 and 4 end to end: signed slash commands through the real bot (Bolt's
 * HTTP receiver, dispatcher guards, BullMQ jobs in the test Redis) against the Slack emulator, the
 * test control plane (the bot under its Role), the fake backend and the test PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeClientsFrom } from '../../src/clients.ts';
import { incidentModule } from '../../commands/index.ts';
import { rollbackTiming } from '../../commands/incident/operations.ts';
import { dbRestartTiming } from '../../commands/incident/operations.ts';
import { dbMigrateTiming } from '../../commands/incident/operations.ts';
import { RESTARTED_AT_ANNOTATION } from '../../commands/shared/kube.ts';
import { DEFAULT_API_TOKEN, FakeBackend } from '../harness/fake-backend.ts';
import { createDeploymentWithHistory, deploymentImage, deploymentPods, failingCommand, kubeNamespace, setNamespaceLogs, setPodLogs, updateDeployment } from '../harness/kube-env.ts';
import type { TestNamespace } from '../harness/kube-env.ts';
import { waitUntil } from '../harness/services.ts';
import { INCIDENT, USERS, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';
import { createDatabase, testServices } from '../harness/env.ts';

let ns: TestNamespace;
let NS: string;
let backend: FakeBackend;
let t: TestBot;

beforeAll(async () => {
  rollbackTiming.pollMs = 10;
  rollbackTiming.healthDelayMs = 10;
  dbRestartTiming.pollMs = 10;
  dbMigrateTiming.pollMs = 10;
  backend = await FakeBackend.start();
  const db = await createDatabase('incidentbot');
  ns = await kubeNamespace();
  NS = ns.name;
  await createDeploymentWithHistory(ns, { name: 'backend', revisions: [{ image: 'registry.example/autostack/backend:1.9' }, { image: 'registry.example/autostack/backend:2.0' }] });
  await ns.kube.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'backend-env' }, stringData: { DATABASE_URL: db.url } } });
  const labels = { app: 'db' };
  await ns.kube.apps.createNamespacedStatefulSet({
    namespace: NS,
    body: { metadata: { name: 'db', labels }, spec: { serviceName: 'db', replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'postgres', image: 'postgres:15' }] } } } },
  });
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
    overrides: { kube: () => kubeClientsFrom(ns.bot) },
  });
});

afterAll(async () => {
  await t?.stop();
  await backend?.close();
});

/** Every message and thread reply in the incident channel, as text. */
function everything(): string[] {
  return t.emulator.channelMessages(INCIDENT, { includeReplies: true }).map((m) => t.text(m));
}

async function restartedAt(): Promise<string | undefined> {
  return (await ns.kube.apps.readNamespacedStatefulSet({ name: 'db', namespace: NS })).spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION];
}

/** What the migration Jobs' pods log (kwok serves it; it keeps follow streams open after they end, as a kubelet may). */
async function migrationLogs(lines: string[]): Promise<void> {
  await setNamespaceLogs(ns, (await deploymentPods(ns, 'backend'))[0]!.metadata!.name!, lines);
}

async function confirm(user: string): Promise<void> {
  const ephemeral = t.lastEphemeral(user)!;
  await t.click(user, { channel: INCIDENT, ts: ephemeral.ts }, 'Confirm');
}

describe('incident response through the bot', () => {
  it("scenario 1: a viewer reads a crashed pod's previous logs in the incident channel", async () => {
    // Release 2 crash-loops; its crashed container's lines are served for --previous.
    await createDeploymentWithHistory(ns, { name: 'web', revisions: [{ image: 'web:0' }, { image: 'web:1' }, { image: 'web:2', crashing: true }] });
    let crashed: string | undefined;
    await waitUntil('the crashing pod', 30_000, async () => {
      crashed = (await deploymentPods(ns, 'web')).find((pod) => pod.spec?.containers[0]?.image === 'web:2' && pod.status?.containerStatuses?.length)?.metadata?.name;
      return Boolean(crashed);
    });
    await setPodLogs(ns, crashed!, { web: { lines: [], previous: ['KeyError: JWT_SECRET', 'token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX3ZhbHVl'] } });

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
    expect(await deploymentImage(ns, 'web')).toBe('web:2');
    await confirm(USERS.operator);
    await t.eventually(() => everything().find((m) => m.includes('Rolled back: live image web:1 (was web:2), 1/1 ready, /health 200')), 'the rollback outcome');
    expect(await deploymentImage(ns, 'web')).toBe('web:1');
    expect(everything().some((m) => m.includes('Rollout complete'))).toBe(true);
  });

  it('scenario 1: a confirmed rollback by deployment ID calls the platform API as the runbook does', async () => {
    backend.addDeployment({ id: '1234' });
    // The platform rolls the backend Deployment back to its previous image.
    backend.onRollback(async () => {
      await updateDeployment(ns, 'backend', (dep) => {
        dep.spec!.template!.spec!.containers[0]!.image = 'registry.example/autostack/backend:1.9';
      });
    });
    await t.command(USERS.operator, 'rollback 1234 "bad config push"', INCIDENT);
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toContain(`POST ${backend.url}/api/deployments/1234/rollback`);
    await confirm(USERS.operator);
    await t.eventually(() => everything().find((m) => m.includes('Rolled back: live image backend:1.9 (was backend:2.0)')), 'the platform rollback outcome');
    backend.onRollback(undefined);
    // Back to the release the other scenarios expect.
    await updateDeployment(ns, 'backend', (dep) => {
      dep.spec!.template!.spec!.containers[0]!.image = 'registry.example/autostack/backend:2.0';
    });
    expect(backend.rollbacks).toContainEqual({ id: '1234', reason: 'bad config push', token: DEFAULT_API_TOKEN });
  });

  it('scenario 1: a rollback of a deployment ID the platform does not know is refused privately, before any plan', async () => {
    const before = everything().length;
    await t.command(USERS.operator, 'rollback 999999 wrong id', INCIDENT);
    const refusal = t.lastEphemeral(USERS.operator)!;
    expect(t.text(refusal)).toContain('Platform deployment 999999 does not exist');
    expect(t.text(refusal)).not.toContain('POST ');
    expect(refusal.blocks && JSON.stringify(refusal.blocks)).not.toContain('Confirm');
    expect(everything()).toHaveLength(before);
    expect(backend.rollbacks.some((r) => r.id === '999999')).toBe(false);
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
    expect(await restartedAt()).toBeUndefined();
    await t.emulator.submitView(t.url, { viewId: modal.id, values: { typed: { value: 'db' } } });
    await t.eventually(() => everything().find((m) => m.includes('Database restarted and reachable')), 'the restart outcome');
    expect(await restartedAt()).toBeDefined();

    await migrationLogs(['INFO  [alembic.runtime.migration] Running upgrade  -> 0001, initial schema']);
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
  /** The migration Jobs not deleted (or being deleted), by name. */
  const migrationJobs = async () =>
    (await ns.kube.batch.listNamespacedJob({ namespace: NS })).items.filter((job) => job.metadata?.name?.startsWith('autostack-migrate-') && !job.metadata.deletionTimestamp).map((job) => job.metadata!.name!);
  /** Messages (and replies) posted since `since` was taken, as text: earlier scenarios ran migrations too. */
  const snapshot = () => new Set(t.emulator.channelMessages(INCIDENT, { includeReplies: true }).map((m) => m.ts));
  const newSince = (since: Set<string>) => t.emulator.channelMessages(INCIDENT, { includeReplies: true }).filter((m) => !since.has(m.ts)).map((m) => t.text(m));

  it('db migrate posts the outcome with from → to and deletes the Job, while a job beside it finishes', async () => {
    await migrationLogs([alembic('0001', '0002', 'add users'), alembic('0002', '0003', 'index emails')]);
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
    expect(await migrationJobs()).toEqual([]);
    await t.eventually(() => newSince(since).some((m) => m.includes('pong after 9 steps')), 'the ping job beside it finishing');
    expect(escaped).toEqual([]);
  });

  it('a failing migration Job ends with its real outcome and what its log reached', async () => {
    const since = snapshot();
    await migrationLogs([alembic('0003', '0004', 'drop legacy'), 'sqlalchemy.exc.ProgrammingError: relation "legacy" does not exist']);
    // A command whose container exits 1 (see failingCommand): the Job fails as a broken migration's would.
    t.config.database.migrateCommand = failingCommand(1);
    await t.command(USERS.operator, 'db migrate', INCIDENT);
    await confirm(USERS.operator);
    const parent = await t.eventually(() => newSince(since).find((m) => m.includes('Database migration') && m.includes('Failed in')), 'the parent saying Failed');
    expect(parent).toContain('The migration failed (exit code 1; BackoffLimitExceeded');
    expect(parent).toContain('0003 → 0004');
    // The failed Job is cleaned up too: its log is in the thread.
    expect(await migrationJobs()).toEqual([]);
    expect(parent).toMatch(/Job autostack-migrate-\S+ was deleted \(its log is attached\)/);
    expect(escaped).toEqual([]);
  });
});
