/**
 * Removes exactly the Terraform state lock that was approved (see commands/tf/unlock.ts).
 *
 * `replan` re-reads the lock and renders the plan again: the runtime compares it with the approved
 * plan, which names the lock, so a lock replaced before the job starts stops the job. The locks
 * `replan` read are kept for `process` (same run), which deletes them only if still unchanged:
 * a lock replaced in between is reported and left alone.
 */
import type { JobDefinition, JobRun } from '../src/core/types.ts';
import { reply, table } from '../src/core/result.ts';
import { tfClients } from '../commands/tf/clients.ts';
import { formatAge, lockCreated } from '../commands/tf/lockinfo.ts';
import { describeWhere } from '../commands/tf/locks.ts';
import type { HeldLock } from '../commands/tf/locks.ts';
import { stateFor } from '../commands/tf/states.ts';
import { inspectUnlock, performUnlock, unlockPlanFor } from '../commands/tf/unlock.ts';
import type { UnlockParams } from '../commands/tf/unlock.ts';

export const TF_UNLOCK_JOB = 'tf-unlock';

/** The locks the approved plan was re-checked against, per run. */
const approved = new WeakMap<object, HeldLock[]>();

export const tfUnlockJob: JobDefinition<UnlockParams> = {
  name: TF_UNLOCK_JOB,
  title: (data) => `Force-unlock Terraform state "${data.state}"`,
  onFailureNextStep: 'Check the state lock with `/autostack tf lock`; the thread says what was removed, if anything.',

  async replan(data, run) {
    const state = stateFor(run.config, data.state);
    const clients = await tfClients(run.clients, run.requestedBy);
    const locks = await inspectUnlock(clients, state);
    approved.set(run, locks);
    return unlockPlanFor(clients, state, locks, run.config, new Date(data.requestedAt));
  },

  async process(run: JobRun<UnlockParams>) {
    const state = stateFor(run.config, run.data.state);
    const clients = await tfClients(run.clients, run.requestedBy);
    const now = () => run.clients.clock.now();
    const expected = approved.get(run) ?? (await inspectUnlock(clients, state));
    const removed = await performUnlock(clients, state, expected, { now, step: (text) => run.step(text) });

    const first = removed[0]!;
    const created = lockCreated(first.info);
    await run.audit.record({
      actor: run.requestedBy,
      action: 'tf unlock',
      args: { state: state.name, lockId: first.info?.ID ?? null, who: first.info?.Who ?? null },
      result: 'removed',
      channel: run.channel,
      detail: removed.map((l) => describeWhere(l)).join('; '),
    });
    const rows = removed.map((l) => [
      l.info?.ID ?? '(unreadable)',
      l.info?.Who ?? '',
      l.info?.Operation ?? '',
      l.info?.Created ?? '',
      describeWhere(l),
    ]);
    return reply(
      `Removed the lock ${first.info?.ID ?? '(unreadable)'} from Terraform state "${state.name}"${created ? ` (it was ${formatAge(now().getTime() - created.getTime())} old)` : ''}.`,
      [
        { kind: 'text', text: `:unlock: Removed the lock on Terraform state *${state.name}*; the next Terraform run can take it.` },
        table(['lock ID', 'who', 'operation', 'created', 'where'], rows),
        ...(state.lockTable ? [{ kind: 'context' as const, text: `Terraform's checksum item "${state.digestId}" was not touched.` }] : []),
      ],
      'channel',
    );
  },
};
