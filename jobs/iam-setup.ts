/**
 * `iam setup` after approval: re-reads the role (the runtime compares the plan with the approved
 * one), then creates/reuses the role, puts the inline policy and ends with the role ARN. A failure
 * undoes this run's changes (see commands/iam/setup.ts).
 */
import type { JobDefinition, JobRun } from '../src/core/types.ts';
import type { Reply } from '../src/core/result.ts';
import { applySetup, inspectSetup, setupPlan } from '../commands/iam/setup.ts';
import type { SetupInspection, SetupParams } from '../commands/iam/setup.ts';

export const IAM_SETUP_JOB = 'iam-setup';

export interface IamSetupData {
  params: SetupParams;
}

/** The inspection `replan` made, reused by `process` of the same run. */
const inspected = new WeakMap<object, SetupInspection>();

async function inspect(run: JobRun<IamSetupData>): Promise<SetupInspection> {
  return inspectSetup(run.clients.aws(run.requestedBy), run.config, run.data.params, run.clients.clock.now());
}

export const iamSetupJob: JobDefinition<IamSetupData> = {
  name: IAM_SETUP_JOB,
  title: (data) => `IAM setup: role ${data.params.role}, inline policy ${data.params.policyName}`,
  onFailureNextStep: 'IAM Setup: fix the cause shown in the thread (it says what, if anything, was left), then run `/autostack iam setup` again.',

  async replan(data, run) {
    const inspection = await inspectSetup(run.clients.aws(run.requestedBy), run.config, data.params, run.clients.clock.now());
    inspected.set(run, inspection);
    return setupPlan(inspection);
  },

  async process(run): Promise<Reply> {
    const { params } = run.data;
    const inspection = inspected.get(run) ?? (await inspect(run));
    await run.step(`Account ${inspection.identity.account}; policy ${inspection.file}${inspection.added.length ? ` + ${inspection.added.length} statements from iam check` : ''}`);
    const outcome = await applySetup(run.clients.aws(run.requestedBy).iam, inspection, (text) => run.step(text));
    const changed = outcome.created || outcome.trust === 'replace' || outcome.policy !== 'unchanged';
    await run.audit.record({
      actor: run.requestedBy,
      action: 'iam setup',
      args: { role: params.role, policyName: params.policyName, policyFile: inspection.file, principals: params.principals, addMissing: params.addMissing },
      result: changed ? 'changed' : 'unchanged',
      channel: run.channel,
      detail: `${outcome.roleArn}: role ${outcome.created ? 'created' : 'reused'}, trust ${outcome.trust}, inline policy ${outcome.policy}`,
    });
    const what = [
      outcome.created ? `created ${params.role}` : `reused ${params.role}`,
      outcome.trust === 'replace' ? 'replaced its trust policy' : '',
      outcome.policy === 'unchanged' ? `inline policy ${params.policyName} unchanged` : `${outcome.policy === 'put' ? 'put' : 'replaced'} inline policy ${params.policyName}`,
    ].filter(Boolean);
    return {
      summary: `IAM setup done: ${what.join(', ')}. Role ARN: ${outcome.roleArn}`,
      parts: [
        { kind: 'text', text: `:white_check_mark: IAM setup done: ${what.join(', ')}.` },
        { kind: 'text', text: '*Role ARN* (save this: Terraform assumes it):' },
        { kind: 'code', text: outcome.roleArn },
      ],
      visibility: 'channel',
    };
  },
};
