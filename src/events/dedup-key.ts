/**
 * Keys of the duplicate-event window: what makes two change events "the same change" for one
 * observer. Shared by the listener (which claims them) and `debug-event` (which looks them up).
 */
import { createHash } from 'node:crypto';
import type { DedupSettings } from '../config/observers';
import { renderTemplate } from '../template';
import type { ChangeEvent } from './types';

/** JSON with object keys sorted, so the same data hashes the same whatever order it was written in. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The logical key of an event for an observer's window: the rendered `key` template, or by
 * default `<entity type>:<entity id>:<kind>:<sha256 of the data>`.
 *
 * @throws TemplateRenderError when the key template fails for this event (e.g. a missing field).
 */
export function dedupKeyOf(settings: DedupSettings, event: ChangeEvent): string {
  if (settings.key !== null) return renderTemplate(settings.key, event, 'key');
  const data = createHash('sha256').update(stableJson(event.data)).digest('hex');
  return `${event.entityType}:${event.entityId ?? ''}:${event.kind}:${data}`;
}

/**
 * Where the key lives in Redis: namespaced by deployment (`fo:<workflow id prefix>`) and observer,
 * the logical key hashed so a long rendered key stays a short Redis key.
 */
export function dedupStoreKey(namespace: string, observer: string, logicalKey: string): string {
  const digest = createHash('sha256').update(logicalKey).digest('hex').slice(0, 40);
  return `${namespace}:dedup:${observer}:${digest}`;
}

/** The namespace of a deployment's dedup and cache keys in Redis. */
export function redisNamespace(workflowIdPrefix: string): string {
  return `fo:${workflowIdPrefix}`;
}
