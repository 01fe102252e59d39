/** The Terraform area's status: which state locks are held (Home tab and incident overview). */
import type { CommandContext } from '../../src/core/types.ts';
import type { Part } from '../../src/core/result.ts';
import { sectionParts } from '../shared/status.ts';
import type { StatusSection } from '../shared/status.ts';
import { tfClients } from './clients.ts';
import { describeLock, readLocks } from './locks.ts';
import { s3Uri, tfStates } from './states.ts';

export async function terraformLocksText(ctx: CommandContext): Promise<string> {
  const clients = await tfClients(ctx.clients, ctx.actor.id);
  const now = ctx.clients.clock.now();
  const lines = await Promise.all(
    tfStates(ctx.config).map(async (state) => {
      try {
        const locks = await readLocks(clients, state);
        if (locks.length === 0) return `• :white_check_mark: ${state.name} (${s3Uri(state.bucket, state.key)}): no lock held`;
        return `• :lock: ${state.name}: ${describeLock(locks[0]!, now)}${locks.length > 1 ? ` (held in ${locks.length} places)` : ''} — \`/autostack tf lock\``;
      } catch (error) {
        return `• :warning: ${state.name}: ${(error as Error).message}`;
      }
    }),
  );
  return lines.join('\n');
}

export const terraformLocksSection: StatusSection = { title: 'Terraform state locks', read: terraformLocksText };

/** The Terraform area's Home section. */
export function tfHome(ctx: CommandContext): Promise<Part[]> {
  return sectionParts([terraformLocksSection], ctx);
}
