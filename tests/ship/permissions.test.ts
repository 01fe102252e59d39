/**
 * Least privilege from the code: every AWS and Kubernetes call the code makes is in the permission
 * table (deploy/permissions.ts), the table names no call the code does not make, and the files
 * generated from it (IAM policy, Roles, the chart's alert rules) are up to date.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as kube from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { AWS_CALLS, KUBE_CALLS } from '../../deploy/permissions.ts';
import { GENERATED_FILES, iamPolicies, roleRules } from '../../scripts/permissions.ts';
import { parseConfig } from '../../src/config.ts';

const ROOTS = ['src', 'commands', 'jobs'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Names a file imports from a module matching `from`: local name → module. */
function imports(text: string, from: RegExp): Map<string, string> {
  const out = new Map<string, string>();
  for (const match of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'([^']+)'/g)) {
    if (!from.test(match[2]!)) continue;
    for (const part of match[1]!.split(',')) {
      const [name, alias] = part.replace(/^\s*type\s+/, '').trim().split(/\s+as\s+/);
      if (name) out.set((alias ?? name).trim(), match[2]!);
    }
  }
  return out;
}

/** `service call file` for every AWS call in a file: `new XCommand(`, `paginateX(`, `new Upload(`. */
export function awsCallsIn(file: string, text: string): string[] {
  const found = new Set<string>();
  for (const [name, module] of imports(text, /^@aws-sdk\//)) {
    const service = module.replace('@aws-sdk/client-', '').replace('@aws-sdk/lib-storage', 's3');
    const command = /^(\w+)Command$/.exec(name);
    const escaped = name.replace(/\$/g, '\\$');
    if (command && new RegExp(`new\\s+${escaped}\\(`).test(text)) found.add(`${service} ${command[1]} ${file}`);
    if (/^paginate\w+$/.test(name) && new RegExp(`\\b${escaped}\\(`).test(text)) found.add(`${service} ${name} ${file}`);
    if (name === 'Upload' && /new\s+Upload\(/.test(text)) found.add(`${service} Upload ${file}`);
  }
  return [...found];
}

/** Every request method of the client's generated API classes (CoreV1Api, AppsV1Api, ...). */
const KUBE_METHODS = new Set(
  Object.entries(kube)
    .filter(([name, value]) => /V\d+(?:alpha\d+|beta\d+)?Api$|^\w+Api$/.test(name) && name !== 'KubernetesObjectApi' && typeof value === 'function')
    .flatMap(([, value]) => Object.getOwnPropertyNames((value as { prototype: object }).prototype))
    .filter((method) => method !== 'constructor' && /[A-Z]/.test(method) && !method.endsWith('WithHttpInfo')),
);

/** `call file` for every Kubernetes call in a file: an API method, or a helper class it constructs. */
export function kubeCallsIn(file: string, text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(/\.(\w+)\(/g)) if (KUBE_METHODS.has(match[1]!)) found.add(`${match[1]} ${file}`);
  for (const [name] of imports(text, /^@kubernetes\/client-node$/)) {
    if (/Api$/.test(name) && name !== 'KubernetesObjectApi') continue;
    if (new RegExp(`new\\s+${name}\\(`).test(text) && !['KubeConfig'].includes(name)) found.add(`${name} ${file}`);
  }
  return [...found];
}

const files = ROOTS.flatMap(sourceFiles).map((file) => ({ file, text: readFileSync(file, 'utf8') }));
const awsInCode = new Set(files.flatMap(({ file, text }) => awsCallsIn(file, text)));
const awsInTable = new Set(AWS_CALLS.flatMap((row) => row.files.map((file) => `${row.service} ${row.call} ${file}`)));
const kubeInCode = new Set(files.flatMap(({ file, text }) => kubeCallsIn(file, text)));
const kubeInTable = new Set(KUBE_CALLS.flatMap((row) => row.files.map((file) => `${row.call} ${file}`)));

describe('permission table', () => {
  it('finds calls the way the code writes them', () => {
    const sample = [
      "import { S3Client, GetObjectCommand, type GetObjectCommandOutput } from '@aws-sdk/client-s3';",
      "import { paginateListRoles } from '@aws-sdk/client-iam';",
      "import { Log, KubeConfig } from '@kubernetes/client-node';",
      'await s3.send(new GetObjectCommand({ Bucket: b, Key: k }));',
      'for await (const page of paginateListRoles({ client: iam }, {})) void page;',
      'await kube.core.deleteNamespacedSecret({ name, namespace });',
      'await new Log(new KubeConfig()).log(ns, pod, c, out);',
    ].join('\n');
    expect(awsCallsIn('x.ts', sample).sort()).toEqual(['iam paginateListRoles x.ts', 's3 GetObject x.ts']);
    expect(kubeCallsIn('x.ts', sample).sort()).toEqual(['Log x.ts', 'deleteNamespacedSecret x.ts']);
  });

  it('has a row for every AWS call the code makes', () => {
    expect(awsInCode.size).toBeGreaterThan(40);
    const missing = [...awsInCode].filter((call) => !awsInTable.has(call));
    expect(missing, 'add these calls and their permissions to deploy/permissions.ts, then run `npm run permissions`').toEqual([]);
  });

  it('has a row for every Kubernetes call the code makes', () => {
    expect(kubeInCode.size).toBeGreaterThan(15);
    const missing = [...kubeInCode].filter((call) => !kubeInTable.has(call));
    expect(missing, 'add these calls and their permissions to deploy/permissions.ts, then run `npm run permissions`').toEqual([]);
  });

  it('grants nothing for a call the code does not make', () => {
    expect([...awsInTable].filter((call) => !awsInCode.has(call)), 'the code no longer makes these AWS calls').toEqual([]);
    expect([...kubeInTable].filter((call) => !kubeInCode.has(call)), 'the code no longer makes these Kubernetes calls').toEqual([]);
  });

  it('generated files are up to date', () => {
    const config = parseConfig({});
    for (const [file, render] of Object.entries(GENERATED_FILES)) {
      expect(readFileSync(file, 'utf8'), `${file} is out of date: run \`npm run permissions\``).toBe(render(config));
    }
  });

  it('scopes Secrets and the Ingress to their configured names', () => {
    const rules = roleRules();
    expect(rules.find((r) => r.resources[0] === 'secrets')?.names).toEqual(['backend.secret', 'backend.stagedSecret']);
    expect(rules.find((r) => r.resources[0] === 'ingresses')?.names).toEqual(['rateLimit.block.ingress']);
    expect(rules.flatMap((r) => r.verbs)).not.toContain('*');
  });

  it('splits the policy when the bot assumes a role: its own identity only assumes it', () => {
    const roleArn = 'arn:aws:iam::123456789012:role/AutoStackChatOps';
    const { botPolicy, assumedRolePolicy } = iamPolicies(parseConfig({ aws: { assumeRoleArn: roleArn }, rateLimit: { block: { backend: 'waf', waf: { name: 'blocked', id: 'abc', scope: 'REGIONAL' } } } }));
    expect(botPolicy.Statement).toEqual([{ Sid: 'StsAutoStackChatOps', Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: [roleArn] }]);
    expect(assumedRolePolicy!.Statement.flatMap((s) => s.Action)).toEqual(expect.arrayContaining(['wafv2:GetIPSet', 'wafv2:UpdateIPSet', 's3:PutObject', 'iam:GetRole']));
    expect(assumedRolePolicy!.Statement.find((s) => s.Action.includes('wafv2:GetIPSet'))!.Resource).toEqual(['arn:aws:wafv2:*:*:regional/ipset/blocked/abc']);
  });
});
