/**
 * Deploys end to end: signed slash commands and clicks through the real bot (Bolt's HTTP
 * receiver, the dispatcher's confirm and approval guards, BullMQ jobs in the test Redis) against
 * the Slack emulator, the test control plane (the bot under its Role) and the fake backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeClientsFrom } from '../../src/clients.ts';
import { deployModule } from '../../commands/deploy/index.ts';
import { incidentModule } from '../../commands/index.ts';
import { checkTiming } from '../../commands/deploy/steps.ts';
import { deployTiming } from '../../commands/deploy/operation.ts';
import { FakeBackend } from '../harness/fake-backend.ts';
import { CRASHLOOP_IMAGE_SUFFIX, createDeployment, createDeploymentWithHistory, deploymentImage, kubeNamespace } from '../harness/kube-env.ts';
import type { TestNamespace } from '../harness/kube-env.ts';
import { INCIDENT, OPS, USERS, buttonsOf, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';

const ONCALL = 'S0ONCALL';
const REPO = 'registry.example/autostack/web';
let ns: TestNamespace;
let backend: FakeBackend;
let t: TestBot;

beforeAll(async () => {
  deployTiming.pollMs = 10;
  checkTiming.healthAttempts = 2;
  checkTiming.healthDelayMs = 10;
  backend = await FakeBackend.start();
  ns = await kubeNamespace();
  await createDeploymentWithHistory(ns, { name: 'web', replicas: 2, revisions: [{ image: `${REPO}:0.9` }, { image: `${REPO}:1.0` }] });
  await createDeployment(ns, { name: 'web-prod', image: `${REPO}:1.0`, replicas: 1 });
  t = await startTestBot({
    modules: [incidentModule, deployModule],
    config: {
      kubernetes: { namespace: ns.name },
      backend: { url: backend.url },
      rollout: { timeout: '3s' },
      alerts: { oncallUsergroup: ONCALL },
      deploy: {
        apps: {
          web: { deployment: 'web', image: REPO, healthUrl: `${backend.url}/health`, smoke: [{ url: `${backend.url}/auth/github`, status: 307 }] },
          prod: { deployment: 'web-prod', image: REPO, protected: true, healthUrl: `${backend.url}/health` },
        },
      },
    },
    overrides: { kube: () => kubeClientsFrom(ns.bot) },
  });
});

afterAll(async () => {
  await t?.stop();
  await backend?.close();
});

const imageOf = (name: string) => deploymentImage(ns, name);

function jobParent(title: string, channel = OPS) {
  return t.messages(channel).filter((m) => t.text(m).includes(title)).at(-1);
}

async function finished(title: string, channel = OPS) {
  return t.eventually(() => {
    const parent = jobParent(title, channel);
    return parent && /Succeeded|Failed/.test(t.text(parent)) ? parent : undefined;
  }, `job "${title}" to finish`, 20_000);
}

describe('deploy through the bot', () => {
  it('asks to confirm with the plan, then deploys in a job thread', async () => {
    await t.command(USERS.operator, 'deploy web 2.0 new login page');
    const confirm = t.lastEphemeral(USERS.operator)!;
    expect(t.text(confirm)).toContain(`Deploy web: ${REPO}:1.0 → ${REPO}:2.0`);
    expect(t.text(confirm)).toContain(`smoke check: GET ${backend.url}/auth/github must answer 307`);
    expect(await imageOf('web')).toBe(`${REPO}:1.0`);
    await t.click(USERS.operator, { channel: OPS, ts: confirm.ts }, 'Confirm');

    const parent = await finished('Deploy web 2.0');
    expect(t.text(parent)).toContain('Succeeded');
    expect(await imageOf('web')).toBe(`${REPO}:2.0`);
    const thread = t.emulator.thread(OPS, parent.ts).map((m) => t.text(m)).join('\n');
    expect(thread).toContain('Rollout complete');
    expect(thread).toContain(`✓ GET ${backend.url}/health → 200`);
    expect(thread).toContain(`✓ GET ${backend.url}/auth/github → 307`);
    // The rollout's chart is in the same thread, its numbers in the alt text.
    const chart = t.emulator.files().find((f) => f.title === 'Ready replicas of Deployment web' && f.shares.some((s) => s.channel === OPS && s.thread_ts === parent.ts));
    expect(chart?.mimetype).toBe('image/png');
    expect(chart?.alt_text).toMatch(/^Ready replicas of Deployment web, \S+ to \S+ UTC: .*, 2 of 2 at the end, .*; image set at \S+; rolled out at \S+\.$/);
    expect(thread).toContain(`📈 `);

    await t.command(USERS.viewer, 'deploy history web');
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toContain(`${REPO.split('/').at(-1)}:1.0 → ${REPO.split('/').at(-1)}:2.0: succeeded`);
  });

  it('refuses a second deploy of the app while one runs, with a link to its thread; the first rolls back and notifies the incident channel', async () => {
    // Its pods crash-loop (see CRASHLOOP_IMAGE_SUFFIX).
    const broken = `3.0${CRASHLOOP_IMAGE_SUFFIX}`;
    await t.command(USERS.operator, `deploy web ${broken}`);
    await t.click(USERS.operator, { channel: OPS, ts: t.lastEphemeral(USERS.operator)!.ts }, 'Confirm');
    const running = await t.eventually(() => jobParent(`Deploy web ${broken}`), 'the first deploy');
    // Ask for the second deploy once the first has set its image: asked earlier, the second's
    // confirmation would (rightly) be re-asked because its plan changed under it.
    await t.eventually(async () => (await imageOf('web')) === `${REPO}:${broken}`, 'the first deploy setting its image');

    await t.command(USERS.approver, 'deploy web 3.1');
    await t.click(USERS.approver, { channel: OPS, ts: t.lastEphemeral(USERS.approver)!.ts }, 'Confirm');
    const refusal = t.ephemeralTexts(USERS.approver).at(-1)!;
    expect(refusal).toContain(`web is already being deployed (${REPO}:${broken} by <@${USERS.operator}>`);
    expect(refusal).toContain(`https://${t.emulator.teamDomain}.slack.com/archives/${OPS}/p${running.ts.replace('.', '')}`);
    expect(jobParent('Deploy web 3.1')).toBeUndefined();

    const parent = await finished(`Deploy web ${broken}`);
    expect(t.text(parent)).toContain('Failed');
    expect(t.text(parent)).toContain('the rollout did not become ready within 3s');
    expect(t.text(parent)).toContain(`Rolled back automatically to revision 3 (${REPO}:2.0)`);
    expect(await imageOf('web')).toBe(`${REPO}:2.0`);
    // The chart shows the stuck rollout and the rollback that followed.
    const chart = await t.eventually(() => t.emulator.files().find((f) => f.title === 'Ready replicas of Deployment web' && f.shares.some((s) => s.thread_ts === parent.ts)), 'the rollout chart');
    expect(chart.alt_text).toMatch(/; image set at \S+; rollout stuck at \S+; rollback started at \S+; rollback rolled out at \S+\.$/);
    const notice = await t.eventually(() => t.messages(INCIDENT).find((m) => m.text.includes(`Deploy of web ${broken}`)), 'the incident notification');
    expect(notice.text).toContain(`<!subteam^${ONCALL}>`);
    expect(notice.text).toContain(`/archives/${OPS}/p${parent.ts.replace('.', '')}|deploy thread>`);

    // The app is free again.
    await t.command(USERS.approver, 'deploy web 3.1');
    expect(t.text(t.lastEphemeral(USERS.approver)!)).toContain(`Deploy web: ${REPO}:2.0 → ${REPO}:3.1`);
  });

  it('sends a protected app to `deploy protected`, which another approver must approve', async () => {
    await t.command(USERS.operator, 'deploy prod 1.1');
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toContain('prod is protected: its deploys need an approver. Run `/autostack deploy protected prod 1.1` instead.');

    await t.command(USERS.operator, 'deploy protected prod 1.1 hotfix');
    const request = await t.eventually(() => t.messages(OPS).find((m) => t.text(m).includes('asks to run `deploy protected`') && buttonsOf(m.blocks).length), 'the approval request');
    expect(t.text(request)).toContain(`Deploy prod: ${REPO}:1.0 → ${REPO}:1.1`);
    await t.click(USERS.operator, { channel: OPS, ts: request.ts }, 'Approve');
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/needs the approver role|cannot approve your own request/);
    expect(await imageOf('web-prod')).toBe(`${REPO}:1.0`);

    await t.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Approve');
    const parent = await finished('Deploy prod 1.1');
    expect(t.text(parent)).toContain('Succeeded');
    expect(await imageOf('web-prod')).toBe(`${REPO}:1.1`);
  });
});
