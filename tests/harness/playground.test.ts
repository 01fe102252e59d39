/**
 * The playground (`npm run playground`) driven like a newcomer would: type commands, read the
 * console, quit; then nothing it started may still run. And a missing service binary stops the
 * start with the install hint, leaving nothing behind.
 */
import { mkdtempSync, readdirSync, rmSync, existsSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startPlayground } from './playground.ts';
import type { Playground } from './playground.ts';
import { INSTALL_HINT, isProcessRunning, processGroupMembers, trackedPids } from './services.ts';
import { ATTACKERS, BACKEND, NAMESPACE, TERRAFORM } from './playground/world.ts';
import { deploymentPods, readSecret } from './kube-env.ts';
import { CAPTURED } from '../tf/fixtures.ts';
import { decode } from './chart-pixels.ts';
import { messageToText } from '../../dev/slack-emulator/index.ts';
import { CHART_LAYOUT } from '../../src/render/chart.ts';

const silent = pino({ level: 'silent' });
/** INSTALL_HINT as a pattern. */
const HINT = INSTALL_HINT.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A console on PassThrough streams: type a line, wait for what it prints after it. */
function terminal() {
  const input = new PassThrough();
  const output = new PassThrough();
  let seen = '';
  output.on('data', (chunk: Buffer) => (seen += chunk.toString('utf8')));
  return {
    input,
    output,
    type(line: string): number {
      const mark = seen.length;
      input.write(`${line}\n`);
      return mark;
    },
    async expectOutput(pattern: RegExp, from: number, timeoutMs = 30_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(seen.slice(from))) {
        if (Date.now() > deadline) throw new Error(`the console never printed ${pattern}; it printed:\n${seen.slice(from)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return seen.slice(from);
    },
    all: () => seen,
  };
}

async function refused(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return false;
  } catch {
    return true;
  }
}

describe('the playground', () => {
  const term = terminal();
  let playground: Playground;
  let quit = false;

  beforeAll(async () => {
    playground = await startPlayground({ input: term.input, output: term.output, log: silent, trafficEveryMs: 250 });
    await term.expectOutput(/Type \/autostack help/, 0);
  }, 120_000);

  afterAll(async () => {
    if (!playground || quit) return;
    term.input.end();
    await playground.finished;
  });

  it('greets with what runs where and what to try, with no secret in it', async () => {
    const banner = term.all();
    expect(banner).toMatch(/AutoStack playground: everything below is local/);
    expect(banner).toContain(playground.urls.aws);
    expect(banner).toContain(playground.urls.kube);
    expect(banner).toContain('/autostack tf lock');
    const secrets = (await readSecret(playground.cluster, BACKEND.secret))!;
    for (const key of ['GITHUB_CLIENT_SECRET', 'GOOGLE_CLIENT_SECRET', 'JWT_SECRET', 'SECRET_KEY'] as const) {
      expect(secrets[key]?.length).toBeGreaterThan(16);
      expect(banner).not.toContain(secrets[key]);
    }
    expect(banner).not.toContain(new URL(playground.config.database.url!).password);
  });

  it('tf lock shows the held lock: who, Terraform\'s lock ID, 40 minutes old', async () => {
    const from = term.type('/autostack tf lock');
    const out = await term.expectOutput(/Held in DynamoDB table autostack-tf-locks/, from);
    expect(out).toContain(`locked by *${TERRAFORM.lockWho}*`);
    expect(out).toContain(CAPTURED.ddbLockId);
    expect(out).toContain('OperationTypeApply');
    expect(out).toMatch(/\*Age\*\s+4[01]m \d+s/);
  });

  it('history backend shows the two revisions with images and change-causes, 1.4.2 live', async () => {
    const from = term.type('/autostack history backend');
    const out = await term.expectOutput(/Live: revision 2/, from);
    // The API server stamps the ReplicaSets when the playground creates them: minutes old, not the story's hours.
    expect(out).toMatch(/2 ◀ live\s+backend:1\.4\.2\s+(?:\S+ )?\d\d:\d\d UTC \(\d+ (?:s|min) ago\)\s+2\/2\n/);
    expect(out).toMatch(/\n\s+1\s+backend:1\.4\.1\s/);
    expect(out).toContain('• *2* deploy 1.4.2: keep OAuth state in Redis');
    expect(out).toContain('• *1* deploy 1.4.1: paginate');
  });

  it('ratelimit top finds the burst: the three clients, heaviest first, over the alert threshold', async () => {
    const from = term.type('/autostack ratelimit top');
    const out = await term.expectOutput(/Block 2001:db8:85a3::7334\]/, from);
    const rows = ATTACKERS.map((a) => new RegExp(`\\d  ${a.ip.replace(/\./g, '\\.')}\\s+(\\d+)\\s`).exec(out));
    const counts = rows.map((m) => Number(m?.[1]));
    expect(counts.every((c) => c > 0)).toBe(true);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
    expect(out).toMatch(/100\/min \(runbook\): exceeded in \d+ minutes?/);
    expect(out).toContain('/login');
    // The chart: a sparkline in the message, the PNG in its thread (the console prints its alt text).
    expect(out).toMatch(/📈 [▁▂▃▄▅▆▇█]+ 429s per minute on backend, \d\d:\d\d to \d\d:\d\d UTC: peak \d+\/min at \d\d:\d\d; threshold 100\/min exceeded in \d+ minutes?/);
    await term.expectOutput(/📎 429s-per-minute-on-backend-last-15m\.png \(\d+ bytes\)\n\s+│\s+429s per minute on backend, \d\d:\d\d to \d\d:\d\d UTC: peak/, from);
  });

  it("the seeded rate-limit alert's triage puts the 429s chart in #incident: its line in the summary, the image with its alt text under it", async () => {
    const { emulator } = playground.session;
    const incident = playground.config.channels.incident!;
    const summary = emulator.channelMessages(incident, { includeReplies: true }).find((m) => /^Triage S2: \d+ finding/.test(m.text ?? ''));
    expect(summary?.thread_ts).toBeDefined();
    const chartOf = () => emulator.files().find((f) => f.title === '429s per minute on backend, last 15m' && f.shares.some((s) => s.channel === incident && s.thread_ts === summary!.thread_ts));
    for (let waited = 0; !chartOf() && waited < 30_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
    const chart = chartOf();
    const shape = new RegExp(`^429s per minute on backend, \\d\\d:\\d\\d to \\d\\d:\\d\\d UTC: peak \\d+/min at \\d\\d:\\d\\d; threshold 100/min exceeded in \\d+ minutes?; ${ATTACKERS[0].ip.replace(/\./g, '\\.')} peak \\d+/min at \\d\\d:\\d\\d`);
    expect(chart?.alt_text).toMatch(shape);
    expect(decode(chart!.content!).width).toBe(CHART_LAYOUT.width + CHART_LAYOUT.padding.left + CHART_LAYOUT.padding.right);
    expect(messageToText(summary!)).toContain(`📈 `);
    expect(messageToText(summary!)).toContain(chart!.alt_text);
  });

  it('db check connects to the database as the application role and reads the migration head', async () => {
    const from = term.type('/autostack db check');
    const out = await term.expectOutput(/connections in use/, from);
    expect(out).toContain('✓ Connected to the database as autostack');
    expect(out).toMatch(/postgres:\/\/autostack:\*\*\*@127\.0\.0\.1:\d+\/autostack/);
    expect(out).toContain('7d2e5a1c9f03');
  });

  it('backup list shows the three nightly backups, the oldest verified', async () => {
    const from = term.type('/autostack backup list');
    const out = await term.expectOutput(/3 newest of 3 backups in s3:\/\/autostack-backups\/db\//, from);
    const names = new Set([...out.matchAll(/autostack-(\d{8})-0200\.dump/g)].map((m) => m[1]));
    expect(names.size).toBe(3);
    // Each row can be verified or restored from its buttons.
    expect([...out.matchAll(/\[\d+\] Verify autostack-\d{8}-0200\.dump/g)]).toHaveLength(3);
    expect(out).toMatch(/autostack-\d{8}-0200\.dump\s+\S+ 02:00 UTC\s+[\d.]+ KiB\s+schedule\n\s+checksum: verified/);
    expect(out).toContain('daily schedule');
  });

  it('a blocked client is answered 403 by the ingress and stops reaching the backend', async () => {
    const attacker = ATTACKERS[0].ip;
    let from = term.type(`/autostack ratelimit block ${attacker} --ttl 1h login flood`);
    const out = await term.expectOutput(/\[(\d+)\] Confirm/, from);
    const button = [...out.matchAll(/\[(\d+)\] Confirm/g)].at(-1)![1]!;
    from = term.type(button);
    await term.expectOutput(/Blocked 203\.0\.113\.7\/32 until/, from);
    const { cluster } = playground;
    const ingressPod = (await deploymentPods(cluster, 'ingress-nginx-controller'))[0]!.metadata!.name!;
    // Through the API server, as kubectl logs reads them.
    const logOf = async (pod: string) => (await cluster.kube.core.readNamespacedPodLog({ name: pod, namespace: NAMESPACE })).split('\n');
    const backendPods = (await deploymentPods(cluster, BACKEND.deployment)).map((p) => p.metadata!.name!);
    const ingressBefore = (await logOf(ingressPod)).length - 1;
    const backendBefore = await Promise.all(backendPods.map(async (p) => (await logOf(p)).length - 1));
    // Traffic after the block: the ingress answers the attacker 403 (one tick writes the ingress
    // and the backend logs together).
    const deadline = Date.now() + 20_000;
    while (!(await logOf(ingressPod)).slice(ingressBefore).some((l) => l.startsWith(`${attacker} `) && / 403 /.test(l))) {
      if (Date.now() > deadline) throw new Error('no 403 for the blocked client in the ingress log');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // The same tick's backend lines may land a moment after its ingress lines.
    const backendSince = async () => (await Promise.all(backendPods.map((p) => logOf(p)))).flatMap((lines, i) => lines.slice(backendBefore[i]));
    let newLines = await backendSince();
    while (!newLines.some((l) => l.includes('GET /health'))) {
      if (Date.now() > deadline) throw new Error('no backend traffic after the block');
      await new Promise((resolve) => setTimeout(resolve, 100));
      newLines = await backendSince();
    }
    expect(newLines.filter((l) => l.includes(`${attacker}:`))).toEqual([]);
  });

  it('quits and leaves no process, port or server behind', async () => {
    term.type('/quit');
    await playground.finished;
    quit = true;
    for (const pid of Object.values(playground.pids).flat()) {
      expect(isProcessRunning(pid)).toBe(false);
      expect(processGroupMembers(pid)).toEqual([]);
    }
    expect(trackedPids()).toEqual([]);
    // The control plane's processes are among the pids above.
    for (const url of [playground.urls.backend, `${playground.urls.bot}/health`, playground.urls.aws]) {
      expect(await refused(url)).toBe(true);
    }
  });
});

/** PATH with `binary` hidden: each directory holding it is replaced by a copy of links to its other entries. */
function pathWithout(binary: string): { path: string; cleanup: () => void } {
  const shadows: string[] = [];
  const dirs = (process.env.PATH ?? '').split(path.delimiter).map((dir) => {
    if (!dir || !existsSync(path.join(dir, binary))) return dir;
    const shadow = mkdtempSync(path.join(tmpdir(), 'path-'));
    shadows.push(shadow);
    for (const entry of readdirSync(dir)) if (entry !== binary) symlinkSync(path.join(dir, entry), path.join(shadow, entry));
    return shadow;
  });
  return { path: dirs.join(path.delimiter), cleanup: () => shadows.forEach((dir) => rmSync(dir, { recursive: true, force: true })) };
}

describe('the playground without the Kubernetes control plane binaries', () => {
  it('says how to build them and stops the services that did start', async () => {
    const saved = process.env.AUTOSTACK_TOOLS_CACHE;
    // scripts/build-kube.sh looks for the binaries under this cache folder: an empty one has none.
    process.env.AUTOSTACK_TOOLS_CACHE = mkdtempSync(path.join(tmpdir(), 'no-kube-'));
    try {
      await expect(startPlayground({ input: new PassThrough(), output: new PassThrough(), log: silent })).rejects.toThrow(
        new RegExp(`Kubernetes control plane binaries missing in .*; install the test dependencies with: ${HINT}`),
      );
    } finally {
      rmSync(process.env.AUTOSTACK_TOOLS_CACHE, { recursive: true, force: true });
      if (saved === undefined) delete process.env.AUTOSTACK_TOOLS_CACHE;
      else process.env.AUTOSTACK_TOOLS_CACHE = saved;
    }
    expect(trackedPids()).toEqual([]);
  }, 120_000);
});

describe('the playground without moto_server', () => {
  it('fails with the install hint and stops the services that did start', async () => {
    const hidden = pathWithout('moto_server');
    const saved = process.env.PATH;
    const term = terminal();
    process.env.PATH = hidden.path;
    try {
      await expect(startPlayground({ input: term.input, output: term.output, log: silent })).rejects.toThrow(
        new RegExp(`moto_server not found on PATH; install the test dependencies with: ${HINT}`),
      );
    } finally {
      process.env.PATH = saved;
      hidden.cleanup();
    }
    // Redis and PostgreSQL started meanwhile; the failure stopped them.
    expect(trackedPids()).toEqual([]);
  }, 120_000);
});
