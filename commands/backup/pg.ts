/**
 * PostgreSQL plumbing for backups: connection settings from `database.url`, the client tools
 * (pg_dump, pg_restore) of the right major version, spawning them without a shell and with the
 * password only in the child's environment, and turning their failures into messages an on-call
 * engineer can act on.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import pg from 'pg';
import { UserFacingError } from '../../src/core/types.ts';

const execFileAsync = promisify(execFile);

/** Where the database is and how the client tools are found. */
export interface DbSettings {
  /** Connection URL (postgres://user:password@host:port/db?sslmode=...). */
  url: string;
  /** Directory with pg_dump / pg_restore of the server's major version; otherwise PATH. */
  binDir?: string;
  /** Seconds before a connection attempt gives up (PGCONNECT_TIMEOUT); default 10. */
  connectTimeoutSeconds?: number;
}

export interface ConnInfo {
  host: string;
  port: number;
  user: string;
  database: string;
}

/** Database names this module creates, restores into or names objects after. */
export const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;

export function parseDbUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserFacingError('database.url (DATABASE_URL) is not a valid URL such as postgres://user@host:5432/autostack');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UserFacingError('database.url (DATABASE_URL) must start with postgres:// or postgresql://');
  }
  return parsed;
}

export function connInfo(settings: DbSettings): ConnInfo {
  const url = parseDbUrl(settings.url);
  return {
    host: url.hostname || url.searchParams.get('host') || 'localhost',
    port: Number(url.port || url.searchParams.get('port') || 5432),
    user: decodeURIComponent(url.username) || process.env.PGUSER || 'postgres',
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || decodeURIComponent(url.username) || 'postgres',
  };
}

/** The same server, another database. */
export function withDatabase(settings: DbSettings, database: string): DbSettings {
  const url = parseDbUrl(settings.url);
  url.pathname = `/${encodeURIComponent(database)}`;
  return { ...settings, url: url.toString() };
}

/** The URL without its password: what the client tools get on their command line. */
export function conninfoWithoutPassword(settings: DbSettings): string {
  const url = parseDbUrl(settings.url);
  url.password = '';
  url.searchParams.delete('password');
  return url.toString();
}

function passwordOf(settings: DbSettings): string | undefined {
  const url = parseDbUrl(settings.url);
  const fromQuery = url.searchParams.get('password');
  if (url.password) return decodeURIComponent(url.password);
  return fromQuery ?? undefined;
}

/** Replaces the password (raw and URL-encoded) wherever it appears in a text. */
export function redact(text: string, settings: DbSettings): string {
  const password = passwordOf(settings);
  if (!password) return text;
  let out = text.split(password).join('***');
  const encoded = encodeURIComponent(password);
  if (encoded !== password) out = out.split(encoded).join('***');
  return out;
}

/** Environment of a spawned client tool: the password travels only here, never in argv. */
export function childEnv(settings: DbSettings, appName: string): NodeJS.ProcessEnv {
  // Only what the client tools use: the bot's own tokens and keys stay out of the child.
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(PATH|HOME|USER|LANG|LC_[A-Z_]+|TZ|TMPDIR|PG[A-Z_]+)$/.test(key)) env[key] = value;
  }
  const password = passwordOf(settings);
  if (password !== undefined) env.PGPASSWORD = password;
  env.PGCONNECT_TIMEOUT = String(settings.connectTimeoutSeconds ?? 10);
  env.PGAPPNAME = appName;
  return env;
}

export type PgTool = 'pg_dump' | 'pg_restore';

/** Absolute path of a client tool: from binDir when configured, else the first on PATH. */
export function toolPath(tool: PgTool, binDir?: string): string {
  const dirs = binDir ? [binDir] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.join(dir, tool);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new UserFacingError(
    binDir ? `${tool} not found in database.binDir (${path.basename(binDir)}/): install the PostgreSQL client tools there` : `${tool} not found on PATH`,
    'Install the PostgreSQL client tools of the server\'s major version and set database.binDir to their directory.',
  );
}

export interface ToolVersion {
  text: string;
  major: number;
}

/** `pg_dump --version` → "15.10", major 15. */
export async function toolVersion(tool: PgTool, binDir?: string): Promise<ToolVersion> {
  const file = toolPath(tool, binDir);
  const { stdout } = await execFileAsync(file, ['--version'], { timeout: 10_000 });
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout) ?? /(\d+)(?:\.(\d+))?/.exec(stdout);
  if (!match?.[1]) throw new UserFacingError(`cannot tell the version of ${tool} from "${stdout.trim()}"`);
  return { text: match[2] !== undefined ? `${match[1]}.${match[2]}` : match[1], major: Number(match[1]) };
}

export interface ServerInfo {
  version: string;
  versionNum: number;
  major: number;
  /** Size on disk of the connected database. */
  databaseBytes: number;
}

/** Opens a node-postgres client with a bounded connection timeout; errors are classified. */
export async function connect(settings: DbSettings): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: settings.url,
    connectionTimeoutMillis: (settings.connectTimeoutSeconds ?? 10) * 1000,
    application_name: 'autostack-backup',
  });
  // A connection error after connect() (server restart) must not crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw classifyConnectError(error, settings);
  }
  return client;
}

export async function serverInfo(settings: DbSettings): Promise<ServerInfo> {
  const client = await connect(settings);
  try {
    const res = await client.query<{ version: string; num: string; size: string }>(
      "SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num, pg_database_size(current_database()) AS size",
    );
    const row = res.rows[0];
    if (!row) throw new UserFacingError('PostgreSQL did not report its version');
    const versionNum = Number(row.num);
    return { version: row.version.split(' ')[0] ?? row.version, versionNum, major: Math.floor(versionNum / 10000), databaseBytes: Number(row.size) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The tool must not be older than the server: pg_dump refuses ("server version mismatch"), and a
 * pg_restore older than the dump cannot read it. Checked before anything is written.
 */
export function assertToolMatchesServer(tool: PgTool, version: ToolVersion, server: ServerInfo): void {
  if (version.major < server.major) {
    throw new UserFacingError(
      `${tool} ${version.text} is older than the server (PostgreSQL ${server.version}): server version mismatch`,
      `Install the PostgreSQL ${server.major} client tools and point database.binDir at their bin directory.`,
    );
  }
}

function where(settings: DbSettings): string {
  const info = connInfo(settings);
  return `${info.host}:${info.port}`;
}

/** node-postgres connection errors → one clear sentence. */
export function classifyConnectError(error: unknown, settings: DbSettings): UserFacingError {
  if (error instanceof UserFacingError) return error;
  const info = connInfo(settings);
  const err = error as { code?: string; message?: string };
  const message = redact(err.message ?? String(error), settings);
  switch (err.code) {
    case '28P01':
    case '28000':
      return new UserFacingError(
        `PostgreSQL at ${where(settings)} refused the password for user "${info.user}"`,
        'Check database.url (DATABASE_URL): the credentials may have been rotated.',
      );
    case '3D000':
      return new UserFacingError(`database "${info.database}" does not exist on ${where(settings)}`);
    case '42501':
      return new UserFacingError(`user "${info.user}" lacks a privilege on ${where(settings)}: ${message}`);
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ECONNRESET':
      return new UserFacingError(`cannot reach PostgreSQL at ${where(settings)} (${err.code})`, 'Is the database running and reachable from the bot?');
  }
  if (/timeout/i.test(message)) {
    return new UserFacingError(`cannot reach PostgreSQL at ${where(settings)} (connection timed out)`, 'Is the database running and reachable from the bot?');
  }
  return new UserFacingError(`PostgreSQL at ${where(settings)}: ${message}`);
}

/** The lines of a client tool's stderr that report an error (not warnings or notices). */
export function errorLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^(pg_dump|pg_restore)(\[[^\]]*\])?: (error|fatal)|^(ERROR|FATAL):|^error:/i.test(line) || /:\s+(error|FATAL):\s/.test(line));
}

/** pg_dump / pg_restore failure (exit code and stderr) → one clear sentence. */
export function classifyToolFailure(tool: PgTool, exit: { code: number | null; signal: NodeJS.Signals | null }, stderr: string, settings: DbSettings): UserFacingError {
  const text = redact(stderr, settings);
  const info = connInfo(settings);
  if (/password authentication failed|no password supplied|authentication failed for user/i.test(text)) {
    return new UserFacingError(
      `PostgreSQL at ${where(settings)} refused the password for user "${info.user}" (${tool})`,
      'Check database.url (DATABASE_URL): the credentials may have been rotated.',
    );
  }
  if (/server version mismatch|aborting because of server version/i.test(text)) {
    const versions = /server version: ([^;]+); \S+ version: (\S+)/.exec(text);
    return new UserFacingError(
      versions ? `${tool} ${versions[2]} is older than the server (PostgreSQL ${versions[1]?.trim()}): server version mismatch` : `${tool} is older than the server: server version mismatch`,
      'Install the client tools of the server\'s major version and point database.binDir at them.',
    );
  }
  if (
    /could not connect|Connection refused|could not translate host name|timeout expired|No route to host|Network is unreachable|server closed the connection unexpectedly|terminating connection|connection to server .* failed/i.test(
      text,
    )
  ) {
    const lost = /server closed the connection unexpectedly|terminating connection|connection to server was lost/i.test(text);
    return new UserFacingError(
      lost ? `${tool} lost its connection to PostgreSQL at ${where(settings)}` : `${tool} cannot reach PostgreSQL at ${where(settings)}`,
      'Is the database running and reachable from the bot?',
    );
  }
  if (/database ".*" does not exist/i.test(text)) {
    return new UserFacingError(`database "${info.database}" does not exist on ${where(settings)} (${tool})`);
  }
  const lines = errorLines(text);
  const detail = (lines.length ? lines.slice(0, 3) : text.trim().split('\n').slice(-3)).join(' | ').slice(0, 500);
  const how = exit.signal ? `was stopped by ${exit.signal}` : `exited with code ${exit.code}`;
  return new UserFacingError(`${tool} ${how}${detail ? `: ${detail}` : ''}`);
}

export interface SpawnedTool {
  child: ChildProcessByStdio<Writable | null, Readable | null, Readable>;
  /** Resolves when the process has exited and its pipes are closed. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last 64 KiB of stderr, password redacted. */
  stderr(): string;
}

/** Spawns a client tool: no shell, arguments as an array, password only in the environment. */
export function spawnTool(tool: PgTool, args: string[], settings: DbSettings, stdio: { stdin: 'pipe' | 'ignore'; stdout: 'pipe' | 'ignore' }): SpawnedTool {
  const file = toolPath(tool, settings.binDir);
  const child = spawn(file, args, {
    shell: false,
    env: childEnv(settings, tool === 'pg_dump' ? 'autostack-backup' : 'autostack-restore'),
    stdio: [stdio.stdin, stdio.stdout, 'pipe'],
  }) as SpawnedTool['child'];
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-65_536);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (error) => {
      stderr += `\nerror: ${error.message}`;
      resolve({ code: -1, signal: null });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, exited, stderr: () => redact(stderr, settings) };
}

/** Quotes an identifier for SQL. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
