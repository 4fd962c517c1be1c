import type { ActionSnapshot as Theirs } from '../../src/activities/types';
import type { ActionSnapshot as Mine } from '../../src/events/match';
export const check = (m: Mine): Theirs => m;
