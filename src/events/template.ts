import { Liquid, type Template } from 'liquidjs';
import { ObserversError } from '../errors';
import type { ChangeEvent } from './types';

/** Names a template may start a variable with; anything else is a typo caught at load. */
export const TEMPLATE_ROOTS = ['event', 'data', 'old', 'new', 'changes'] as const;

/** A template that does not parse, or names a variable no event has. */
export class TemplateSyntaxError extends ObserversError {}

/** A template that parsed but failed for one event (e.g. `{{ data.missing }}`): a permanent failure. */
export class TemplateRenderError extends ObserversError {}

/**
 * How interpolated values are escaped. `glob` backslash-escapes Redis glob metacharacters so a
 * value such as `a*` taken from event data cannot widen a cache invalidation pattern.
 */
export type TemplateEscape = 'none' | 'glob';

const ROOTS: ReadonlySet<string> = new Set(TEMPLATE_ROOTS);
const CACHE_LIMIT = 2000;

function createEngine(escape: TemplateEscape): Liquid {
  const engine = new Liquid({
    strictVariables: true,
    strictFilters: true,
    ownPropertyOnly: true,
    // Templates come from the config file; they must never read files through include/render/layout.
    templates: {},
    parseLimit: 100_000,
    renderLimit: 1_000,
    memoryLimit: 10_000_000,
    ...(escape === 'glob' ? { outputEscape: (value: unknown) => String(value ?? '').replace(/[*?[\]\\^-]/g, '\\$&') } : {}),
  });
  for (const tag of ['include', 'render', 'layout']) delete engine.tags[tag];
  return engine;
}

// Engines and parsed templates are pure (no I/O), so sharing them per process is safe and saves re-parsing.
const engines = new Map<TemplateEscape, Liquid>();
const parsed = new Map<string, Template[]>();

function engineFor(escape: TemplateEscape): Liquid {
  let engine = engines.get(escape);
  if (engine === undefined) {
    engine = createEngine(escape);
    engines.set(escape, engine);
  }
  return engine;
}

/**
 * Parses a template and checks that each variable starts from a known root
 * (`event`, `data`, `old`, `new`, `changes`).
 *
 * @throws TemplateSyntaxError with liquidjs's message (which names the line and column).
 */
export function parseTemplate(source: string, escape: TemplateEscape = 'none'): Template[] {
  // Escaping is compiled into the parsed template, so each mode has its own cache entry.
  const key = `${escape}\u0000${source}`;
  const cached = parsed.get(key);
  if (cached !== undefined) return cached;
  const engine = engineFor(escape);
  let templates: Template[];
  try {
    templates = engine.parse(source);
  } catch (err) {
    throw new TemplateSyntaxError(firstLine((err as Error).message), { cause: err });
  }
  for (const segments of engine.globalVariableSegmentsSync(templates)) {
    const root = String(segments[0]);
    if (!ROOTS.has(root)) {
      throw new TemplateSyntaxError(`unknown variable '${root}' (expected one of ${TEMPLATE_ROOTS.join(', ')})`);
    }
  }
  // Bounded: the config holds a fixed set of templates, anything beyond that is not worth keeping.
  if (parsed.size >= CACHE_LIMIT) parsed.clear();
  parsed.set(key, templates);
  return templates;
}

/** The variables a template sees: `event.*` in snake_case, plus shortcuts to the images and changes. */
export function templateScope(event: ChangeEvent): Record<string, unknown> {
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
      customer_org_id: event.customerOrgId ?? null,
      actor_type: event.actor?.type ?? null,
      acting_for: event.actor?.actingFor ?? null,
      created_at: event.createdAt,
      commit_time: event.commitTime,
      trace_id: event.trace?.traceId ?? null,
      updated_fields: event.updatedFields,
      data: event.data,
      before: event.before,
      changes: event.changes,
    },
    data: event.data,
    old: event.before,
    new: event.data,
    changes: event.changes,
  };
}

/**
 * Renders a config template for one event (activities call this at run time).
 *
 * @throws TemplateSyntaxError if the template does not parse (config validation prevents that),
 *   TemplateRenderError if it fails for this event, e.g. a variable the event lacks.
 */
export function renderTemplate(source: string, event: ChangeEvent, opts: { escape?: TemplateEscape } = {}): string {
  const escape = opts.escape ?? 'none';
  const templates = parseTemplate(source, escape);
  try {
    return String(engineFor(escape).renderSync(templates, templateScope(event)));
  } catch (err) {
    throw new TemplateRenderError(firstLine((err as Error).message), { cause: err });
  }
}

/** Whether the text contains Liquid markup at all (a plain string needs no rendering). */
export function isTemplated(source: string): boolean {
  return source.includes('{{') || source.includes('{%');
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
