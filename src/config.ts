/**
 * Configuration: one YAML file (AUTOSTACK_CONFIG, default ./autostack.yaml) plus environment,
 * validated at start-up. Defaults are the runbook's names. `autostack.example.yaml` documents every key.
 */
import { readFileSync, existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DURATION_FORM } from './core/durations.ts';

const slackUserId = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'must be a Slack user ID such as U012ABCDEF (never a display name)');
const slackGroupId = z.string().regex(/^S[A-Z0-9]{2,}$/, 'must be a Slack user group ID such as S012ABCDEF');
const slackChannelId = z.string().regex(/^[CGD][A-Z0-9]{2,}$/, 'must be a Slack channel ID such as C012ABCDEF');
const duration = z.string().regex(DURATION_FORM, 'must be a duration such as 30m, 15m, 24h or 90d');
const cron = z.string().regex(/^(\S+\s+){4}\S+$/, 'must be a cron pattern with five fields, e.g. "0 2 * * *"');

const grant = z
  .object({
    users: z.array(slackUserId).default([]),
    usergroups: z.array(slackGroupId).default([]),
  })
  .strict()
  .default({ users: [], usergroups: [] });

const stateSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be a short lowercase name'),
    bucket: z.string().default('autostack-tfstate'),
    key: z.string().default('autostack/terraform.tfstate'),
    lockTable: z.string().optional(),
    /** Newer Terraform: S3-native lock file `<key>.tflock` instead of (or beside) DynamoDB. */
    s3Lock: z.boolean().default(false),
  })
  .strict();

export const configSchema = z
  .object({
    slack: z
      .object({
        botToken: z.string().optional(),
        signingSecret: z.string().optional(),
        appToken: z.string().optional(),
        apiUrl: z.string().url().optional(),
        port: z.coerce.number().int().min(1).max(65535).default(3000),
      })
      .strict()
      .default({ port: 3000 }),
    redis: z
      .object({
        url: z.string().optional(),
        /** Prefix of every key; BullMQ's is hash-tagged ({prefix}) so Redis Cluster keeps a queue in one slot. */
        prefix: z.string().regex(/^[a-z0-9-]+$/, 'lowercase letters, digits and dashes').default('autostack'),
      })
      .strict()
      .default({ prefix: 'autostack' }),
    access: z
      .object({
        viewer: grant,
        operator: grant,
        approver: grant,
        /** Who to ask for a role (they maintain access.* or its user groups); a denial names them. Empty: the approvers. */
        grantedBy: grant,
        /** Commands limited to channels: "tf unlock": [C123]. */
        channels: z.record(z.string(), z.array(slackChannelId)).default({}),
        /** User group members (usergroups.users.list): kept for `refresh`; while Slack fails, the last list grants roles until `maxStale` old, then nothing; a failed read is not retried for `negativeCache`. */
        groups: z
          .object({ refresh: duration.default('60s'), maxStale: duration.default('5m'), negativeCache: duration.default('15s') })
          .strict()
          .default({ refresh: '60s', maxStale: '5m', negativeCache: '15s' }),
      })
      .strict()
      .default({
        viewer: { users: [], usergroups: [] },
        operator: { users: [], usergroups: [] },
        approver: { users: [], usergroups: [] },
        grantedBy: { users: [], usergroups: [] },
        channels: {},
        groups: { refresh: '60s', maxStale: '5m', negativeCache: '15s' },
      }),
    approvals: z
      .object({
        ttl: duration.default('30m'),
        /** Nobody decided this long after the request: the escalation group is mentioned in its thread (once). */
        escalateAfter: duration.default('5m'),
        /** Who is mentioned on escalation; when empty, the approvers are mentioned again. */
        escalation: grant,
        /** Per verb ("tf unlock"): DM each approver the request too; allow break glass. */
        verbs: z
          .record(z.string(), z.object({ dm: z.boolean().default(false), breakGlass: z.boolean().default(false) }).strict())
          .default({}),
        breakGlass: z
          .object({
            /** Who is on call: only they may break glass (on verbs that allow it). */
            oncall: grant,
            /** An unacknowledged break-glass review is reminded this often. */
            remindEvery: duration.default('24h'),
          })
          .strict()
          .default({ oncall: { users: [], usergroups: [] }, remindEvery: '24h' }),
      })
      .strict()
      .default({ ttl: '30m', escalateAfter: '5m', escalation: { users: [], usergroups: [] }, verbs: {}, breakGlass: { oncall: { users: [], usergroups: [] }, remindEvery: '24h' } }),
    audit: z
      .object({
        /** Where audit entries wait while Redis cannot be written (relative to the working directory). */
        spoolDir: z.string().min(1).default('audit-spool'),
      })
      .strict()
      .default({ spoolDir: 'audit-spool' }),
    channels: z
      .object({
        ops: slackChannelId.optional(),
        incident: slackChannelId.optional(),
        audit: slackChannelId.optional(),
      })
      .strict()
      .default({}),
    secrets: z
      .object({
        /** 32 bytes, base64; seals values that pass through Redis. Env AUTOSTACK_SECRET_KEY. */
        key: z.string().optional(),
      })
      .strict()
      .default({}),
    http: z
      .object({
        /** Public base URL of the bot's HTTP server (one-time links point here). */
        publicUrl: z.string().url().optional(),
        bullBoard: z
          .object({
            enabled: z.boolean().default(false),
            /** Basic-auth password (env AUTOSTACK_BULL_BOARD_PASSWORD); required when enabled. */
            password: z.string().optional(),
            port: z.coerce.number().int().min(1).max(65535).default(3001),
          })
          .strict()
          .default({ enabled: false, port: 3001 }),
      })
      .strict()
      .default({ bullBoard: { enabled: false, port: 3001 } }),
    aws: z
      .object({
        region: z.string().optional(),
        endpoint: z.string().url().optional(),
        s3ForcePathStyle: z.boolean().default(false),
        assumeRoleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN').optional(),
      })
      .strict()
      .default({ s3ForcePathStyle: false }),
    kubernetes: z
      .object({
        namespace: z.string().default('autostack'),
        /** KUBECONFIG path; otherwise in-cluster, otherwise the default kubeconfig. */
        kubeconfig: z.string().optional(),
        /** Kubernetes warnings (CrashLoopBackOff, OOMKilled, ...) posted into a channel, one thread per workload. */
        warnings: z
          .object({
            enabled: z.boolean().default(false),
            /** Where the threads go (default: channels.incident). */
            channel: slackChannelId.optional(),
            /** Namespaces watched (default: kubernetes.namespace). */
            namespaces: z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a namespace name')).min(1).optional(),
            /** A workload's thread parent is updated at most this often; what arrives meanwhile is gathered into the next update. */
            updateEvery: duration.default('30s'),
            /** A workload quiet for this long gets a new thread on its next warning. */
            threadFor: duration.default('24h'),
          })
          .strict()
          .default({ enabled: false, updateEvery: '30s', threadFor: '24h' }),
      })
      .strict()
      .default({ namespace: 'autostack', warnings: { enabled: false, updateEvery: '30s', threadFor: '24h' } }),
    terraform: z
      .object({
        lockTable: z.string().default('autostack-tf-locks'),
        states: z.array(stateSchema).min(1).default([{ name: 'default', bucket: 'autostack-tfstate', key: 'autostack/terraform.tfstate', s3Lock: false }]),
        /** Warn before removing a lock younger than this: a run may still be going. */
        unlockWarnYoungerThan: duration.default('15m'),
        /** A lock's Who (e.g. "alice@laptop") → the Slack user to ask before unlocking. */
        holders: z.record(z.string(), slackUserId).default({}),
      })
      .strict()
      .default({ lockTable: 'autostack-tf-locks', states: [{ name: 'default', bucket: 'autostack-tfstate', key: 'autostack/terraform.tfstate', s3Lock: false }], unlockWarnYoungerThan: '15m', holders: {} }),
    iam: z
      .object({
        roleName: z.string().default('AutoStackTerraformRole'),
        policyName: z.string().default('AutoStackMinimalPolicy'),
        policyFile: z.string().default('policies/minimal-policy.json'),
        reviewEvery: duration.default('90d'),
        /** Cron pattern of the role review; default derived from reviewEvery (90d: 09:00 on the 1st of every 3rd month). */
        reviewCron: cron.optional(),
      })
      .strict()
      .default({ roleName: 'AutoStackTerraformRole', policyName: 'AutoStackMinimalPolicy', policyFile: 'policies/minimal-policy.json', reviewEvery: '90d' }),
    backend: z
      .object({
        url: z.string().url().default('http://backend.autostack.svc.cluster.local:8000'),
        /** Bearer token for the platform API (env AUTOSTACK_API_TOKEN). */
        apiToken: z.string().optional(),
        deployment: z.string().default('backend'),
        secret: z.string().default('backend-env'),
        stagedSecret: z.string().default('backend-env-next'),
      })
      .strict()
      .default({ url: 'http://backend.autostack.svc.cluster.local:8000', deployment: 'backend', secret: 'backend-env', stagedSecret: 'backend-env-next' }),
    database: z
      .object({
        /** Connection string (env DATABASE_URL); never shown with its password. */
        url: z.string().optional(),
        workload: z.object({ kind: z.enum(['StatefulSet', 'Deployment']).default('StatefulSet'), name: z.string().default('db') }).strict().default({ kind: 'StatefulSet', name: 'db' }),
        migrateCommand: z.array(z.string()).default(['alembic', 'upgrade', 'head']),
        /** Directory of pg_dump / pg_restore of the server's major version (e.g. /usr/lib/postgresql/15/bin); otherwise PATH. */
        binDir: z.string().optional(),
        /** Where the head revision the deployed backend expects is read (JSON), for pending migrations in `db check`. */
        expectedHead: z
          .object({ url: z.string().url(), field: z.string().default('alembic_head'), revisionsField: z.string().default('alembic_revisions') })
          .strict()
          .optional(),
      })
      .strict()
      .default({ workload: { kind: 'StatefulSet', name: 'db' }, migrateCommand: ['alembic', 'upgrade', 'head'] }),
    rollout: z.object({ timeout: duration.default('10m') }).strict().default({ timeout: '10m' }),
    backup: z
      .object({
        bucket: z.string().default('autostack-backups'),
        prefix: z.string().default('db/'),
        schedule: cron.default('0 2 * * *'),
        timezone: z.string().default('UTC'),
        retentionDays: z.coerce.number().int().min(1).default(30),
        keepAtLeast: z.coerce.number().int().min(1).default(7),
      })
      .strict()
      .default({ bucket: 'autostack-backups', prefix: 'db/', schedule: '0 2 * * *', timezone: 'UTC', retentionDays: 30, keepAtLeast: 7 }),
    rateLimit: z
      .object({
        app: z.string().default('backend'),
        /** Other apps whose logs show 429s too (e.g. the ingress controller): named when the app's logs do not reach back far enough. */
        logSources: z.array(z.string()).default([]),
        /** Alert threshold of the runbook: 429s per minute. */
        perMinuteThreshold: z.coerce.number().int().min(1).default(100),
        /** Count the client from X-Forwarded-For only when the proxy in front is trusted. */
        trustForwardedFor: z.boolean().default(false),
        block: z
          .object({
            backend: z.enum(['ingress', 'waf']).default('ingress'),
            ingress: z.string().default('autostack'),
            waf: z
              .object({
                name: z.string(),
                id: z.string(),
                scope: z.enum(['REGIONAL', 'CLOUDFRONT']).default('REGIONAL'),
                /** A WAF IP set holds one address family: the set IPv6 networks go to. */
                ipv6: z.object({ name: z.string(), id: z.string() }).strict().optional(),
              })
              .strict()
              .optional(),
            defaultTtl: duration.default('1h'),
            /** Networks never blocked unless an approver forces it. */
            allowList: z.array(z.string()).default([]),
          })
          .strict()
          .default({ backend: 'ingress', ingress: 'autostack', defaultTtl: '1h', allowList: [] }),
      })
      .strict()
      .default({ app: 'backend', logSources: [], perMinuteThreshold: 100, trustForwardedFor: false, block: { backend: 'ingress', ingress: 'autostack', defaultTtl: '1h', allowList: [] } }),
    oauth: z
      .object({
        github: z.object({ clientId: z.string().optional(), callbackUrl: z.string().url().optional() }).strict().default({}),
        google: z.object({ clientId: z.string().optional(), callbackUrl: z.string().url().optional() }).strict().default({}),
      })
      .strict()
      .default({ github: {}, google: {} }),
    rotation: z
      .object({
        /** Days between rotations, per credential (runbook: OAuth 90, JWT 180, AWS role review 90). */
        github: z.coerce.number().int().min(1).default(90),
        google: z.coerce.number().int().min(1).default(90),
        jwt: z.coerce.number().int().min(1).default(180),
        dueSoonDays: z.coerce.number().int().min(1).default(14),
        reminderCron: cron.default('0 9 * * *'),
        timezone: z.string().default('UTC'),
      })
      .strict()
      .default({ github: 90, google: 90, jwt: 180, dueSoonDays: 14, reminderCron: '0 9 * * *', timezone: 'UTC' }),
    deploy: z
      .object({
        apps: z
          .record(
            z.string(),
            z
              .object({
                deployment: z.string(),
                container: z.string().optional(),
                image: z.string().describe('repository without tag, e.g. 123.dkr.ecr.us-east-1.amazonaws.com/autostack/backend'),
                protected: z.boolean().default(false),
                migrate: z.boolean().default(false),
                healthUrl: z.string().url().optional(),
                smoke: z.array(z.object({ url: z.string().url(), status: z.number().int().default(200) }).strict()).default([]),
              })
              .strict(),
          )
          .default({}),
        /** A succeeded deploy is "last good" only after staying live this long with no firing alert for its app. */
        goodAfter: duration.default('30m'),
      })
      .strict()
      .default({ apps: {}, goodAfter: '30m' }),
    alerts: z
      .object({
        /** Bearer token Alertmanager sends (env AUTOSTACK_ALERTS_TOKEN). */
        token: z.string().optional(),
        oncallUsergroup: slackGroupId.optional(),
        rulesFile: z.string().default('alerts/autostack-rules.yml'),
        /** Automatic triage in each alert thread (commands/alerts/triage/plans.ts has the default plans). */
        triage: z
          .object({
            enabled: z.boolean().default(true),
            /** A re-fired or updated group refreshes its triage at most this often. */
            refreshInterval: duration.default('10m'),
            /** Each step's time limit; a step over it is reported and the others still run. */
            stepTimeout: duration.default('30s'),
            /** Plans added, or replacing the default plan of the same scenario. */
            plans: z
              .array(
                z
                  .object({
                    scenario: z.string().regex(/^[A-Za-z0-9_-]{1,20}$/, 'must be a short name such as S1 or S6'),
                    title: z.string().min(1).max(100),
                    alerts: z.array(z.string().min(1).max(200)).max(20).default([]),
                    labels: z.record(z.string(), z.string()).default({}),
                    steps: z.array(z.string().min(1).max(200)).min(1).max(8),
                  })
                  .strict(),
              )
              .default([]),
          })
          .strict()
          .default({ enabled: true, refreshInterval: '10m', stepTimeout: '30s', plans: [] }),
        /** Where Silence and Unsilence create and expire silences (`/api/v2/silences`); none: no Silence buttons. */
        alertmanager: z.object({ url: z.string().url().optional() }).strict().default({}),
      })
      .strict()
      .default({ rulesFile: 'alerts/autostack-rules.yml', triage: { enabled: true, refreshInterval: '10m', stepTimeout: '30s', plans: [] }, alertmanager: {} }),
    incidents: z
      .object({
        /** Name of a declared incident's channel: {date} (YYYYMMDD, UTC) and {slug} (from the title). */
        channelName: z
          .string()
          .regex(/^[a-z0-9_{}-]+$/, 'lowercase letters, digits, dashes, underscores and the {date} and {slug} placeholders')
          .refine((pattern) => pattern.includes('{slug}'), 'must contain {slug}')
          .default('inc-{date}-{slug}'),
        /** Where declared and resolved incidents are announced (default: the channel they were declared in). */
        announce: slackChannelId.optional(),
        /** Invited into every incident channel (default: alerts.oncallUsergroup). */
        oncallUsergroup: slackGroupId.optional(),
      })
      .strict()
      .default({ channelName: 'inc-{date}-{slug}' }),
    /** Where alert threads read their expression's last hour (`/api/v1/query_range`); none: no charts. */
    prometheus: z.object({ url: z.string().url().optional() }).strict().default({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

/** Environment variables that override (or supply) configuration keys. */
function applyEnvironment(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const set = (path: string[], value: string | undefined) => {
    if (value === undefined || value === '') return;
    let node = raw;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      node = (node[key] = typeof next === 'object' && next !== null ? next : {}) as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = value;
  };
  set(['slack', 'botToken'], env.SLACK_BOT_TOKEN);
  set(['slack', 'signingSecret'], env.SLACK_SIGNING_SECRET);
  set(['slack', 'appToken'], env.SLACK_APP_TOKEN);
  set(['slack', 'apiUrl'], env.SLACK_API_URL);
  set(['slack', 'port'], env.PORT);
  set(['redis', 'url'], env.REDIS_URL);
  set(['secrets', 'key'], env.AUTOSTACK_SECRET_KEY);
  set(['aws', 'endpoint'], env.AWS_ENDPOINT_URL);
  set(['aws', 'region'], env.AWS_REGION);
  set(['kubernetes', 'kubeconfig'], env.KUBECONFIG);
  set(['backend', 'apiToken'], env.AUTOSTACK_API_TOKEN);
  set(['database', 'url'], env.DATABASE_URL);
  set(['alerts', 'token'], env.AUTOSTACK_ALERTS_TOKEN);
  set(['http', 'bullBoard', 'password'], env.AUTOSTACK_BULL_BOARD_PASSWORD);
  return raw;
}

/** Validates raw configuration (already parsed YAML); errors name the key and what is wrong. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = {}): Config {
  const base = raw === null || raw === undefined ? {} : raw;
  if (typeof base !== 'object' || Array.isArray(base)) throw new ConfigError('configuration: the file must hold a YAML mapping');
  const result = configSchema.safeParse(applyEnvironment(structuredClone(base) as Record<string, unknown>, env));
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`);
    throw new ConfigError(`configuration is invalid:\n  ${lines.join('\n  ')}`);
  }
  const warnings = result.data.kubernetes.warnings;
  if (warnings.enabled && !warnings.channel && !result.data.channels.incident) {
    throw new ConfigError('configuration is invalid:\n  kubernetes.warnings.channel: required when kubernetes.warnings.enabled is true and channels.incident is not set');
  }
  return result.data;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const file = env.AUTOSTACK_CONFIG ?? 'autostack.yaml';
  let raw: unknown = {};
  if (existsSync(file)) {
    try {
      raw = parseYaml(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ConfigError(`${file}: not valid YAML: ${(error as Error).message}`);
    }
  } else if (env.AUTOSTACK_CONFIG) {
    throw new ConfigError(`${file}: file not found (AUTOSTACK_CONFIG)`);
  }
  return parseConfig(raw, env);
}
