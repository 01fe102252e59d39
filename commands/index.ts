/** Every runbook area's module; the verb table is built from these (plus the bot's own). */
import type { CommandModule } from '../src/core/types.ts';

export const areaModules: CommandModule[] = [];
