/**
 * Generates the bot's least-privilege permissions from the permission table (deploy/permissions.ts):
 *   deploy/iam/bot-policy.json                          the bot's IAM policy (default configuration)
 *   deploy/kubernetes/bot-role.yaml                     a plain Role with the same rules
 *   deploy/helm/autostack-chatops/templates/role.yaml   the chart's Role (names from the chart's values)
 *   deploy/helm/autostack-chatops/files/autostack-rules.yml  the alert rules for the PrometheusRule
 *
 *   npm run permissions                                          rewrites them
 *   npx tsx scripts/permissions.ts --config autostack.yaml      prints the IAM policy for a configuration
 *
 * With `aws.assumeRoleArn` set, every AWS call but AssumeRole runs as that role: the bot's own
 * identity then only needs sts:AssumeRole on it, and the printed `assumedRolePolicy` is the role's.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { parseConfig, type Config } from '../src/config.ts';
import { AWS_CALLS, KUBE_CALLS, NAMED_OBJECTS, type KubeCallRow } from '../deploy/permissions.ts';

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: Array<{ Sid: string; Effect: 'Allow'; Action: string[]; Resource: string[] }>;
}

const sidOf = (text: string) => text.replace(/(^|[^A-Za-z0-9])([a-z])/g, (_m, _p, c: string) => c.toUpperCase()).replace(/[^A-Za-z0-9]/g, '');

/** A statement's name: the bucket (and whether objects), or the last named part of the ARN. */
function resourceLabel(arn: string): string {
  const s3 = /^arn:aws:s3:::([^/]+)(\/.*)?$/.exec(arn);
  if (s3) return `${s3[1]}${s3[2] ? ' objects' : ''}`;
  return arn.split(/[:/]/).filter((part) => part && part !== '*').at(-1) ?? '';
}

/** One statement per service and resource set: the actions the table grants on exactly those resources. */
function statements(config: Config, include: (service: string) => boolean): PolicyDocument['Statement'] {
  const byResources = new Map<string, { service: string; resources: string[]; actions: Set<string> }>();
  for (const row of AWS_CALLS) {
    if (!include(row.service) || row.actions.length === 0) continue;
    const resources = [...new Set(row.resources(config))].sort();
    if (resources.length === 0) continue;
    for (const action of row.actions) {
      const service = action.split(':')[0]!;
      const id = `${service} ${resources.join(' ')}`;
      const entry = byResources.get(id) ?? { service, resources, actions: new Set<string>() };
      entry.actions.add(action);
      byResources.set(id, entry);
    }
  }
  const sids = new Map<string, number>();
  return [...byResources.values()]
    .sort((a, b) => a.service.localeCompare(b.service) || a.resources.join().localeCompare(b.resources.join()))
    .map((entry) => {
      const base = sidOf(`${entry.service} ${resourceLabel(entry.resources[0]!)}`);
      const n = (sids.get(base) ?? 0) + 1;
      sids.set(base, n);
      return { Sid: n === 1 ? base : `${base}${n}`, Effect: 'Allow' as const, Action: [...entry.actions].sort(), Resource: entry.resources };
    });
}

/** The bot's own IAM policy; with a role to assume, also the policy that role needs. */
export function iamPolicies(config: Config): { botPolicy: PolicyDocument; assumedRolePolicy?: PolicyDocument } {
  const doc = (s: PolicyDocument['Statement']): PolicyDocument => ({ Version: '2012-10-17', Statement: s });
  if (!config.aws.assumeRoleArn) return { botPolicy: doc(statements(config, () => true)) };
  return { botPolicy: doc(statements(config, (service) => service === 'sts')), assumedRolePolicy: doc(statements(config, (service) => service !== 'sts')) };
}

export interface RoleRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  /** Config paths of the named objects (resolved by `kubeRules`, templated in the chart). */
  names?: KubeCallRow['resourceNames'];
}

/** The Kubernetes rules: one per API group, resource and set of named objects. */
export function roleRules(): RoleRule[] {
  const rules = new Map<string, RoleRule>();
  for (const row of KUBE_CALLS) {
    const id = `${row.apiGroup}|${row.resource}|${(row.resourceNames ?? []).join(',')}`;
    const rule = rules.get(id) ?? { apiGroups: [row.apiGroup], resources: [row.resource], verbs: [], ...(row.resourceNames ? { names: row.resourceNames } : {}) };
    if (!rule.verbs.includes(row.verb)) rule.verbs.push(row.verb);
    rules.set(id, rule);
  }
  const order = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
  return [...rules.values()]
    .map((rule) => ({ ...rule, verbs: rule.verbs.sort((a, b) => order.indexOf(a) - order.indexOf(b)) }))
    .sort((a, b) => a.apiGroups[0]!.localeCompare(b.apiGroups[0]!) || a.resources[0]!.localeCompare(b.resources[0]!));
}

const quote = (s: string) => JSON.stringify(s);

function rulesYaml(indent: string, names: (rule: RoleRule) => string[] | undefined): string {
  return roleRules()
    .map((rule) => {
      const lines = [`${indent}- apiGroups: [${rule.apiGroups.map(quote).join(', ')}]`, `${indent}  resources: [${rule.resources.map(quote).join(', ')}]`];
      const resolved = names(rule);
      if (resolved) lines.push(`${indent}  resourceNames: [${resolved.join(', ')}]`);
      lines.push(`${indent}  verbs: [${rule.verbs.map(quote).join(', ')}]`);
      return lines.join('\n');
    })
    .join('\n');
}

const GENERATED = 'Generated by `npm run permissions` from deploy/permissions.ts: do not edit.';

/** A plain Role (default names) for applying with kubectl in the bot's namespace. */
export function plainRole(config: Config): string {
  return [
    `# ${GENERATED}`,
    '# The Kubernetes permissions of the bot in the namespace it operates on (kubernetes.namespace).',
    'apiVersion: rbac.authorization.k8s.io/v1',
    'kind: Role',
    'metadata:',
    '  name: autostack-chatops',
    'rules:',
    rulesYaml('  ', (rule) => rule.names?.map((path) => quote(NAMED_OBJECTS[path](config)))),
    '',
  ].join('\n');
}

/** The chart's Role: named objects come from the chart's `config` values, defaulting to the bot's defaults. */
export function chartRole(config: Config): string {
  const fromValues = (path: keyof typeof NAMED_OBJECTS) => {
    const keys = path.split('.').map(quote).join(' ');
    return `{{ dig ${keys} ${quote(NAMED_OBJECTS[path](config))} .Values.config | quote }}`;
  };
  return [
    `{{- /* ${GENERATED} */ -}}`,
    '{{- if .Values.rbac.create }}',
    'apiVersion: rbac.authorization.k8s.io/v1',
    'kind: Role',
    'metadata:',
    '  name: {{ include "autostack.fullname" . }}',
    '  namespace: {{ include "autostack.targetNamespace" . }}',
    '  labels:',
    '    {{- include "autostack.labels" . | nindent 4 }}',
    'rules:',
    rulesYaml('  ', (rule) => rule.names?.map(fromValues)),
    '{{- end }}',
    '',
  ].join('\n');
}

export const GENERATED_FILES: Record<string, (config: Config) => string> = {
  'deploy/iam/bot-policy.json': (config) => `${JSON.stringify(iamPolicies(config).botPolicy, null, 2)}\n`,
  'deploy/kubernetes/bot-role.yaml': plainRole,
  'deploy/helm/autostack-chatops/templates/role.yaml': chartRole,
  'deploy/helm/autostack-chatops/files/autostack-rules.yml': () => readFileSync('alerts/autostack-rules.yml', 'utf8'),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--config');
  if (at !== -1) {
    const file = process.argv[at + 1];
    if (!file) throw new Error('--config needs a file');
    console.log(JSON.stringify(iamPolicies(parseConfig(parseYaml(readFileSync(file, 'utf8')))), null, 2));
  } else if (process.argv.includes('--write')) {
    const config = parseConfig({});
    for (const [file, render] of Object.entries(GENERATED_FILES)) writeFileSync(file, render(config));
  } else {
    console.log(JSON.stringify(iamPolicies(parseConfig({})).botPolicy, null, 2));
  }
}
