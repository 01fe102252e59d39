/**
 * The platform database on the playground's PostgreSQL: role and database `autostack` with the
 * backend's tables (users, deployments, audit_log, alembic_version) and rows, and the nightly
 * backups of the last nights in the backup bucket, made by the backup area's own pg_dump-to-S3
 * code so `backup verify` and `backup restore` work on them.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { S3Client } from '@aws-sdk/client-s3';
import { runBackup } from '../../../commands/backup/dump.ts';
import { recordVerification } from '../../../commands/backup/objects.ts';
import type { BackupStore } from '../../../commands/backup/objects.ts';
import { BACKUPS, DATABASE, PLATFORM_DEPLOYMENTS } from './world.ts';

async function run(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const SCHEMA = `
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
CREATE TABLE users (
  id serial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  name text NOT NULL,
  provider text NOT NULL CHECK (provider IN ('github', 'google')),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz
);
CREATE TABLE deployments (
  id integer PRIMARY KEY,
  app text NOT NULL,
  version text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'rolling_back', 'rolled_back')),
  created_by integer NOT NULL REFERENCES users(id),
  created_at timestamptz NOT NULL,
  finished_at timestamptz,
  rollback_reason text
);
CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  actor integer REFERENCES users(id),
  action text NOT NULL,
  target text NOT NULL,
  created_at timestamptz NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_created_at ON audit_log (created_at);
`;

const USERS: Array<[string, string, 'github' | 'google']> = [
  ['maria.lopez@acme.example', 'Maria Lopez', 'github'],
  ['dev@acme.example', 'Acme CI', 'github'],
  ['j.chen@globex.example', 'Jun Chen', 'google'],
  ['ops@globex.example', 'Globex Ops', 'google'],
  ['sam@initech.example', 'Sam Patel', 'github'],
  ['lee.kim@initech.example', 'Lee Kim', 'google'],
  ['anna.berg@umbrella.example', 'Anna Berg', 'github'],
  ['tom@hooli.example', 'Tom Okafor', 'github'],
];

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The platform deployments of the last day (one failed) and their audit entries. */
function platformRows(): string {
  return PLATFORM_DEPLOYMENTS.map((d, i) => {
    const created = `now() - interval '${d.hoursAgo} hours'`;
    const by = 1 + (i % USERS.length);
    return `INSERT INTO deployments VALUES (${d.id}, ${literal(d.app)}, ${literal(d.version)}, ${literal(d.status)}, ${by}, ${created}, ${created} + interval '${4 + i} minutes', NULL);
INSERT INTO audit_log (actor, action, target, created_at, detail) VALUES (${by}, 'deployment.${d.status === 'failed' ? 'failed' : 'succeeded'}', ${literal(d.id)}, ${created}, ${literal(JSON.stringify({ app: d.app, version: d.version }))});`;
  }).join('\n');
}

export async function seedDatabase(superuserUrl: string): Promise<{ url: string; password: string }> {
  const password = randomBytes(18).toString('base64url');
  await run(superuserUrl, `CREATE ROLE ${DATABASE.role} LOGIN CREATEDB PASSWORD ${literal(password)}`);
  await run(superuserUrl, `CREATE DATABASE ${DATABASE.name} OWNER ${DATABASE.role}`);
  const url = new URL(superuserUrl);
  url.username = DATABASE.role;
  url.password = password;
  url.pathname = `/${DATABASE.name}`;
  const appUrl = url.toString();
  await run(
    appUrl,
    `${SCHEMA}
INSERT INTO alembic_version VALUES (${literal(DATABASE.alembicHead)});
INSERT INTO users (email, name, provider, created_at, last_login_at)
  SELECT email, name, provider, now() - (n * interval '9 days'), now() - (n * interval '50 minutes')
  FROM (VALUES ${USERS.map(([email, name, provider], i) => `(${literal(email)}, ${literal(name)}, ${literal(provider)}, ${i + 1})`).join(', ')}) AS u(email, name, provider, n);
-- Deployments before the platform deployments of the last day: 1001..1038.
INSERT INTO deployments
  SELECT 1000 + g, (ARRAY['acme-web', 'acme-api', 'globex-shop', 'initech-portal'])[1 + g % 4], 'v1.' || g, CASE WHEN g % 11 = 0 THEN 'failed' ELSE 'succeeded' END,
         1 + g % ${USERS.length}, now() - ((40 - g) * interval '19 hours'), now() - ((40 - g) * interval '19 hours') + interval '6 minutes', NULL
  FROM generate_series(1, 38) AS g;
INSERT INTO audit_log (actor, action, target, created_at, detail)
  SELECT 1 + g % ${USERS.length}, (ARRAY['login', 'project.updated', 'deployment.created', 'token.created'])[1 + g % 4], (1000 + g % 38)::text,
         now() - (g * interval '37 minutes'), jsonb_build_object('ip', '198.51.100.' || (g % 200))
  FROM generate_series(1, 400) AS g;
${platformRows()}`,
  );
  return { url: appUrl, password };
}

/** The 02:00 UTC runs of the last `nights` nights, oldest first. */
export function nightlyTimes(now: Date, nights: number): Date[] {
  const last = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 2, 0, 0));
  if (last.getTime() > now.getTime()) last.setUTCDate(last.getUTCDate() - 1);
  return Array.from({ length: nights }, (_, i) => new Date(last.getTime() - (nights - 1 - i) * 86_400_000));
}

/**
 * The scheduled backups of the last nights, taken with the backup area's runBackup (pg_dump
 * streamed to S3, size and SHA-256 recorded). The oldest carries a successful verification.
 */
export async function seedBackups(s3: S3Client, appUrl: string, binDir: string, now: Date): Promise<string[]> {
  const store: BackupStore = { s3, bucket: BACKUPS.bucket, prefix: BACKUPS.prefix };
  const names: string[] = [];
  for (const time of nightlyTimes(now, BACKUPS.nights)) {
    const result = await runBackup({ ...store, db: { url: appUrl, binDir }, startedBy: 'schedule', reason: 'daily schedule', now: () => time });
    names.push(result.name);
  }
  const oldest = names[0];
  if (oldest) await recordVerification(store, `${BACKUPS.prefix}${oldest}`, 'ok', new Date(now.getTime() - 20 * 3_600_000));
  return names;
}
