/** What an operation throws when what it would act on no longer exists (e.g. the lock was released). */
import { UserFacingError } from './types.ts';

/** The request can no longer run: the runtime closes it for everyone instead of asking again. */
export class TargetGoneError extends UserFacingError {}
