/**
 * The thread parent of a workload's warnings (updated in place) and the replies in its thread,
 * with the buttons that run the next verb for the person who clicks (through `status`'s action,
 * so the verb's role, channel limits and confirmation apply).
 */
import type { Config } from '../../../src/config.ts';
import type { Button, Part, Reply } from '../../../src/core/result.ts';
import type { Text } from '../../../src/core/text.ts';
import { joinText, md } from '../../../src/core/text.ts';
import { durationMs, spokenDuration } from '../../../src/core/durations.ts';
import { utcTime } from '../../shared/evidence.ts';
import { knownApps, resolveApp } from '../../shared/apps.ts';
import { STATUS_ACTION } from '../status.ts';
import type { WarningReason } from './sightings.ts';
import { WARNING_REASONS } from './sightings.ts';
import type { WorkloadWarnings } from './store.ts';
import type { WatchedWorkload } from './workloads.ts';

const SHOWN_PODS = 10;

/** What each count counts, so nobody reads restarts as events. */
const COUNTED: Record<WarningReason, string> = {
  CrashLoopBackOff: 'restarts',
  OOMKilled: 'kills',
  ImagePullBackOff: 'containers',
  ErrImagePull: 'containers',
  FailedScheduling: 'attempts',
  JobFailed: 'failed',
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The app name the verbs take for this workload: the one deploy.apps gives its Deployment, or its own name. */
function appOf(config: Config, workload: WatchedWorkload): string {
  return knownApps(config).find((app) => resolveApp(config, app).workload === workload.name) ?? workload.name;
}

/** The verbs act in kubernetes.namespace on Deployments (and StatefulSets for logs, status, restart). */
function nextStepButtons(config: Config, record: WorkloadWarnings): Button[] {
  const { workload } = record;
  if (workload.namespace !== config.kubernetes.namespace || !['Deployment', 'StatefulSet'].includes(workload.kind)) return [];
  const app = appOf(config, workload);
  const crashed = Boolean(record.reasons.CrashLoopBackOff || record.reasons.OOMKilled);
  const button = (label: string, verb: string, extra: object = {}, style?: Button['style']): Button => ({ label, action: STATUS_ACTION, value: JSON.stringify({ verb, app, ...extra }), ...(style ? { style } : {}) });
  const buttons = [button(crashed ? 'Logs of crashed containers' : 'Logs', 'logs', { previous: crashed }), button('Status', 'status'), button('Restart', 'restart')];
  if (workload.kind === 'Deployment') buttons.push(button('Roll back', 'rollback', {}, 'danger'));
  return buttons;
}

function reasonLine(reason: WarningReason, tally: NonNullable<WorkloadWarnings['reasons'][WarningReason]>, now: Date): Text {
  const first = new Date(tally.firstSeen);
  const last = new Date(tally.lastSeen);
  return md`• *${reason}* ${tally.count} ${COUNTED[reason]}, first seen ${utcTime(first, now)}, last seen ${utcTime(last, now)}${tally.pod ? ` (${tally.pod})` : ''}`;
}

/** The summary line: "Deployment backend in shop: CrashLoopBackOff, OOMKilled on 2 pods". */
export function warningsSummary(record: WorkloadWarnings): string {
  const { workload } = record;
  const reasons = WARNING_REASONS.filter((r) => record.reasons[r]);
  return `${workload.kind} ${workload.name} in ${workload.namespace}: ${reasons.join(', ')}${record.pods.length ? ` on ${plural(record.pods.length, 'pod')}` : ''}`;
}

/** The thread's parent: per reason its count, first and last seen; the pods; the buttons. */
export function warningsParent(config: Config, record: WorkloadWarnings, now: Date): Pick<Reply, 'summary' | 'parts'> {
  const { workload } = record;
  const reasons = WARNING_REASONS.filter((r) => record.reasons[r]);
  const parts: Part[] = [
    { kind: 'heading', text: `Kubernetes warnings: ${workload.kind} ${workload.name}` },
    { kind: 'text', text: joinText(reasons.map((r) => reasonLine(r, record.reasons[r]!, now)), '\n') },
  ];
  if (record.pods.length) {
    const shown = record.pods.slice(-SHOWN_PODS);
    const more = record.pods.length - shown.length;
    parts.push({ kind: 'text', text: md`*Pods affected (${record.pods.length})*: ${shown}${more ? ` and ${more} earlier` : ''}` });
  }
  const buttons = nextStepButtons(config, record);
  if (buttons.length) parts.push({ kind: 'buttons', buttons });
  const where = buttons.length || workload.namespace === config.kubernetes.namespace ? '' : `; the buttons are only offered in ${config.kubernetes.namespace}, where the commands act`;
  parts.push({
    kind: 'context',
    text: md`Namespace ${workload.namespace}. From the bot's watch of pod status, Warning events and Jobs; this message is updated (at most every ${spokenDuration(durationMs(config.kubernetes.warnings.updateEvery))}) instead of posting again${where}. Details in the thread.`,
  });
  return { summary: warningsSummary(record), parts };
}

/** A thread reply the first time a reason shows up: Kubernetes' own words. */
export function reasonReply(reason: WarningReason, tally: NonNullable<WorkloadWarnings['reasons'][WarningReason]>): Text {
  return md`*${reason}*${tally.pod ? ` on ${tally.pod}` : ''}: ${tally.message}`;
}
