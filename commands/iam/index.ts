/**
 * IAM: role setup, policy check against every runbook step, AWS role rotation and the quarterly
 * review. Runbook: "IAM Setup" and "Rotate AWS IAM Role".
 */
import type { ActionHandler, CommandModule, Schedule, Verb } from '../../src/core/types.ts';
import { UsageError } from '../../src/core/types.ts';
import { checkReply } from './check.ts';
import { applyHint, runDocumentCheck, runRoleCheck, roleCheckReply } from './inspect.ts';
import { IAM_REVIEW_JOB, REVIEW_CHECK_ACTION, REVIEW_ROTATE_ACTION, reviewCron } from './review.ts';
import type { IamReviewData } from './review.ts';
import { verifiedHandler } from './rotation-flow.ts';
import type { RotateParams } from './rotation-flow.ts';
import { rotateOperation, setupOperation } from './operations.ts';
import { loadPolicyFile, parsePrincipals, validatePolicyName, validateRoleName } from './setup.ts';
import type { SetupParams } from './setup.ts';
import { iamState } from './state.ts';

function stringFlag(value: string | true | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (value === true) throw new UsageError(`--${name} needs a value`);
  return value.trim();
}

export const iamSetupVerb: Verb<SetupParams> = {
  path: ['iam', 'setup'],
  section: 'iam',
  runbookStep: 'IAM Setup 1-3: aws iam create-role, put-role-policy, get-role',
  summary: 'Create (or update) the Terraform role: trust policy, inline policy, then its ARN',
  usage: '[--role-name NAME] [--principals ARN,ARN] [--policy-name NAME] [--policy-file FILE] [--replace-trust] [--add-missing]',
  minRole: 'operator',
  guard: 'approval',
  positional: { min: 0, max: 0 },
  flags: { 'role-name': 'string', principals: 'string', 'policy-name': 'string', 'policy-file': 'string', 'replace-trust': 'boolean', 'add-missing': 'boolean' },
  form: {
    title: 'IAM setup',
    // No initial values: an empty field takes the configured default (iam.roleName, iam.policyName,
    // iam.policyFile), which are the runbook's names unless configured otherwise.
    fields: [
      { name: 'role-name', label: 'Role name', optional: true, hint: 'Empty: the configured role (default AutoStackTerraformRole). Letters, digits and + = , . @ _ -, up to 64 characters.' },
      {
        name: 'principals',
        label: 'Trusted principal ARNs',
        multiline: true,
        hint: 'Who may assume the role, separated by commas or new lines: arn:aws:iam::123456789012:root, ...:user/NAME or ...:role/NAME',
      },
      { name: 'policy-name', label: 'Inline policy name', optional: true, hint: 'Empty: the configured name (default AutoStackMinimalPolicy).' },
      { name: 'policy-file', label: 'Policy file', optional: true, hint: 'A .json policy document in the policies folder. Empty: the runbook\u2019s minimal policy (policies/minimal-policy.json).' },
    ],
  },
  parse(args, { config }) {
    const role = validateRoleName(stringFlag(args.flags['role-name'], 'role-name') || config.iam.roleName);
    const principalsText = stringFlag(args.flags.principals, 'principals');
    const principals = principalsText ? parsePrincipals(principalsText) : [];
    const policyName = validatePolicyName(stringFlag(args.flags['policy-name'], 'policy-name') || config.iam.policyName);
    const { file } = loadPolicyFile(config, stringFlag(args.flags['policy-file'], 'policy-file') || config.iam.policyFile);
    const replaceTrust = args.flags['replace-trust'] === true;
    if (replaceTrust && principals.length === 0) throw new UsageError('--replace-trust needs --principals: the principals the new trust policy lets assume the role.');
    return { role, principals, policyName, policyFile: file, replaceTrust, addMissing: args.flags['add-missing'] === true };
  },
  operation: setupOperation,
};

export interface CheckParams {
  role?: string;
  policyFile?: string;
}

export const iamCheckVerb: Verb<CheckParams> = {
  path: ['iam', 'check'],
  section: 'iam',
  runbookStep: 'IAM Setup: minimal policy (and Troubleshooting: "Terraform plan fails: check IAM permissions")',
  summary: 'Check a role against every runbook step and bot command that calls AWS; propose the smallest fix',
  usage: '[role] [--policy-file FILE]',
  minRole: 'viewer',
  guard: 'none',
  positional: { min: 0, max: 1 },
  flags: { 'policy-file': 'string' },
  parse(args, { config }) {
    const role = args.positional[0] !== undefined ? validateRoleName(args.positional[0], 'role') : undefined;
    const given = stringFlag(args.flags['policy-file'], 'policy-file');
    const policyFile = given ? loadPolicyFile(config, given).file : undefined;
    return { ...(role ? { role } : {}), ...(policyFile ? { policyFile } : {}) };
  },
  async execute(params, ctx) {
    const role = params.role ?? (await iamState(ctx.clients.redis, ctx.config).currentRoleName(ctx.config));
    const aws = ctx.clients.aws(ctx.actor.id);
    const now = ctx.clients.clock.now();
    if (params.policyFile) {
      const { file, document } = loadPolicyFile(ctx.config, params.policyFile);
      const check = await runDocumentCheck(aws, ctx.config, role, `file ${file}`, document, now);
      return checkReply({
        title: `iam check: ${file}`,
        fields: [
          ['Policy file', file],
          ['Evaluated as the policy of', `${role} in account ${check.input.account}, region ${check.input.region}`],
        ],
        policies: check.policies,
        result: check.result,
        applyHint: applyHint({ ...ctx.config, iam: { ...ctx.config.iam, policyFile: file } }, role, ctx.config.iam.policyName),
      });
    }
    return roleCheckReply(ctx.config, await runRoleCheck(aws, ctx.config, role, now));
  },
};

export const rotateAwsRoleVerb: Verb<RotateParams> = {
  path: ['rotate', 'aws-role'],
  section: 'rotation',
  runbookStep: 'Rotate AWS IAM Role 1-5',
  summary: 'Create the next role (V2, V3, ...) as a copy, switch Terraform, then delete the old role',
  usage: '[role]',
  minRole: 'operator',
  guard: 'approval',
  positional: { min: 0, max: 1 },
  parse(args) {
    const role = args.positional[0];
    return role !== undefined ? { role: validateRoleName(role, 'role') } : {};
  },
  operation: rotateOperation,
};

const reviewCheckHandler: ActionHandler = {
  action: REVIEW_CHECK_ACTION,
  minRole: 'viewer',
  async handle(value, ctx) {
    // The same request as typing `/autostack iam check <role>`.
    await ctx.request(iamCheckVerb.path, { positional: [validateRoleName(value, 'role')], flags: {} });
    return undefined;
  },
};

const reviewRotateHandler: ActionHandler = {
  action: REVIEW_ROTATE_ACTION,
  minRole: 'operator',
  async handle(value, ctx) {
    // The same request as typing `/autostack rotate aws-role <role>`: an approver must approve it.
    await ctx.request(rotateAwsRoleVerb.path, { positional: [validateRoleName(value, 'role')], flags: {} });
    return undefined;
  },
};

export const iamReviewSchedule: Schedule = {
  name: 'iam-review',
  job: IAM_REVIEW_JOB,
  // Posted in the ops channel; without one there is nowhere to post, so nothing is scheduled.
  cron: (config) => (config.channels.ops ? { pattern: reviewCron(config), tz: config.rotation.timezone } : undefined),
  data: (): IamReviewData => ({}),
};

export const iamModule: CommandModule = {
  area: 'iam',
  verbs: [iamSetupVerb, iamCheckVerb, rotateAwsRoleVerb],
  actions: [verifiedHandler, reviewCheckHandler, reviewRotateHandler],
  schedules: [iamReviewSchedule],
};
