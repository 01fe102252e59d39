/**
 * The Helm chart, checked with a real helm: lint (strict), template with the default and a full
 * value set, the values schema, and every rendered manifest validated against Kubernetes' own
 * OpenAPI documents and the prometheus-operator CRDs (scripts/build-tools.sh provides all).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config.ts';
import { loadSchemas } from './openapi.ts';

const CHART = 'deploy/helm/autostack-chatops';
const FULL = 'tests/ship/fixtures/chart-full-values.yaml';

const tools = execFileSync('bash', ['scripts/build-tools.sh', '--check'], { encoding: 'utf8' }).trim().split('\n').pop()!;
const helmHome = mkdtempSync(join(tmpdir(), 'autostack-helm-'));
const helmEnv = { ...process.env, HELM_CACHE_HOME: join(helmHome, 'cache'), HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_DATA_HOME: join(helmHome, 'data') };
const schemas = loadSchemas(join(tools, 'schemas'));

function helm(args: string[]): { status: number | null; out: string } {
  const result = spawnSync(join(tools, 'helm'), args, { encoding: 'utf8', env: helmEnv });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; [key: string]: unknown };

function render(args: string[] = [], chart = CHART): Manifest[] {
  const result = helm(['template', 'chatops', chart, '--namespace', 'chatops', ...args]);
  expect(result.status, result.out).toBe(0);
  return parseAllDocuments(result.out)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

const byKind = (manifests: Manifest[], kind: string, name?: string) => manifests.filter((m) => m.kind === kind && (!name || m.metadata.name === name));
const one = (manifests: Manifest[], kind: string, name?: string) => {
  const found = byKind(manifests, kind, name);
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0]! as Manifest & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
};

describe('Helm chart', () => {
  it('passes helm lint --strict with the default and the full values', () => {
    for (const args of [[], ['--values', FULL]]) {
      const result = helm(['lint', '--strict', CHART, ...args]);
      expect(result.status, result.out).toBe(0);
    }
  });

  it('renders, by default, the bot, workers, Role, and no optional part', () => {
    const manifests = render();
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual(
      [
        'ConfigMap/chatops-autostack-chatops',
        'Deployment/chatops-autostack-chatops',
        'Deployment/chatops-autostack-chatops-worker',
        'NetworkPolicy/chatops-autostack-chatops',
        'PodDisruptionBudget/chatops-autostack-chatops',
        'Role/chatops-autostack-chatops',
        'RoleBinding/chatops-autostack-chatops',
        'Service/chatops-autostack-chatops',
        'ServiceAccount/chatops-autostack-chatops',
      ].sort(),
    );
    // The default Role is the generated plain Role (deploy/kubernetes/bot-role.yaml) in the release namespace.
    const role = one(manifests, 'Role');
    expect(role.metadata.namespace).toBe('chatops');
    expect(role.rules).toEqual((parseYaml(readFileSync('deploy/kubernetes/bot-role.yaml', 'utf8')) as { rules: unknown }).rules);
    const bot = one(manifests, 'Deployment', 'chatops-autostack-chatops');
    const container = bot.spec.template.spec.containers[0];
    expect(container.command).toEqual(['node', 'dist/src/main.js']);
    expect(container.args).toBeUndefined();
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(bot.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(container.readinessProbe.httpGet.path).toBe('/health');
    const worker = one(manifests, 'Deployment', 'chatops-autostack-chatops-worker');
    expect(worker.spec.template.spec.containers[0].args).toEqual(['--worker-only']);
  });

  it('renders every optional part with the full values, named from the values', () => {
    const manifests = render(['--values', FULL]);
    for (const kind of ['Ingress', 'ServiceMonitor', 'PrometheusRule']) one(manifests, kind);
    expect(one(manifests, 'Deployment', 'chatops-autostack-chatops').spec.replicas).toBe(3);
    expect(one(manifests, 'Deployment', 'chatops-autostack-chatops-worker').spec.replicas).toBe(5);
    expect(one(manifests, 'ServiceAccount').metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/autostack-chatops' });

    // The Role lives in the namespace the bot operates on and names the configured objects.
    const role = one(manifests, 'Role');
    expect(role.metadata.namespace).toBe('platform');
    const names = (resource: string) => role.rules.find((r: { resources: string[] }) => r.resources[0] === resource)?.resourceNames;
    expect(names('secrets')).toEqual(['api-env', 'api-env-staged']);
    expect(names('ingresses')).toEqual(['public']);
    const binding = one(manifests, 'RoleBinding');
    expect(binding.metadata.namespace).toBe('platform');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'chatops-autostack-chatops', namespace: 'chatops' }]);

    // The ConfigMap is a configuration the bot itself accepts.
    const config = parseConfig(parseYaml(one(manifests, 'ConfigMap').data['autostack.yaml']));
    expect(config.kubernetes.namespace).toBe('platform');
    expect(config.backend.secret).toBe('api-env');

    // The PrometheusRule carries the runbook's alert rules unchanged.
    expect(one(manifests, 'PrometheusRule').spec).toEqual(parseYaml(readFileSync('alerts/autostack-rules.yml', 'utf8')));
    const env = one(manifests, 'Deployment', 'chatops-autostack-chatops').spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: 'REDIS_URL', value: 'redis://redis-master.redis.svc:6379' });
  });

  it('renders manifests that Kubernetes and the CRDs accept', () => {
    for (const manifests of [render(), render(['--values', FULL])]) {
      for (const manifest of manifests) expect(schemas.validate(manifest), `${manifest.kind}/${manifest.metadata.name}`).toEqual([]);
    }
  });

  it('schema validation catches what Kubernetes would refuse', () => {
    const [service] = byKind(render(), 'Service');
    const broken = structuredClone(service!) as Manifest & { spec: Record<string, unknown> };
    broken.spec.sessionAfinity = 'ClientIP';
    broken.spec.ports = [{ name: 'http', port: '80x' }];
    expect(schemas.validate(broken)).toEqual(expect.arrayContaining(['Service.spec: unknown field sessionAfinity', 'Service.spec.ports[0].port: must be an integer, not "80x"']));
  });

  it('fails on a broken template', () => {
    const copy = join(mkdtempSync(join(tmpdir(), 'autostack-chart-')), 'autostack-chatops');
    cpSync(CHART, copy, { recursive: true });
    appendFileSync(join(copy, 'templates/service.yaml'), '  sessionAffinity: {{ .Values.service.affinity.mode }\n');
    expect(helm(['lint', '--strict', copy]).status).not.toBe(0);
    expect(helm(['template', 'chatops', copy]).status).not.toBe(0);
  });

  it('refuses values the schema forbids, naming them', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--set', 'bot.replicas=-1'], /bot\.replicas|replicas/],
      [['--set', 'secrets.existingSecret='], /existingSecret/],
      [['--set', 'config.secrets.key=abc'], /secrets/],
      [['--set', 'config.slack.botToken=xoxb-1'], /botToken/],
      [['--set', 'redis.url=http://wrong'], /redis/],
      [['--set', 'ingress.enabeld=true'], /enabeld/],
    ];
    for (const [args, message] of cases) {
      const result = helm(['template', 'chatops', CHART, ...args]);
      expect(result.status, args.join(' ')).not.toBe(0);
      expect(result.out).toMatch(message);
    }
  });
});

describe('alert rules', () => {
  it('are valid Prometheus rules (promtool check rules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'autostack-rules-'));
    const broken = join(dir, 'broken.yml');
    writeFileSync(broken, 'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m]) > 1\n');
    const check = (file: string) => spawnSync(join(tools, 'promtool'), ['check', 'rules', file], { encoding: 'utf8' });
    const good = check('alerts/autostack-rules.yml');
    expect(good.status, `${good.stdout}${good.stderr}`).toBe(0);
    expect(check(broken).status).not.toBe(0);
  });
});
