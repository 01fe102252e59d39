/**
 * Log lines of the playground's pods, in the formats the real processes print: uvicorn's access
 * and error lines for the backend, ingress-nginx's upstream access format for the ingress
 * controller, PostgreSQL's for the database. Generated from a fixed seed, so every start shows
 * the same incident; times are relative to the start.
 */
import { ATTACKERS, BACKEND, INGRESS_CONTROLLER, PROBE_IP, VISITORS } from './world.ts';

const MINUTE = 60_000;

/** A line as the container runtime stamps it. */
export interface LogLine {
  time: Date;
  text: string;
}

/** A small deterministic generator (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Request {
  time: Date;
  ip: string;
  method: string;
  path: string;
  status: number;
  agent: string;
}

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  302: 'Found',
  307: 'Temporary Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
};

/** uvicorn (--proxy-headers): `INFO:     203.0.113.7:51234 - "POST /login HTTP/1.1" 429 Too Many Requests`. */
export function uvicornLine(r: Request, port: number): string {
  // uvicorn prints IPv6 peers without brackets, the port last.
  return `INFO:     ${r.ip}:${port} - "${r.method} ${r.path} HTTP/1.1" ${r.status} ${REASONS[r.status] ?? ''}`.trimEnd();
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** nginx $time_local in UTC: `28/Nov/2026:20:50:01 +0000`. */
export function nginxTime(t: Date): string {
  return `${pad(t.getUTCDate())}/${MONTHS[t.getUTCMonth()]}/${t.getUTCFullYear()}:${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())} +0000`;
}

/** ingress-nginx's default log-format-upstream. */
export function ingressLine(r: Request, upstreamAddr: string, requestId: string): string {
  const bytes = r.status === 429 ? 52 : r.status === 200 ? 1184 : 0;
  const took = r.status === 429 ? '0.002' : '0.031';
  return `${r.ip} - - [${nginxTime(r.time)}] "${r.method} ${r.path} HTTP/1.1" ${r.status} ${bytes} "-" "${r.agent}" 312 ${took} [${INGRESS_CONTROLLER.upstream}] [] ${upstreamAddr} ${bytes} ${took} ${r.status} ${requestId}`;
}

/** The requests of the last hour: ordinary visitors, probes and the 429 burst (minutes 2–8 ago). */
export function recentRequests(now: Date): Request[] {
  const rnd = random(20261128);
  const out: Request[] = [];
  const at = (msAgo: number) => new Date(now.getTime() - msAgo);
  // Visitors: one request every ~40 s over the last hour.
  const pages = [
    ['GET', '/api/deployments', 200],
    ['GET', '/api/projects', 200],
    ['GET', '/api/projects/acme-web', 200],
    ['POST', '/api/deployments', 201],
    ['GET', '/auth/github', 307],
    ['GET', '/auth/google', 307],
    ['GET', '/api/me', 200],
  ] as const;
  for (let ms = 60 * MINUTE; ms > 20_000; ms -= 30_000 + Math.floor(rnd() * 20_000)) {
    const [method, path, status] = pages[Math.floor(rnd() * pages.length)]!;
    out.push({ time: at(ms), ip: VISITORS[Math.floor(rnd() * VISITORS.length)]!, method, path, status, agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0' });
  }
  // The burst: a ramp peaking above the alert threshold (100/min) four minutes ago.
  const shape = [0.05, 0.11, 0.22, 0.26, 0.19, 0.11, 0.06];
  for (const attacker of ATTACKERS) {
    let left = attacker.count;
    shape.forEach((share, i) => {
      const minuteAgo = 8 - i;
      const n = i === shape.length - 1 ? left : Math.round(attacker.count * share);
      left -= n;
      for (let k = 0; k < n; k++) {
        // The first few of each client are failed logins before the limiter steps in.
        const status = i === 0 && k < 6 ? 401 : 429;
        out.push({ time: at(minuteAgo * MINUTE - Math.floor(rnd() * MINUTE)), ip: attacker.ip, method: 'POST', path: attacker.path, status, agent: attacker.agent });
      }
    });
  }
  return out.sort((a, b) => a.time.getTime() - b.time.getTime());
}

export interface PodLogs {
  /** Backend pods' current logs, one list per pod. */
  backend: LogLine[][];
  /** Previous (crashed) container of the last backend pod. */
  crashed: LogLine[];
  ingress: LogLine[];
  db: LogLine[];
}

/** Everything the pods printed, spread over the backend pods the way the ingress balances. */
export function podLogs(now: Date, backendPods: number, podIps: string[]): PodLogs {
  const rnd = random(424242);
  const at = (msAgo: number) => new Date(now.getTime() - msAgo);
  // Times are "ms ago". The live pods started with the last deploy; ten minutes later the last
  // pod's container lost the database (which was recovering from a crash) and restarted.
  const started = BACKEND.revisions[BACKEND.revisions.length - 1]!.hoursAgo * 60 * MINUTE;
  const crashAt = started - 10 * MINUTE;
  const crashedPod = backendPods - 1;
  const backend: LogLine[][] = Array.from({ length: backendPods }, (_, i) => {
    const boot = i === crashedPod ? crashAt - 15_000 : started - i * 40_000;
    return [
      { time: at(boot), text: 'INFO:     Started server process [1]' },
      { time: at(boot - 200), text: 'INFO:     Waiting for application startup.' },
      { time: at(boot - 900), text: 'INFO:     Application startup complete.' },
      { time: at(boot - 910), text: `INFO:     Uvicorn running on http://0.0.0.0:${BACKEND.port} (Press CTRL+C to quit)` },
    ];
  });
  const ingress: LogLine[] = [];
  const requests = recentRequests(now);
  const limited = new Map<string, number>();
  requests.forEach((r, n) => {
    const pod = n % backendPods;
    backend[pod]!.push({ time: r.time, text: uvicornLine(r, 40000 + Math.floor(rnd() * 20000)) });
    if (r.status === 429) {
      // The limiter logs once per client and minute.
      const minute = Math.floor(r.time.getTime() / MINUTE);
      if (limited.get(r.ip) !== minute) {
        limited.set(r.ip, minute);
        backend[pod]!.push({ time: r.time, text: `WARNING:  rate_limit exceeded: client=${r.ip} path=${r.path} limit=10/60s` });
      }
    }
    const requestId = Math.floor(rnd() * 2 ** 52).toString(16).padStart(13, '0') + Math.floor(rnd() * 2 ** 52).toString(16).padStart(13, '0');
    ingress.push({ time: r.time, text: ingressLine(r, `${podIps[pod] ?? '10.0.1.10'}:${BACKEND.port}`, requestId.slice(0, 32)) });
  });
  // Kubelet probes every 10 s for the last 10 minutes (older ones are further up the log).
  for (let ms = 10 * MINUTE; ms > 0; ms -= 10_000) {
    for (let pod = 0; pod < backendPods; pod++) {
      backend[pod]!.push({ time: at(ms - pod * 1000), text: `INFO:     ${PROBE_IP}:${50000 + Math.floor(rnd() * 9000)} - "GET /health HTTP/1.1" 200 OK` });
    }
  }
  // OAuth state failures since the 1.4.2 deploy, on both pods.
  const oauth = [
    [52, 'WARNING:  oauth_state mismatch on /auth/github/callback: state not found in the state store (expired or replayed)'],
    [41, 'WARNING:  oauth_state mismatch on /auth/github/callback: state not found in the state store (expired or replayed)'],
    [33, 'ERROR:    oauth_state validation failed for provider=google: state parameter missing on callback'],
    [19, 'WARNING:  oauth_state mismatch on /auth/google/callback: state not found in the state store (expired or replayed)'],
    [11, 'WARNING:  oauth_state mismatch on /auth/github/callback: state not found in the state store (expired or replayed)'],
    [4, 'ERROR:    oauth_state store unavailable: redis timeout after 2.0s, login refused'],
  ] as const;
  oauth.forEach(([minutesAgo, text], i) => {
    const pod = i % backendPods;
    const time = at(minutesAgo * MINUTE);
    const path = text.includes('google') ? '/auth/google/callback' : '/auth/github/callback';
    backend[pod]!.push({ time, text: uvicornLine({ time, ip: VISITORS[i % VISITORS.length]!, method: 'GET', path, status: 400, agent: '' }, 41000 + i) });
    backend[pod]!.push({ time, text });
  });
  for (const lines of backend) lines.sort((a, b) => a.time.getTime() - b.time.getTime());

  const boot = started - crashedPod * 40_000;
  const crashed: LogLine[] = [
    'INFO:     Started server process [1]',
    'INFO:     Waiting for application startup.',
    'INFO:     Application startup complete.',
    `INFO:     Uvicorn running on http://0.0.0.0:${BACKEND.port} (Press CTRL+C to quit)`,
  ].map((text, i) => ({ time: at(boot - i * 300), text }));
  const failure = [
    'ERROR:    Exception in ASGI application',
    'Traceback (most recent call last):',
    '  File "/app/app/db.py", line 41, in get_session',
    '    async with engine.connect() as conn:',
    'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at "db.autostack.svc.cluster.local" (10.100.12.7), port 5432 failed: Connection refused',
    '\tIs the server running on that host and accepting TCP/IP connections?',
    'ERROR:    Application shutdown failed. Exiting.',
  ];
  crashed.push(...failure.map((text, i) => ({ time: at(crashAt - i * 20), text })));

  const dbStart = 26 * 60 * MINUTE;
  const db: LogLine[] = [
    'PostgreSQL Database directory appears to contain a database; Skipping initialization',
    'LOG:  starting PostgreSQL 15.8 (Debian 15.8-1.pgdg120+1) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit',
    'LOG:  listening on IPv4 address "0.0.0.0", port 5432',
    'LOG:  listening on Unix socket "/var/run/postgresql/.s.PGSQL.5432"',
    'LOG:  database system was shut down at 2026-11-27 18:52:10 UTC',
    'LOG:  database system is ready to accept connections',
  ].map((text, i) => ({ time: at(dbStart - i * 400), text }));
  // Ten minutes after the deploy a backend query ran the database out of memory: crash recovery.
  const recovery = [
    'LOG:  server process (PID 4121) was terminated by signal 9: Killed',
    'DETAIL:  Failed process was running: SELECT d.* FROM deployments d JOIN audit_log a ON a.target = d.id::text ORDER BY a.created_at DESC',
    'LOG:  terminating any other active server processes',
    'LOG:  all server processes terminated; reinitializing',
    'LOG:  database system was not properly shut down; automatic recovery in progress',
    'FATAL:  the database system is in recovery mode',
    'LOG:  redo done at 0/3A1F2C8 system usage: CPU: user: 0.02 s, system: 0.01 s, elapsed: 0.05 s',
    'LOG:  database system is ready to accept connections',
  ];
  db.push(
    { time: at(started + 11 * MINUTE), text: 'LOG:  checkpoint starting: time' },
    { time: at(started + 10.5 * MINUTE), text: 'LOG:  checkpoint complete: wrote 913 buffers (5.6%); 0 WAL file(s) added, 0 removed, 1 recycled; write=89.912 s, sync=0.021 s, total=89.951 s' },
    ...recovery.map((text, i) => ({ time: at(crashAt + 2000 - i * 500), text })),
    { time: at(35 * MINUTE), text: 'LOG:  checkpoint starting: time' },
    { time: at(34 * MINUTE), text: 'LOG:  checkpoint complete: wrote 211 buffers (1.3%); 0 WAL file(s) added, 0 removed, 0 recycled; write=21.118 s, sync=0.004 s, total=21.140 s' },
  );
  db.sort((a, b) => a.time.getTime() - b.time.getTime());
  return { backend, crashed, ingress, db };
}
