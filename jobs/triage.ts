/**
 * An alert's (or a typed) triage: the plan's read-only steps through the verbs of every area,
 * exactly as typed, then the summary. Never retried: a second run would post a second set of steps.
 */
import type { JobDefinition } from '../src/core/types.ts';
import { buildRegistry } from '../src/core/registry.ts';
import type { Registry } from '../src/core/registry.ts';
import { areaModules } from '../commands/index.ts';
import { TRIAGE_JOB, runTriage } from '../commands/alerts/triage/index.ts';
import type { TriageJobData } from '../commands/alerts/triage/index.ts';

let registry: Registry | undefined;

export const triageJob: JobDefinition<TriageJobData> = {
  name: TRIAGE_JOB,
  title: (data) => `Triage ${data.scenario} (${data.app})`,
  onFailureNextStep: 'Run the scenario\'s commands by hand (`/autostack help` lists them by runbook step), or `/autostack triage <scenario>` again.',
  process(run) {
    // Built on first use: commands/index.ts loads every area, which loads after this module.
    registry ??= buildRegistry(areaModules);
    return runTriage(run, registry);
  },
};
