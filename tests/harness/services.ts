/**
 * Private, throw-away instances of the real services the test suite talks to:
 * Redis, PostgreSQL, moto_server (AWS API mock) and Alertmanager (built from
 * Go modules by scripts/build-alertmanager.sh). Each instance gets a free
 * loopback port and a fresh temporary directory; stopping it kills its process
 * group and removes the directory.
 *
 * Install the native binaries with `bash scripts/install-test-deps.sh`.
 */
import { spawn, execFile, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';

const execFileAsync = promisify(execFile);

export const INSTALL_HINT = 'bash scripts/install-test-deps.sh';

export interface PostgresCoordinates {
  host: string;
  port: number;
  superuser: string;
  password: string;
  /** Superuser URL (user and password included) to the `postgres` database. */
  url: string;
  /** Directory holding the server's binaries (same major as the server). */
  binDir: string;
  majorVersion: number;
  /** Unix socket directory (local connections use trust auth). */
  socketDir: string;
  pgDump: string;
  pgRestore: string;
  psql: string;
}

export interface ServicePids {
  redis: number;
  postgres: number;
  moto: number;
  alertmanager: number;
}

export interface ServiceCoordinates {
  redisUrl: string;
  postgres: PostgresCoordinates;
  awsEndpoint: string;
  /** http://127.0.0.1:PORT of the run's Alertmanager (its v2 API under /api/v2). */
  alertmanagerUrl: string;
  pids: ServicePids;
  tempDirs: string[];
}

export interface RedisInstance {
  url: string;
  host: string;
  port: number;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

export interface PostgresInstance extends PostgresCoordinates {
  pid: number;
  dir: string;
  dataDir: string;
  stop(): Promise<void>;
}

export interface MotoInstance {
  endpoint: string;
  host: string;
  port: number;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

export interface AlertmanagerInstance {
  url: string;
  port: number;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

export interface AllServices {
  redis: RedisInstance;
  postgres: PostgresInstance;
  moto: MotoInstance;
  alertmanager: AlertmanagerInstance;
  coordinates: ServiceCoordinates;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
export const START_ATTEMPTS = 3;

// ---------------------------------------------------------------------------
// Process tracking

interface Tracked {
  pid: number;
  /** Signal for an emergency shutdown at process exit. */
  signal: NodeJS.Signals;
  dir: string;
}

const tracked = new Map<number, Tracked>();

/** PIDs of the service processes started by this module and not yet stopped. */
export function trackedPids(): number[] {
  return [...tracked.keys()];
}

let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when the runner dies without calling stop(): never leave
  // servers behind. Synchronous work only.
  process.on('exit', () => {
    for (const t of tracked.values()) {
      killGroup(t.pid, t.signal);
      try {
        if (t.dir) fs.rmSync(t.dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
    tracked.clear();
  });
}

function track(pid: number, signal: NodeJS.Signals, dir: string): void {
  installExitHook();
  tracked.set(pid, { pid, signal, dir });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * True while `pid` names a running process. A zombie (exited, not yet reaped
 * by its parent) counts as not running.
 */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function waitUntil(what: string, deadlineMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out waiting for ${what}${detail}`);
    }
    await sleep(50);
  }
}

/**
 * Running (non-zombie) members of process group `pgid`, read from /proc.
 * Where /proc is unavailable, reports the group as a whole.
 */
export function processGroupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch {
      return [];
    }
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    if (Number(fields[2]) === pgid && state !== 'Z' && state !== 'X') members.push(Number(entry));
  }
  return members;
}

/**
 * Sends `signal` to process group `pgid` and waits until no process of the
 * group runs any more (and `child`, when given, has been reaped);
 * escalates to SIGKILL when that takes too long.
 */
async function stopGroup(pgid: number, signal: NodeJS.Signals | undefined, child?: ChildProcess): Promise<void> {
  const exited = child ? childExited(child) : undefined;
  const gone = () => processGroupMembers(pgid).length === 0 && (exited?.done ?? true);
  if (signal) killGroup(pgid, signal);
  try {
    await waitUntil(`process group ${pgid} to exit`, 10_000, gone);
  } catch {
    if (processGroupMembers(pgid).length > 0) killGroup(pgid, 'SIGKILL');
    await waitUntil(`process group ${pgid} to exit after SIGKILL`, 10_000, gone);
  }
}

function childExited(child: ChildProcess): { done: boolean } {
  const state = { done: child.exitCode !== null || child.signalCode !== null };
  if (!state.done) child.once('exit', () => (state.done = true));
  return state;
}

// ---------------------------------------------------------------------------
// Helpers

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function requireBinary(name: string): string {
  const found = findOnPath(name);
  if (!found) throw new Error(`${name} not found on PATH; install the test dependencies with: ${INSTALL_HINT}`);
  return found;
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not determine a free port'));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}

function baseTempDir(): string {
  const tmp = os.tmpdir();
  // PostgreSQL runs as another user when we are root: it must be able to
  // traverse the parent directory.
  try {
    if ((fs.statSync(tmp).mode & 0o001) !== 0) return tmp;
  } catch {
    // fall through
  }
  return '/tmp';
}

export function makeTempDir(kind: string): string {
  return fs.mkdtempSync(path.join(baseTempDir(), `autostack-${kind}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function spawnLogged(command: string, args: string[], logFile: string, cwd: string): ChildProcess {
  const fd = fs.openSync(logFile, 'a');
  try {
    return spawn(command, args, {
      cwd,
      detached: true, // own process group, so stop() can kill all of it
      stdio: ['ignore', fd, fd],
      env: process.env,
    });
  } finally {
    fs.closeSync(fd);
  }
}

interface ServerSpec {
  /** Binary looked up on PATH (unless `bin` gives its path); also names the server in messages. */
  name: string;
  bin?: string;
  /** Names its temporary directory and log file. */
  kind: string;
  readyWithinMs: number;
  args: (port: number, dir: string) => string[];
  ready: (port: number) => Promise<boolean>;
}

interface StartedServer {
  port: number;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

export interface ProcessSpec {
  /** Absolute path of the binary. */
  bin: string;
  args: string[];
  /** Working directory; the process's output goes to `logFile`. */
  dir: string;
  logFile: string;
  /** Names the process in messages. */
  name: string;
  readyWithinMs: number;
  /** Resolves true once the process serves; omitted: ready once spawned. */
  ready?: () => Promise<boolean>;
  /** Removed with the process on stop (and at exit); default: nothing is removed. */
  removeDir?: boolean;
}

export interface StartedProcess {
  pid: number;
  stop(): Promise<void>;
}

/**
 * Spawns `spec.bin` in its own process group and waits until `ready` answers;
 * a process that exits or does not get ready in time is killed and the start
 * rejects with the tail of its log.
 */
export async function launch(spec: ProcessSpec): Promise<StartedProcess> {
  const child = spawnLogged(spec.bin, spec.args, spec.logFile, spec.dir);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${spec.bin}`);
  const ownDir = spec.removeDir ? spec.dir : '';
  track(pid, 'SIGKILL', ownDir);
  const exited = childExited(child);
  const finish = () => {
    tracked.delete(pid);
    if (ownDir) removeDir(ownDir);
  };
  try {
    await waitUntil(`${spec.name} to get ready`, spec.readyWithinMs, async () => {
      if (exited.done) throw new Error(`${spec.name} exited early:\n${tail(spec.logFile)}`);
      return spec.ready ? spec.ready() : true;
    });
  } catch (err) {
    await stopGroup(pid, 'SIGKILL', child);
    finish();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tail(spec.logFile)}`);
  }
  const stop = async () => {
    if (!tracked.has(pid)) return;
    await stopGroup(pid, 'SIGTERM', child);
    finish();
  };
  return { pid, stop };
}

/**
 * Starts a single-process server in its own process group, on a free port and
 * in a fresh temporary directory, and waits until `ready` answers. A start that
 * fails is cleaned up and tried again on a new port and directory.
 */
async function startServer(spec: ServerSpec): Promise<StartedServer> {
  const bin = spec.bin ?? requireBinary(spec.name);
  try {
    return await onFreePort(START_ATTEMPTS, () => true, async (port) => {
      const dir = makeTempDir(spec.kind);
      const started = await launch({
        bin,
        args: spec.args(port, dir),
        dir,
        logFile: path.join(dir, `${spec.kind}.log`),
        name: `${spec.name} on port ${port}`,
        readyWithinMs: spec.readyWithinMs,
        ready: () => spec.ready(port),
        removeDir: true,
      });
      return { port, pid: started.pid, dir, stop: started.stop };
    });
  } catch (err) {
    throw new Error(`could not start ${spec.name} after ${START_ATTEMPTS} attempts: ${String(err)}`);
  }
}

/**
 * Runs `start` on a free port, and again on a new one (at most `attempts` times) when it fails in
 * a way `retry` accepts: between `freePort()` and a server's bind, another process may take the
 * port (outgoing connections draw from the same range).
 */
export async function onFreePort<T>(attempts: number, retry: (error: unknown) => boolean, start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (error) {
      if (attempt >= attempts || !retry(error)) throw error;
    }
  }
}

// ---------------------------------------------------------------------------
// Redis

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    let data = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      if (data.includes('\r\n')) finish(data.startsWith('+PONG'));
    });
  });
}

export async function startRedis(): Promise<RedisInstance> {
  const server = await startServer({
    name: 'redis-server',
    kind: 'redis',
    readyWithinMs: 15_000,
    args: (port, dir) => ['--port', String(port), '--bind', HOST, '--appendonly', 'yes', '--dir', dir, '--save', '', '--protected-mode', 'no'],
    ready: (port) => redisPing(port),
  });
  return { url: `redis://${HOST}:${server.port}`, host: HOST, ...server };
}

export interface RedisClusterInstance {
  /** redis-cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3 (the bot's redis.url for a cluster). */
  url: string;
  nodes: Array<{ host: string; port: number }>;
  pids: number[];
  dirs: string[];
  stop(): Promise<void>;
}

/** Asks a node for `CLUSTER INFO`'s cluster_state. */
async function clusterState(port: number): Promise<string> {
  const { stdout } = await execFileAsync(requireBinary('redis-cli'), ['-h', HOST, '-p', String(port), 'cluster', 'info']);
  return /cluster_state:(\w+)/.exec(stdout)?.[1] ?? 'unknown';
}

/**
 * A Redis Cluster of three masters (no replicas): three `redis-server --cluster-enabled yes`,
 * joined with `redis-cli --cluster create`; ready when every node says cluster_state:ok.
 * On any failure, stops what did start.
 */
export async function startRedisCluster(): Promise<RedisClusterInstance> {
  const started: StartedServer[] = [];
  const stop = async () => {
    await Promise.allSettled(started.splice(0).map((server) => server.stop()));
  };
  try {
    for (let i = 0; i < 3; i++) {
      started.push(
        await startServer({
          name: 'redis-server',
          kind: 'redis-cluster',
          readyWithinMs: 15_000,
          args: (port, dir) => ['--port', String(port), '--bind', HOST, '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, 'nodes.conf'), '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
          ready: (port) => redisPing(port),
        }),
      );
    }
    const nodes = started.map((server) => ({ host: HOST, port: server.port }));
    await execFileAsync(requireBinary('redis-cli'), ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    await waitUntil('the Redis Cluster to be ok on every node', 30_000, async () => (await Promise.all(nodes.map((n) => clusterState(n.port)))).every((state) => state === 'ok'));
    const pids = started.map((server) => server.pid);
    const dirs = started.map((server) => server.dir);
    return { url: `redis-cluster://${nodes.map((n) => `${n.host}:${n.port}`).join(',')}`, nodes, pids, dirs, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------
// PostgreSQL

/** Newest /usr/lib/postgresql/<major>/bin, else the directory of `initdb` on PATH. */
export function findPostgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  let best: { major: number; dir: string } | undefined;
  try {
    for (const entry of fs.readdirSync(root)) {
      if (!/^\d+$/.test(entry)) continue;
      const dir = path.join(root, entry, 'bin');
      if (!fs.existsSync(path.join(dir, 'initdb'))) continue;
      const major = Number(entry);
      if (!best || major > best.major) best = { major, dir };
    }
  } catch {
    // not a Debian layout
  }
  if (best) return best.dir;
  const initdb = findOnPath('initdb');
  if (initdb) return path.dirname(fs.realpathSync(initdb));
  throw new Error(`PostgreSQL server binaries (initdb) not found; install the test dependencies with: ${INSTALL_HINT}`);
}

interface RunAs {
  /** Prefix that runs a command as the cluster owner. */
  prefix: string[];
  uid?: number;
  gid?: number;
}

async function postgresRunAs(): Promise<RunAs> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return { prefix: [] };
  const runuser = findOnPath('runuser') ?? (fs.existsSync('/usr/sbin/runuser') ? '/usr/sbin/runuser' : undefined);
  if (!runuser) throw new Error('running as root but runuser is missing (util-linux)');
  let uid: number;
  let gid: number;
  try {
    uid = Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim());
    gid = Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim());
  } catch {
    throw new Error(`running as root but there is no "postgres" user; install the test dependencies with: ${INSTALL_HINT}`);
  }
  return { prefix: [runuser, '-u', 'postgres', '--'], uid, gid };
}

function chownTree(dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, uid, gid);
    else fs.chownSync(p, uid, gid);
  }
}

async function run(cmd: string[], what: string): Promise<string> {
  const [file, ...args] = cmd;
  if (!file) throw new Error(`empty command for ${what}`);
  try {
    const { stdout } = await execFileAsync(file, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${what} failed: ${e.message}\n${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}

function readPostmasterPid(dataDir: string): number | undefined {
  try {
    const first = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0];
    const pid = Number(first);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function startPostgres(): Promise<PostgresInstance> {
  const binDir = findPostgresBinDir();
  const tools = {
    initdb: path.join(binDir, 'initdb'),
    pgCtl: path.join(binDir, 'pg_ctl'),
    pgDump: path.join(binDir, 'pg_dump'),
    pgRestore: path.join(binDir, 'pg_restore'),
    psql: path.join(binDir, 'psql'),
  };
  for (const [name, file] of Object.entries(tools)) {
    if (!fs.existsSync(file)) throw new Error(`${name} missing in ${binDir}; install the test dependencies with: ${INSTALL_HINT}`);
  }
  const runAs = await postgresRunAs();
  const majorOut = await run([path.join(binDir, 'postgres'), '--version'], 'postgres --version');
  const majorMatch = /(\d+)(?:\.\d+)?/.exec(majorOut);
  if (!majorMatch?.[1]) throw new Error(`cannot parse postgres version from "${majorOut.trim()}"`);
  const majorVersion = Number(majorMatch[1]);

  const superuser = 'postgres';
  const password = randomBytes(12).toString('hex');

  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const dir = makeTempDir('pg');
    const dataDir = path.join(dir, 'data');
    const logFile = path.join(dir, 'postgres.log');
    const pwFile = path.join(dir, 'pwfile');
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    if (runAs.uid !== undefined && runAs.gid !== undefined) chownTree(dir, runAs.uid, runAs.gid);
    let pid: number | undefined;
    const cleanup = async () => {
      if (fs.existsSync(path.join(dataDir, 'postmaster.pid'))) {
        await run([...runAs.prefix, tools.pgCtl, 'stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30'], 'pg_ctl stop').catch(
          () => undefined,
        );
      }
      if (pid !== undefined) {
        // The postmaster leads its own process group (pg_ctl starts it with setsid).
        await stopGroup(pid, processGroupMembers(pid).length > 0 ? 'SIGQUIT' : undefined);
        tracked.delete(pid);
      }
      removeDir(dir);
    };
    try {
      await run(
        [
          ...runAs.prefix,
          tools.initdb,
          '-D',
          dataDir,
          '-U',
          superuser,
          `--pwfile=${pwFile}`,
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          '--encoding=UTF8',
          '--no-locale',
          '--no-sync',
        ],
        'initdb',
      );
      fs.rmSync(pwFile, { force: true });
      const port = await freePort();
      const options = [
        `-p ${port}`,
        `-c listen_addresses=${HOST}`,
        `-c unix_socket_directories=${dir}`,
        '-c max_connections=40',
        '-c fsync=off',
        '-c synchronous_commit=off',
        '-c full_page_writes=off',
      ].join(' ');
      try {
        await run([...runAs.prefix, tools.pgCtl, 'start', '-D', dataDir, '-l', logFile, '-o', options, '-w', '-t', '60'], 'pg_ctl start');
      } finally {
        pid = readPostmasterPid(dataDir);
        if (pid !== undefined) track(pid, 'SIGQUIT', dir);
      }
      if (pid === undefined) throw new Error('postmaster.pid missing after pg_ctl start');
      const url = `postgres://${superuser}:${encodeURIComponent(password)}@${HOST}:${port}/postgres`;
      await waitUntil(`postgres on port ${port}`, 30_000, () => canConnect(url));
      const postmasterPid = pid;
      const stop = async () => {
        if (!tracked.has(postmasterPid)) return;
        await cleanup();
      };
      return {
        host: HOST,
        port,
        superuser,
        password,
        url,
        binDir,
        majorVersion,
        socketDir: dir,
        pgDump: tools.pgDump,
        pgRestore: tools.pgRestore,
        psql: tools.psql,
        pid: postmasterPid,
        dir,
        dataDir,
        stop,
      };
    } catch (err) {
      lastError = new Error(`${err instanceof Error ? err.message : String(err)}\n${tail(logFile)}`);
      await cleanup();
    }
  }
  throw new Error(`could not start PostgreSQL after ${START_ATTEMPTS} attempts: ${String(lastError)}`);
}

// ---------------------------------------------------------------------------
// moto_server

async function httpAnswers(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return true;
}

export async function startMoto(): Promise<MotoInstance> {
  const server = await startServer({
    name: 'moto_server',
    kind: 'moto',
    readyWithinMs: 60_000,
    args: (port) => ['-H', HOST, '-p', String(port)],
    ready: (port) => httpAnswers(`http://${HOST}:${port}/moto-api/`),
  });
  return { endpoint: `http://${HOST}:${server.port}`, host: HOST, ...server };
}

// ---------------------------------------------------------------------------
// Alertmanager

const ALERTMANAGER_BUILD = fileURLToPath(new URL('../../scripts/build-alertmanager.sh', import.meta.url));

/** Routes every alert to a receiver that sends nothing: the tests use its silences API only. */
const ALERTMANAGER_CONFIG = `route:
  receiver: discard
receivers:
  - name: discard
`;

/** Where scripts/build-alertmanager.sh puts the binary (it alone knows the version). */
export function alertmanagerBinary(): string {
  const bin = execFileSync('bash', [ALERTMANAGER_BUILD, '--print-path'], { encoding: 'utf8' }).trim();
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    throw new Error(`alertmanager not built at ${bin}; install the test dependencies with: ${INSTALL_HINT}`);
  }
  return bin;
}

/** A single Alertmanager (no cluster peers), its state in a fresh directory. */
export async function startAlertmanager(): Promise<AlertmanagerInstance> {
  const server = await startServer({
    name: 'alertmanager',
    bin: alertmanagerBinary(),
    kind: 'alertmanager',
    readyWithinMs: 30_000,
    args: (port, dir) => {
      const config = path.join(dir, 'alertmanager.yml');
      fs.writeFileSync(config, ALERTMANAGER_CONFIG);
      // An empty cluster address turns the gossip cluster off: nothing else listens.
      return [`--config.file=${config}`, `--storage.path=${path.join(dir, 'data')}`, `--web.listen-address=${HOST}:${port}`, '--cluster.listen-address=', '--log.level=warn'];
    },
    ready: async (port) => (await fetch(`http://${HOST}:${port}/-/ready`, { signal: AbortSignal.timeout(2000) })).ok,
  });
  return { url: `http://${HOST}:${server.port}`, ...server };
}

// ---------------------------------------------------------------------------
// All together

/** Starts Redis, PostgreSQL, moto_server and Alertmanager; on any failure stops what did start. */
export async function startAllServices(): Promise<AllServices> {
  const results = await Promise.allSettled([startRedis(), startPostgres(), startMoto(), startAlertmanager()]);
  const [r, p, m, a] = results;
  if (r.status !== 'fulfilled' || p.status !== 'fulfilled' || m.status !== 'fulfilled' || a.status !== 'fulfilled') {
    await Promise.allSettled(results.map((res) => (res.status === 'fulfilled' ? res.value.stop() : undefined)));
    const reasons = results.flatMap((res) => (res.status === 'rejected' ? [String(res.reason)] : []));
    throw new Error(`could not start test services:\n${reasons.join('\n')}`);
  }
  const redis = r.value;
  const postgres = p.value;
  const moto = m.value;
  const alertmanager = a.value;
  const coordinates: ServiceCoordinates = {
    redisUrl: redis.url,
    postgres: {
      host: postgres.host,
      port: postgres.port,
      superuser: postgres.superuser,
      password: postgres.password,
      url: postgres.url,
      binDir: postgres.binDir,
      majorVersion: postgres.majorVersion,
      socketDir: postgres.socketDir,
      pgDump: postgres.pgDump,
      pgRestore: postgres.pgRestore,
      psql: postgres.psql,
    },
    awsEndpoint: moto.endpoint,
    alertmanagerUrl: alertmanager.url,
    pids: { redis: redis.pid, postgres: postgres.pid, moto: moto.pid, alertmanager: alertmanager.pid },
    tempDirs: [redis.dir, postgres.dir, moto.dir, alertmanager.dir],
  };
  const stop = async () => {
    const outcomes = await Promise.allSettled([redis.stop(), postgres.stop(), moto.stop(), alertmanager.stop()]);
    const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
    if (failed.length > 0) throw new Error(`stopping test services failed:\n${failed.join('\n')}`);
  };
  return { redis, postgres, moto, alertmanager, coordinates, stop };
}
