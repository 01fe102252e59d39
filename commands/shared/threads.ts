/**
 * Links to a job's thread, for replies that send the user there.
 */
import type { JobLauncher } from '../../src/core/types.ts';

/** Where a job's thread is, as job references, lock holders and records keep it. */
export interface ThreadPlace {
  channel?: string;
  threadTs?: string;
}

/** Link to the thread at `place`; none when it has no thread yet, the workspace URL is unknown or the lookup fails. */
export async function threadLink(jobs: JobLauncher, place: ThreadPlace | undefined): Promise<string | undefined> {
  return place?.channel && place.threadTs ? await jobs.permalink(place.channel, place.threadTs).catch(() => undefined) : undefined;
}

/** `sentence` (which ends by naming the job's thread) followed by ": <link>", or by "." when there is no link. */
export async function pointToThread(jobs: JobLauncher, place: ThreadPlace, sentence: string): Promise<string> {
  const link = await threadLink(jobs, place);
  return `${sentence}${link ? `: ${link}` : '.'}`;
}
