/**
 * Performs the Dockerfile's steps in a clean directory, for machines without a Docker engine:
 * each stage gets its own folder (its WORKDIR), COPY copies from the checkout or an earlier
 * stage, RUN runs there, ENV applies. Steps that change the operating system image (apt-get,
 * groupadd/useradd) are listed and skipped: they need an image's root filesystem. The Node.js
 * running this script stands in for the base image's.
 *
 *   npx tsx scripts/image-rehearsal.ts    builds the image folder, then runs its CMD there
 */
import { spawnSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Instruction {
  op: string;
  args: string;
}

/** Instructions with continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const full = `${pending}${line}`.trim();
    pending = '';
    const match = /^(\w+)\s+(.*)$/.exec(full);
    if (match) out.push({ op: match[1]!.toUpperCase(), args: match[2]! });
  }
  return out;
}

/** Steps that build the operating system image rather than the application folder. */
export const SYSTEM_STEPS = [/^apt-get update\b/, /^groupadd\b/];

export interface Stage {
  name: string;
  from: string;
  dir: string;
}

export interface Rehearsal {
  stages: Stage[];
  /** The final stage's folder: the image's /app. */
  dir: string;
  env: Record<string, string>;
  cmd: string[];
  healthcheck: string[];
  user?: string;
  ran: string[];
  skipped: string[];
}

function expand(text: string, vars: Record<string, string | undefined>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? '');
}

function parseEnv(args: string, vars: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of args.matchAll(/(\w+)=("[^"]*"|\S*)/g)) out[match[1]!] = expand(match[2]!.replace(/^"|"$/g, ''), vars);
  return out;
}

export function rehearse(options: { dockerfile?: string; context?: string; root?: string; log?: (line: string) => void } = {}): Rehearsal {
  const context = resolve(options.context ?? '.');
  const root = options.root ?? mkdtempSync(join(tmpdir(), 'autostack-image-'));
  const log = options.log ?? (() => undefined);
  const instructions = parseDockerfile(readFileSync(join(context, options.dockerfile ?? 'Dockerfile'), 'utf8'));
  const stages: Stage[] = [];
  const result: Rehearsal = { stages, dir: '', env: {}, cmd: [], healthcheck: [], ran: [], skipped: [] };
  let args: Record<string, string> = {};
  let env: Record<string, string> = {};
  let stage: Stage | undefined;
  let workdir = '/';

  const local = (path: string) => join(stage!.dir, path.startsWith('/') ? path.slice(workdir.length).replace(/^\//, '') : path);
  for (const { op, args: text } of instructions) {
    if (op === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(text);
      if (!match) throw new Error(`FROM ${text}: not understood`);
      stage = { name: match[2] ?? 'image', from: match[1]!, dir: join(root, match[2] ?? 'image') };
      mkdirSync(stage.dir, { recursive: true });
      stages.push(stage);
      args = {};
      // The Node.js running the rehearsal stands in for the base image's.
      env = { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? root };
      workdir = '/';
      continue;
    }
    if (!stage) throw new Error(`${op} before FROM`);
    const vars = { ...process.env, ...env, ...args };
    switch (op) {
      case 'ARG': {
        const [name, value] = text.split('=');
        args[name!] = value ?? '';
        break;
      }
      case 'ENV':
        Object.assign(env, parseEnv(text, vars));
        break;
      case 'WORKDIR':
        workdir = text;
        break;
      case 'COPY': {
        const parts = text.split(/\s+/);
        const from = parts[0]!.startsWith('--from=') ? parts.shift()!.slice('--from='.length) : undefined;
        const dest = parts.pop()!;
        const source = from ? stages.find((s) => s.name === from) : undefined;
        if (from && !source) throw new Error(`COPY --from=${from}: no such stage`);
        for (const src of parts) {
          const origin = source ? join(source.dir, src.replace(/^\/app\/?/, '')) : join(context, src);
          const target = dest.endsWith('/') ? join(local(dest), src.split('/').pop()!) : local(dest);
          cpSync(origin, target, { recursive: true });
        }
        break;
      }
      case 'RUN': {
        const command = expand(text, vars);
        if (SYSTEM_STEPS.some((pattern) => pattern.test(command))) {
          log(`skipped (operating system image): ${command}`);
          result.skipped.push(text);
          break;
        }
        log(`[${stage.name}] ${command}`);
        const run = spawnSync('bash', ['-euo', 'pipefail', '-c', command], { cwd: stage.dir, env: { ...env, npm_config_prefer_offline: 'true' }, encoding: 'utf8' });
        if (run.status !== 0) throw new Error(`RUN ${command} failed in ${stage.dir} (${run.status}):\n${run.stdout}\n${run.stderr}`);
        result.ran.push(text);
        break;
      }
      case 'CMD':
        result.cmd = JSON.parse(text) as string[];
        break;
      case 'HEALTHCHECK':
        result.healthcheck = JSON.parse(text.replace(/^.*?\bCMD\s+/, '')) as string[];
        break;
      case 'USER':
        result.user = text;
        break;
      case 'EXPOSE':
        break;
      default:
        throw new Error(`${op}: the rehearsal does not know this instruction`);
    }
  }
  result.dir = stage!.dir;
  result.env = env;
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const image = rehearse({ log: (line) => process.stderr.write(`[image] ${line}\n`) });
  process.stderr.write(`[image] ${image.dir}: ${image.cmd.join(' ')}\n`);
  const child = spawn(image.cmd[0]!, image.cmd.slice(1), { cwd: image.dir, env: { ...process.env, ...image.env }, stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 1));
}
