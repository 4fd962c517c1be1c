/**
 * The one template module: Liquid over a change event, validated at load (config, `validate-config`)
 * and rendered by every action with the same scope, the same checks and the same limits.
 *
 * Modes (how an interpolated value is treated):
 * - `text`: as is; a missing value renders empty (URLs, headers, subjects, messages);
 * - `key`: a missing value is an error, because an empty value would name the wrong key;
 * - `glob`: like `key`, and values are glob-escaped so event data cannot widen a pattern;
 * - `json`: the literal text is JSON and each value is encoded for where it lands (see json-mode.ts).
 *
 * Rendering is bounded (time, memory, output size): a loop driven by event data fails with
 * {@link TemplateRenderError} instead of freezing the worker.
 */
import { Liquid, type Template } from 'liquidjs';
import { ObserversError } from '../errors';
import type { ChangeEvent } from '../events/types';
import { JsonOutputs, JsonValue, hasMarkerCharacters } from './json-mode';
import { TEMPLATE_ROOTS, templateScope, type TemplateScope } from './scope';

export { TEMPLATE_ROOTS, eventEnvelope, templateScope, type TemplateScope } from './scope';

export type TemplateMode = 'text' | 'key' | 'glob' | 'json';

/** A template that does not parse, or names a variable no event has. */
export class TemplateSyntaxError extends ObserversError {}

/** A template that parsed but failed for one event (a missing key value, a limit, invalid JSON): permanent. */
export class TemplateRenderError extends ObserversError {}

/**
 * Bounds of one render. Memory counts Liquid's allocations (a `(1..n)` range costs n, output costs
 * its length), so a data-driven loop fails at once; time is the backstop for what memory misses.
 */
export const TEMPLATE_LIMITS = {
  /** Characters of template source. */
  parseLength: 100_000,
  /** Milliseconds one render may take. */
  renderMs: 2_000,
  /** Liquid's allocation units (array items, characters) one render may use. */
  memory: 10_000_000,
} as const;

const ROOTS: ReadonlySet<string> = new Set(TEMPLATE_ROOTS);
const GLOB_SPECIAL = /[*?[\]\\]/g;
const CACHE_LIMIT = 2000;

/** Escapes Redis glob metacharacters so a value matches only itself inside a pattern. */
export function globEscape(value: unknown): string {
  return String(value ?? '').replace(GLOB_SPECIAL, (ch) => `\\${ch}`);
}

/** Whether the text contains Liquid markup at all (a plain string needs no rendering). */
export function isTemplated(source: string): boolean {
  return source.includes('{{') || source.includes('{%');
}

// The JSON engine's outputEscape hands values to the collector of the render in progress.
let jsonOutputs: JsonOutputs | null = null;

function createEngine(mode: TemplateMode): Liquid {
  const engine = new Liquid({
    strictVariables: mode === 'key' || mode === 'glob',
    strictFilters: true,
    ownPropertyOnly: true,
    // Templates come from the config file; they must never read files through include/render/layout.
    templates: {},
    parseLimit: TEMPLATE_LIMITS.parseLength,
    renderLimit: TEMPLATE_LIMITS.renderMs,
    memoryLimit: TEMPLATE_LIMITS.memory,
    ...(mode === 'glob' ? { outputEscape: globEscape } : {}),
    ...(mode === 'json' ? { outputEscape: (value: unknown) => (jsonOutputs === null ? String(value) : jsonOutputs.escape(value)) } : {}),
  });
  for (const tag of ['include', 'render', 'layout']) delete engine.tags[tag];
  if (mode === 'json') {
    // `raw` would skip the encoding; `json` marks its value so it is written as JSON, not quoted again.
    delete engine.filters.raw;
    engine.registerFilter('json', (value: unknown) => new JsonValue(value));
  }
  return engine;
}

// Engines and parsed templates are pure (no I/O), so sharing them per process is safe and saves re-parsing.
const engines = new Map<TemplateMode, Liquid>();
const parsed = new Map<string, Template[]>();

function engineFor(mode: TemplateMode): Liquid {
  let engine = engines.get(mode);
  if (engine === undefined) {
    engine = createEngine(mode);
    engines.set(mode, engine);
  }
  return engine;
}

/**
 * Parses a template for a mode and checks that each variable starts from a known root
 * (`event`, `data`, `old`, `new`, `changes`). Config validation and rendering both call this.
 *
 * @throws TemplateSyntaxError with liquidjs's message (which names the line and column).
 */
export function parseTemplate(source: string, mode: TemplateMode = 'text'): Template[] {
  const key = `${mode}\u0000${source}`;
  const cached = parsed.get(key);
  if (cached !== undefined) return cached;
  if (mode === 'json' && hasMarkerCharacters(source)) throw new TemplateSyntaxError('characters U+E000 and U+E001 are reserved in JSON templates');
  const engine = engineFor(mode);
  let templates: Template[];
  try {
    templates = engine.parse(source);
  } catch (err) {
    throw new TemplateSyntaxError(firstLine((err as Error).message), { cause: err });
  }
  let roots: Array<Array<string | number>>;
  try {
    roots = engine.globalVariableSegmentsSync(templates) as Array<Array<string | number>>;
  } catch (err) {
    throw new TemplateSyntaxError(firstLine((err as Error).message), { cause: err });
  }
  for (const segments of roots) {
    const root = String(segments[0]);
    if (!ROOTS.has(root)) throw new TemplateSyntaxError(`unknown variable '${root}' (expected one of ${TEMPLATE_ROOTS.join(', ')})`);
  }
  // Bounded: the config holds a fixed set of templates, anything beyond that is not worth keeping.
  if (parsed.size >= CACHE_LIMIT) parsed.clear();
  parsed.set(key, templates);
  return templates;
}

/**
 * Renders a template for one event (or a scope built once for several fields).
 *
 * @throws TemplateSyntaxError if the template does not parse (config validation prevents that),
 *   TemplateRenderError if it fails for this event: a missing value in `key` / `glob` mode, a
 *   render limit, or (json mode) a result that is not JSON.
 */
export function renderTemplate(source: string, subject: ChangeEvent | TemplateScope, mode: TemplateMode = 'text'): string {
  if (!isTemplated(source) && mode !== 'json') return source;
  const templates = parseTemplate(source, mode);
  const scope = isScope(subject) ? subject : templateScope(subject);
  const outputs = mode === 'json' ? new JsonOutputs() : null;
  jsonOutputs = outputs;
  try {
    const text = String(engineFor(mode).renderSync(templates, scope));
    return outputs === null ? text : outputs.substitute(text);
  } catch (err) {
    throw new TemplateRenderError(renderMessage(err), { cause: err });
  } finally {
    jsonOutputs = null;
  }
}

function isScope(subject: ChangeEvent | TemplateScope): subject is TemplateScope {
  return 'event' in subject && 'new' in subject;
}

function renderMessage(err: unknown): string {
  const message = firstLine(err instanceof Error ? err.message : String(err));
  if (/memory alloc limit exceeded|template render limit exceeded/.test(message)) {
    return `${message}: the template does too much work for one event (a loop or range driven by event data?); limits are ${TEMPLATE_LIMITS.memory} allocations and ${TEMPLATE_LIMITS.renderMs} ms`;
  }
  return message;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
