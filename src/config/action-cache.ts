/**
 * The `cache:` field every action may carry (FraiseQL Phase 8.4, action result cache): within
 * `ttl_ms` of a successful run, the same action for the same key is not performed again and the
 * cached outcome is recorded instead (e.g. one cache-invalidation webhook per entity per 5 minutes).
 * Implemented in `activities/result-cache.ts`.
 */
import { millis, strictMap, template } from './fields';

/** Longest time an outcome may stand in for the action: a day. */
export const MAX_ACTION_CACHE_TTL_MS = 24 * 3_600_000;

/** `cache: { ttl_ms, key }`; key default `action:<type>:<entity type>:<entity id>`. */
export const actionCacheSchema = strictMap({
  ttl_ms: millis.max(MAX_ACTION_CACHE_TTL_MS),
  /** Template over the event; default `action:{{ event.entity_type }}...` (see `activities/result-cache.ts`). */
  key: template.optional(),
});
