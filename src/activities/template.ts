/**
 * Liquid templates over a change event, and the JSON envelope actions send by default.
 */
import { Liquid, type Template } from 'liquidjs';
import type { ChangeEvent } from '../events/types';
import { ErrorType, messageOf, permanent } from './errors';

/** The variables a template sees. */
export interface TemplateContext {
  event: {
    id: string;
    position: string;
    kind: string;
    raw_kind: string;
    entity_type: string;
    entity_id: string | null;
    tenant_id: string | null;
    user_id: string | null;
    actor_type: string | null;
    acting_for: string | null;
    updated_fields: string[] | null;
    created_at: string | null;
    commit_time: string | null;
    trace_id: string | null;
  };
  data: Record<string, unknown>;
  /** The pre-image, when the producer recorded one. */
  old: Record<string, unknown> | null;
  changes: Record<string, { old: unknown; new: unknown }> | null;
}

/** Builds the template context `{ event, data, old, changes }` of a change event. */
export function templateContext(event: ChangeEvent): TemplateContext {
  return {
    event: {
      id: event.id,
      position: event.position,
      kind: event.kind,
      raw_kind: event.rawKind,
      entity_type: event.entityType,
      entity_id: event.entityId,
      tenant_id: event.tenantId,
      user_id: event.userId,
      actor_type: event.actor?.type ?? null,
      acting_for: event.actor?.actingFor ?? null,
      updated_fields: event.updatedFields,
      created_at: event.createdAt,
      commit_time: event.commitTime,
      trace_id: event.trace?.traceId ?? null,
    },
    data: event.data,
    old: event.before,
    changes: event.changes,
  };
}

/**
 * The event as receivers get it by default (webhook body, database function argument).
 * It always carries the event id so receivers can deduplicate.
 */
export function eventEnvelope(event: ChangeEvent): Record<string, unknown> {
  return {
    id: event.id,
    kind: event.kind,
    raw_kind: event.rawKind,
    entity_type: event.entityType,
    entity_id: event.entityId,
    data: event.data,
    old: event.before,
    changes: event.changes,
    updated_fields: event.updatedFields,
    tenant_id: event.tenantId,
    user_id: event.userId,
    actor: event.actor ? { type: event.actor.type, acting_for: event.actor.actingFor } : null,
    created_at: event.createdAt,
    commit_time: event.commitTime,
    trace_id: event.trace?.traceId ?? null,
    position: event.position,
  };
}

const GLOB_SPECIAL = /[*?[\]\\]/g;

/** Escapes Redis glob metacharacters so a value matches only itself inside a pattern. */
export function globEscape(value: unknown): string {
  return String(value ?? '').replace(GLOB_SPECIAL, (ch) => `\\${ch}`);
}

/**
 * How interpolated values are treated:
 * - `text`: as is; an undefined variable renders empty (URLs, bodies, messages);
 * - `key`: an undefined variable is an error, because an empty value would name the wrong key;
 * - `glob`: like `key`, and values are glob-escaped so event data cannot widen a pattern.
 */
export type RenderMode = 'text' | 'key' | 'glob';

const CACHE_LIMIT = 2000;

/** Parses (once) and renders liquid templates; one instance per activities object. */
export class TemplateRenderer {
  private readonly engines: Record<RenderMode, Liquid>;
  private readonly parsed: Record<RenderMode, Map<string, Template[]>> = { text: new Map(), key: new Map(), glob: new Map() };

  constructor() {
    // `templates: {}` keeps {% include %} / {% render %} away from the file system. No render time
    // limit: on a starved CPU a harmless template could exceed it and fail permanently.
    const base = { strictFilters: true, ownPropertyOnly: true, templates: {}, parseLimit: 1e6, memoryLimit: 1e8 };
    this.engines = {
      text: new Liquid({ ...base, strictVariables: false }),
      key: new Liquid({ ...base, strictVariables: true }),
      glob: new Liquid({ ...base, strictVariables: true, outputEscape: globEscape }),
    };
  }

  /**
   * Renders `source` against `context`. `what` names the field in error messages
   * (e.g. `webhook url`). Any template error is permanent: retrying renders the same thing.
   */
  render(source: string, context: TemplateContext, what: string, mode: RenderMode = 'text'): string {
    if (typeof source !== 'string') throw permanent(ErrorType.InvalidAction, `${what}: template must be a string`);
    if (!source.includes('{')) return source;
    try {
      return String(this.engines[mode].renderSync(this.parse(source, mode), context));
    } catch (err) {
      throw permanent(ErrorType.TemplateError, `${what}: template failed: ${messageOf(err)}`, err, 'neutral');
    }
  }

  private parse(source: string, mode: RenderMode): Template[] {
    const cache = this.parsed[mode];
    let tpl = cache.get(source);
    if (!tpl) {
      tpl = this.engines[mode].parse(source);
      // Templates come from config, so the set is small; the bound only guards against surprises.
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(source, tpl);
    }
    return tpl;
  }
}
