/**
 * Status sections: an area's reading of its own state (open alerts, Terraform locks, the last
 * backup), shown on the App Home tab and in the incident overview. Areas export their sections;
 * the places that show another area's section receive it (commands/index.ts composes them), so no
 * area imports another. Each section stands alone: one that fails or is slow shows why and the
 * others still appear.
 */
import type { CommandContext } from '../../src/core/types.ts';
import type { Part } from '../../src/core/result.ts';
import type { Text } from '../../src/core/text.ts';
import { joinText } from '../../src/core/text.ts';

export interface StatusSection {
  title: string;
  read(ctx: CommandContext): Promise<Text>;
}

export const SECTION_TIMEOUT_MS = 8000;

export async function sectionPart(section: StatusSection, ctx: CommandContext): Promise<Part> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${SECTION_TIMEOUT_MS / 1000}s`)), SECTION_TIMEOUT_MS)));
    return { kind: 'text', text: joinText([`*${section.title}*\n`, await Promise.race([section.read(ctx), timeout])]) };
  } catch (error) {
    return { kind: 'text', text: `*${section.title}*\n:warning: unavailable: ${(error as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}

/** The sections read in parallel, in the order given. */
export function sectionParts(sections: StatusSection[], ctx: CommandContext): Promise<Part[]> {
  return Promise.all(sections.map((section) => sectionPart(section, ctx)));
}
