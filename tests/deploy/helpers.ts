/**
 * Shared set-up of the deploy tests: one fake backend and one Slack emulator per test file; a
 * fresh namespace on the test control plane (the bot under its Role), Redis prefix and images
 * per test.
 */
import { WebClient } from '@slack/web-api';
import type { JobLauncher, JobRef } from '../../src/core/types.ts';
import { SlackEmulator } from '../../dev/slack-emulator/index.ts';
import { testContext } from '../harness/context.ts';
import type { TestContext } from '../harness/context.ts';
import { uniqueName } from '../harness/env.ts';
import type { FakeBackend } from '../harness/fake-backend.ts';
import { createDeploymentWithHistory, kubeNamespace } from '../harness/kube-env.ts';
import type { TestNamespace } from '../harness/kube-env.ts';

export const INCIDENT_CHANNEL = 'C0INCIDENT';
export const OPS_CHANNEL = 'C0OPS';
export const ONCALL = 'S0ONCALL';
export const WORKSPACE = 'https://autostack-test.slack.com';

export async function startSlack(): Promise<SlackEmulator> {
  const emulator = new SlackEmulator({
    users: [{ id: 'U0OPERATOR', name: 'operator' }],
    channels: [
      { id: OPS_CHANNEL, name: 'ops' },
      { id: INCIDENT_CHANNEL, name: 'incident' },
    ],
  });
  await emulator.start();
  return emulator;
}

export interface DeployWorld {
  ns: string;
  kns: TestNamespace;
  ctx: TestContext;
  /** `registry.example/<ns>/web` */
  repo: string;
  image(tag: string): string;
}

/** A launcher that records jobs like testContext's, but hands out thread timestamps and permalinks. */
export function threadLauncher(ctx: TestContext): JobLauncher {
  let n = 0;
  return {
    async start(name, data, options): Promise<JobRef> {
      n++;
      ctx.started.push({ name, data, options });
      return { id: `${name}-${n}`, channel: options.channel, threadTs: `1700000000.${String(n).padStart(6, '0')}`, existing: false };
    },
    permalink: async (channel, ts) => `${WORKSPACE}/archives/${channel}/p${ts.replace('.', '')}`,
  };
}

export async function deployWorld(backend: FakeBackend, slack: SlackEmulator, app: Record<string, unknown> = {}, config: Record<string, unknown> = {}): Promise<DeployWorld> {
  const kns = await kubeNamespace();
  const ns = kns.name;
  const repo = `registry.example/${ns}/web`;
  const ctx = testContext({
    kube: kns.bot,
    role: 'operator',
    userId: 'U0OPERATOR',
    channel: OPS_CHANNEL,
    slack: new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl }),
    config: {
      redis: { prefix: uniqueName('dep') },
      kubernetes: { namespace: ns },
      backend: { url: backend.url },
      channels: { incident: INCIDENT_CHANNEL, ops: OPS_CHANNEL },
      alerts: { oncallUsergroup: ONCALL },
      rollout: { timeout: '5s' },
      deploy: {
        apps: {
          web: { deployment: 'web', image: repo, healthUrl: `${backend.url}/health`, ...app },
        },
      },
      ...config,
    },
  });
  ctx.jobs = threadLauncher(ctx);
  return { ns, kns, ctx, repo, image: (tag) => `${repo}:${tag}` };
}

/** Deployment web at revision 2 (`1.0`, change-cause "release 1.0"), revision 1 (`0.9`) behind it. */
export async function seedWeb(w: DeployWorld, replicas = 2): Promise<void> {
  await createDeploymentWithHistory(w.kns, { name: 'web', replicas, revisions: [{ image: w.image('0.9') }, { image: w.image('1.0'), changeCause: 'release 1.0' }] });
}
