/**
 * The verb table: every module's verbs in one place. It drives routing, help, permissions,
 * the manifest check and README's runbook table.
 */
import type { ActionHandler, BackgroundTask, CommandModule, JobDefinition, Role, Schedule, Section, Verb, HttpRoute } from './types.ts';
import { ROLES, SECTIONS } from './types.ts';

export interface Registry {
  verbs: Verb<unknown>[];
  actions: Map<string, ActionHandler>;
  jobs: Map<string, JobDefinition<unknown>>;
  schedules: Schedule[];
  routes: HttpRoute[];
  tasks: BackgroundTask[];
  homes: Array<{ area: string; render: NonNullable<CommandModule['home']> }>;
}

export function verbName(verb: Pick<Verb, 'path'>): string {
  return verb.path.join(' ');
}

/**
 * The verb table of `modules`, with the job processors (`jobs/`) that run their work. Without
 * `jobs` (help, README table, manifest) the operations' jobs are not checked.
 */
export function buildRegistry(modules: CommandModule[], jobs?: JobDefinition<any>[]): Registry { // eslint-disable-line @typescript-eslint/no-explicit-any
  const registry: Registry = { verbs: [], actions: new Map(), jobs: new Map(), schedules: [], routes: [], tasks: [], homes: [] };
  const seen = new Set<string>();
  for (const module of modules) {
    for (const verb of module.verbs) {
      const name = verbName(verb);
      if (seen.has(name)) throw new Error(`verb "${name}" is declared twice`);
      if (verb.guard !== 'none' && (!verb.operation || verb.execute)) throw new Error(`verb "${name}" has guard ${verb.guard}: it needs an operation and no execute()`);
      if (verb.guard === 'none' && (verb.operation || !verb.execute)) throw new Error(`verb "${name}" has no guard: it needs execute() and no operation`);
      seen.add(name);
      registry.verbs.push(verb);
    }
    for (const action of module.actions ?? []) {
      if (registry.actions.has(action.action)) throw new Error(`action "${action.action}" is declared twice`);
      registry.actions.set(action.action, action);
    }
    registry.schedules.push(...(module.schedules ?? []));
    registry.routes.push(...(module.routes ?? []));
    registry.tasks.push(...(module.tasks ?? []));
    if (module.home) registry.homes.push({ area: module.area, render: module.home.bind(module) });
  }
  if (!jobs) return registry;
  for (const job of jobs) {
    if (registry.jobs.has(job.name)) throw new Error(`job "${job.name}" is declared twice`);
    registry.jobs.set(job.name, job as JobDefinition<unknown>);
  }
  const operations = new Set([...registry.jobs.values()].map((job) => job.operation).filter(Boolean));
  for (const verb of registry.verbs) {
    if (verb.operation && !verb.operation.inline && !operations.has(verb.operation)) throw new Error(`verb "${verbName(verb)}": no job runs its operation`);
  }
  return registry;
}

/** Longest verb path that prefixes the words. */
export function resolveVerb(registry: Registry, words: string[]): { verb: Verb<unknown>; rest: string[] } | undefined {
  let best: Verb<unknown> | undefined;
  for (const verb of registry.verbs) {
    if (verb.path.length > words.length) continue;
    if (verb.path.every((part, i) => words[i]?.toLowerCase() === part) && (!best || verb.path.length > best.path.length)) best = verb;
  }
  return best && { verb: best, rest: words.slice(best.path.length) };
}

export function roleAtLeast(role: Role | null, minimum: Role): boolean {
  return role !== null && ROLES.indexOf(role) >= ROLES.indexOf(minimum);
}

export function levenshtein(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!;
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length]!;
}

/** The verb name closest to what was typed, if any is reasonably close. */
export function closestVerb(registry: Registry, words: string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const verb of registry.verbs) {
    const name = verbName(verb);
    const typed = words.slice(0, verb.path.length).join(' ').toLowerCase();
    const distance = levenshtein(typed, name);
    if (!best || distance < best.distance) best = { name, distance };
  }
  if (!best) return undefined;
  const limit = Math.max(2, Math.floor(best.name.length / 3));
  return best.distance <= limit ? best.name : undefined;
}

export function usageLine(verb: Verb<unknown>): string {
  return `/autostack ${verbName(verb)}${verb.usage ? ` ${verb.usage}` : ''}`;
}

/** What follows a wrong argument: the usage, and an example when the verb has one. */
export function usageHint(verb: Verb<unknown>): string {
  return `Usage: \`${usageLine(verb)}\`${verb.example ? `, for example \`/autostack ${verbName(verb)} ${verb.example}\`` : ''}`;
}

/** Verbs grouped by runbook section, in the runbook's order. */
export function verbsBySection(verbs: Verb<unknown>[]): Array<{ section: Section; title: string; verbs: Verb<unknown>[] }> {
  return (Object.keys(SECTIONS) as Section[])
    .map((section) => ({ section, title: SECTIONS[section], verbs: verbs.filter((v) => v.section === section) }))
    .filter((group) => group.verbs.length > 0);
}
