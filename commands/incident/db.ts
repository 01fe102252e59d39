/**
 * `db check`: connects to the platform database with `pg` and reports what the runbook's
 * "Database connection lost" scenario needs: can we connect, how fast, which server, how many
 * connections are in use against the limits (the runbook alerts at 90%), the longest-running
 * queries and the migration head. A failure is classified with the runbook's next step.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { Part, Reply } from '../../src/core/result.ts';
import { maskUrl, redact } from '../shared/redact.ts';

/** The runbook's alert: "Database Connection Pool Exhausted: db_connections > 90%". */
export const CONNECTION_ALERT_RATIO = 0.9;

export type DbFailureKind = 'dns' | 'refused' | 'auth' | 'timeout' | 'tls' | 'too-many-connections' | 'no-database' | 'starting' | 'not-configured' | 'unknown';

export interface ConnectionUsage {
  used: number;
  limit: number;
  percent: number;
  alert: boolean;
}

export interface LongQuery {
  pid: number;
  durationSeconds: number;
  state: string;
  query: string;
}

export interface DbCheckOk {
  ok: true;
  target: string;
  connectMs: number;
  selectMs: number;
  version: string;
  user: string;
  database: string;
  server: ConnectionUsage & { reservedForSuperuser: number };
  /** The connecting role's own CONNECTION LIMIT, when it has one. */
  role?: ConnectionUsage & { name: string };
  /** The database's CONNECTION LIMIT, when it has one. */
  databaseLimit?: ConnectionUsage & { name: string };
  longest: LongQuery[];
  /** Alembic head in the database: a revision, null (no alembic_version table) or undefined (not readable). */
  migration?: string | null;
}

export interface DbCheckFailed {
  ok: false;
  target: string;
  kind: DbFailureKind;
  /** What happened, redacted. */
  message: string;
  code?: string;
  /** The runbook's next step for this kind of failure. */
  nextStep: string;
}

export type DbCheckResult = DbCheckOk | DbCheckFailed;

export interface DbCheckOptions {
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
  /** How many long-running queries to list. */
  longest?: number;
}

export function usage(used: number, limit: number): ConnectionUsage {
  const ratio = limit > 0 ? used / limit : 1;
  return { used, limit, percent: Math.round(ratio * 1000) / 10, alert: ratio >= CONNECTION_ALERT_RATIO };
}

const NEXT_STEPS: Record<DbFailureKind, string> = {
  dns: 'The database host name does not resolve. Check the connection string (runbook step 2): the host in DATABASE_URL must be the database Service (e.g. db.autostack.svc.cluster.local); check the Service exists (`/autostack logs db`).',
  refused: 'Nothing accepts connections at that address: the database is down or restarting. Check its status and logs (runbook step 1: `/autostack logs db --previous`), then restart it (runbook step 3: `/autostack db restart`).',
  auth: 'The database rejected the credentials. Check the connection string (runbook step 2): the user and password in DATABASE_URL (backend Secret) must match the database role; after fixing the Secret, restart the backend.',
  timeout: 'No answer within the connect timeout: the database is overloaded or unreachable (network policy, security group). Check its status and logs (runbook step 1), then restart it if it is hung (runbook step 3: `/autostack db restart`).',
  tls: 'The TLS handshake failed. Check the connection string (runbook step 2): sslmode must match the server (require/verify-full only if the server has TLS; the CA must be trusted).',
  'too-many-connections': 'All connection slots are in use (runbook alert: connections > 90%). Find the clients holding connections (long-running queries below / pg_stat_activity), scale the database or the pool; restart the database (runbook step 3: `/autostack db restart`) only as a last resort.',
  'no-database': 'The server is up but the database in the connection string does not exist. Check the connection string (runbook step 2), then create the database and run migrations (runbook step 4: `/autostack db migrate`).',
  starting: 'The database is starting up or shutting down. Wait a minute and run `/autostack db check` again; if it stays so, check its logs (runbook step 1).',
  'not-configured': 'Set database.url (env DATABASE_URL) in the bot configuration.',
  unknown: 'Check the database status and logs (runbook step 1: `/autostack logs db`) and the connection string (runbook step 2).',
};

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
]);

/** Classifies a connection or query failure into the runbook's cases. */
export function classifyDbError(error: unknown, context: { elapsedMs?: number; connectTimeoutMs?: number } = {}): { kind: DbFailureKind; code?: string } {
  const e = error as { code?: unknown; message?: unknown; errors?: unknown };
  // Node's AggregateError (several addresses tried) carries the interesting errors inside.
  if (Array.isArray(e?.errors) && e.errors.length > 0 && !e.code) return classifyDbError(e.errors[0], context);
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') return { kind: 'dns', code };
  if (code === 'ECONNREFUSED') return { kind: 'refused', code };
  if (code === '28P01' || code === '28000') return { kind: 'auth', code };
  if (code === '53300') return { kind: 'too-many-connections', code };
  if (code === '3D000') return { kind: 'no-database', code };
  if (code === '57P03') return { kind: 'starting', code };
  if (code && (TLS_CODES.has(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL'))) return { kind: 'tls', code };
  if (/SSL|TLS|certificate/i.test(message)) return { kind: 'tls', code };
  // 57014: statement_timeout cancelled a check query; "Query read timeout": pg's query_timeout.
  if (code === 'ETIMEDOUT' || code === '57014' || /timeout expired|connection timeout|timed out|Query read timeout/i.test(message)) return { kind: 'timeout', code };
  // pg ends the socket itself when connectionTimeoutMillis passes: "Connection terminated ...".
  if (/Connection terminated/i.test(message) && context.connectTimeoutMs && (context.elapsedMs ?? 0) >= context.connectTimeoutMs * 0.9) {
    return { kind: 'timeout', code };
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { kind: 'timeout', code };
  return { kind: 'unknown', code };
}

function failed(target: string, kind: DbFailureKind, message: string, code?: string): DbCheckFailed {
  return { ok: false, target, kind, message: redact(message), code, nextStep: NEXT_STEPS[kind] };
}

const int = (value: unknown): number => Number(value ?? 0);

/**
 * Connects once, runs the checks and disconnects. Never throws for a database problem: the
 * result says what failed. The connection string only leaves this function masked.
 */
export async function checkDatabase(url: string | undefined, options: DbCheckOptions = {}): Promise<DbCheckResult> {
  if (!url) return failed('(not configured)', 'not-configured', 'No database connection string is configured.');
  const target = maskUrl(url);
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const queryTimeoutMs = options.queryTimeoutMs ?? 10_000;
  let client: pg.Client;
  try {
    client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: connectTimeoutMs,
      query_timeout: queryTimeoutMs,
      statement_timeout: queryTimeoutMs,
      application_name: 'autostack-chatops-dbcheck',
    });
  } catch (error) {
    return failed(target, 'unknown', `invalid connection string: ${(error as Error).message}`);
  }
  // A socket error after connect must not become an unhandled 'error' event.
  client.on('error', () => undefined);
  const started = performance.now();
  try {
    await client.connect();
  } catch (error) {
    const elapsedMs = performance.now() - started;
    const { kind, code } = classifyDbError(error, { elapsedMs, connectTimeoutMs });
    const message = kind === 'timeout' ? `no answer from the database within ${connectTimeoutMs} ms (${(error as Error).message})` : (error as Error).message;
    await client.end().catch(() => undefined);
    return failed(target, kind, message || String(error), code);
  }
  const connectMs = performance.now() - started;
  try {
    const t0 = performance.now();
    await client.query('SELECT 1');
    const selectMs = performance.now() - t0;
    const settings = await client.query<{ version: string; max: string; reserved: string; user: string; db: string }>(
      `SELECT current_setting('server_version') AS version, current_setting('max_connections') AS max,
              current_setting('superuser_reserved_connections') AS reserved, current_user AS "user", current_database() AS db`,
    );
    const s = settings.rows[0]!;
    const counts = await client.query<{ server: string; role: string; database: string; rolconnlimit: string | null; datconnlimit: string | null }>(
      `SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS server,
              (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename = current_user) AS role,
              (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname = current_database()) AS database,
              (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user) AS rolconnlimit,
              (SELECT datconnlimit FROM pg_database WHERE datname = current_database()) AS datconnlimit`,
    );
    const c = counts.rows[0]!;
    const longestLimit = options.longest ?? 5;
    const longest = await client.query<{ pid: number; seconds: string; state: string | null; query: string | null }>(
      `SELECT pid, EXTRACT(EPOCH FROM (now() - query_start)) AS seconds, state, left(query, 2000) AS query
         FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
          AND state IS NOT NULL AND state <> 'idle' AND query_start IS NOT NULL
        ORDER BY query_start ASC
        LIMIT $1`,
      [longestLimit],
    );
    let migration: string | null | undefined;
    try {
      const exists = await client.query<{ present: boolean }>(`SELECT to_regclass('alembic_version') IS NOT NULL AS present`);
      if (exists.rows[0]?.present) {
        const head = await client.query<{ version_num: string }>('SELECT version_num FROM alembic_version');
        migration = head.rows.map((r) => r.version_num).join(', ') || null;
      } else {
        migration = null;
      }
    } catch {
      migration = undefined;
    }
    const rolconnlimit = c.rolconnlimit === null ? -1 : int(c.rolconnlimit);
    const datconnlimit = c.datconnlimit === null ? -1 : int(c.datconnlimit);
    return {
      ok: true,
      target,
      connectMs,
      selectMs,
      version: s.version,
      user: s.user,
      database: s.db,
      server: { ...usage(int(c.server), int(s.max)), reservedForSuperuser: int(s.reserved) },
      role: rolconnlimit >= 0 ? { name: s.user, ...usage(int(c.role), rolconnlimit) } : undefined,
      databaseLimit: datconnlimit >= 0 ? { name: s.db, ...usage(int(c.database), datconnlimit) } : undefined,
      longest: longest.rows.map((r) => ({
        pid: r.pid,
        durationSeconds: Number(r.seconds ?? 0),
        state: r.state ?? '?',
        // Redact the longer text first, then cut: a cut could hide a secret from the patterns.
        query: redact((r.query ?? '').replace(/\s+/g, ' ').trim()).slice(0, 100),
      })),
      migration,
    };
  } catch (error) {
    const { kind, code } = classifyDbError(error);
    return failed(target, kind === 'unknown' ? 'unknown' : kind, `connected, but a check query failed: ${(error as Error).message}`, code);
  } finally {
    await client.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Presentation

const KIND_LABEL: Record<DbFailureKind, string> = {
  dns: 'DNS: host not found',
  refused: 'connection refused',
  auth: 'authentication failed',
  timeout: 'timeout',
  tls: 'TLS/SSL error',
  'too-many-connections': 'too many connections',
  'no-database': 'database does not exist',
  starting: 'database starting or shutting down',
  'not-configured': 'not configured',
  unknown: 'unclassified failure',
};

export function formatDuration(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${Math.round(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
}

function usageLine(label: string, u: ConnectionUsage): string {
  const mark = u.alert ? ':rotating_light:' : '✓';
  return `${mark} ${label}: ${u.used} of ${u.limit} connections in use (${u.percent}%)${u.alert ? ` — at or above the runbook's ${CONNECTION_ALERT_RATIO * 100}% alert: scale the database or find the clients holding connections` : ''}`;
}

/** The parts describing a check result (used by `db check` and after `db restart`). */
export function dbCheckParts(result: DbCheckResult): Part[] {
  if (!result.ok) {
    return [
      { kind: 'text', text: `✗ Database check failed: *${KIND_LABEL[result.kind]}*${result.code ? ` (${result.code})` : ''}` },
      { kind: 'fields', fields: [['Connection', result.target], ['Error', result.message]] },
      { kind: 'text', text: `Next step: ${result.nextStep}` },
    ];
  }
  const parts: Part[] = [
    { kind: 'text', text: `✓ Connected to the database as ${result.user}` },
    {
      kind: 'fields',
      fields: [
        ['Connection', result.target],
        ['Server version', `PostgreSQL ${result.version}`],
        ['Connect time', `${result.connectMs.toFixed(1)} ms`],
        ['SELECT 1', `${result.selectMs.toFixed(1)} ms`],
        ['Migration head', result.migration === undefined ? 'not readable' : result.migration === null ? 'no alembic_version table (migrations never ran? `/autostack db migrate`)' : result.migration],
      ],
    },
    { kind: 'text', text: usageLine('server', result.server) },
  ];
  if (result.role) parts.push({ kind: 'text', text: usageLine(`role ${result.role.name} (its CONNECTION LIMIT)`, result.role) });
  if (result.databaseLimit) parts.push({ kind: 'text', text: usageLine(`database ${result.databaseLimit.name} (its CONNECTION LIMIT)`, result.databaseLimit) });
  if (result.longest.length) {
    parts.push({
      kind: 'table',
      columns: ['pid', 'running for', 'state', 'query (first 100 chars)'],
      rows: result.longest.map((q) => [String(q.pid), formatDuration(q.durationSeconds), q.state, q.query]),
    });
  } else {
    parts.push({ kind: 'context', text: 'No other active queries.' });
  }
  return parts;
}

export function alerts(result: DbCheckResult): boolean {
  return !result.ok || result.server.alert || Boolean(result.role?.alert) || Boolean(result.databaseLimit?.alert);
}

export function dbCheckSummary(result: DbCheckResult): string {
  if (!result.ok) return `Database check failed: ${KIND_LABEL[result.kind]}. ${result.nextStep}`;
  const all: ConnectionUsage[] = [result.server];
  if (result.role) all.push(result.role);
  if (result.databaseLimit) all.push(result.databaseLimit);
  const worst = all.reduce((a, b) => (b.percent > a.percent ? b : a));
  return `Database OK: PostgreSQL ${result.version}, connect ${result.connectMs.toFixed(0)} ms, ${worst.used}/${worst.limit} connections (${worst.percent}%)${alerts(result) ? ' — above the 90% alert' : ''}`;
}

export function dbCheckReply(result: DbCheckResult): Reply {
  return {
    summary: dbCheckSummary(result),
    parts: [{ kind: 'heading', text: 'Database check' }, ...dbCheckParts(result)],
    visibility: 'channel',
  };
}
