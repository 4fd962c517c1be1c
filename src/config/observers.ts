/**
 * The observers file: YAML → zod-validated, normalised observer list. Every problem is collected
 * with its path (and YAML line), so one `validate-config` run shows them all.
 */
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { z } from 'zod';
import type { EventKind } from '../events/types';
import { ALLOW_ENTRY_FORMS, parseAllowEntry } from '../activities/ssrf-allow';
import { actionSchema, type ActionConfig } from './actions';
import { formatPath, type ConfigIssue } from './errors';
import { condition, issueMessage, millis, strictMap, template } from './fields';

export const EVENT_KINDS = ['INSERT', 'UPDATE', 'DELETE', 'CUSTOM'] as const satisfies readonly EventKind[];
export const FAILURE_POLICIES = ['log', 'alert', 'dlq'] as const;
export type FailurePolicy = (typeof FAILURE_POLICIES)[number];
export type Ordering = 'per_entity' | 'none';

/** Temporal-style retry policy of an observer's actions, after defaults are applied. */
export interface RetryPolicy {
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  backoff: 'exponential' | 'linear' | 'fixed';
}

/** One observer, normalised: defaults applied, events a list, names as in the file. */
export interface ObserverConfig {
  name: string;
  description: string | null;
  enabled: boolean;
  /** GraphQL type name, or `*` for every type. */
  entity: string;
  events: readonly EventKind[];
  condition: string | null;
  actions: readonly ActionConfig[];
  retry: RetryPolicy;
  failurePolicy: FailurePolicy;
  ordering: Ordering;
  /** Whole-event timeout; null leaves it to the workflow's default. */
  timeoutMs: number | null;
  /** Duplicate-event window (see `listener/dedup-starter.ts`); null: every matching event runs. */
  dedup: DedupSettings | null;
}

/** An observer's `dedup:` section: skip an event whose key was seen within the last `windowMs`. */
export interface DedupSettings {
  windowMs: number;
  /** Template of the key; null: entity type + entity id + kind + a hash of the data. */
  key: string | null;
}

/** Longest dedup window: a week (a longer one is a data model, not a duplicate filter). */
export const MAX_DEDUP_WINDOW_MS = 7 * 24 * 3_600_000;

export interface ObserversFile {
  observers: readonly ObserverConfig[];
  /** Extra destinations the SSRF guard lets through (CIDR ranges, addresses, host names). */
  ssrf: { allow: readonly string[] };
  /** Circuit breaker settings for every target (webhook host, SMTP host, Slack); unset fields keep the defaults. */
  breaker: BreakerSettings;
}

/** The observers file's `breaker:` section, camel-cased (the circuit breaker's own field names). */
export interface BreakerSettings {
  failureRateThreshold?: number;
  minimumCalls?: number;
  windowSize?: number;
  windowMs?: number;
  openDurationMs?: number;
  halfOpenProbes?: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialDelayMs: 1000, maxDelayMs: 300_000, backoff: 'exponential' };

const OBSERVER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;
const ENTITY = /^(\*|[A-Za-z_][A-Za-z0-9_]*)$/;

const retrySchema = strictMap({
  max_attempts: z.int().min(1).max(1000).optional(),
  initial_delay_ms: z.int().min(0).optional(),
  max_delay_ms: millis.optional(),
  backoff: z.enum(['exponential', 'linear', 'fixed']).optional(),
}).superRefine((retry, ctx) => {
  if (retry.initial_delay_ms !== undefined && retry.max_delay_ms !== undefined && retry.initial_delay_ms > retry.max_delay_ms) {
    ctx.addIssue({ code: 'custom', path: ['initial_delay_ms'], message: `must not exceed max_delay_ms (${retry.max_delay_ms})` });
  }
});
type RetryInput = z.output<typeof retrySchema>;

const eventsSchema = z.preprocess(
  (v) => (typeof v === 'string' ? [v] : v),
  z.array(z.preprocess((v) => (typeof v === 'string' ? v.toUpperCase() : v), z.enum(EVENT_KINDS))).min(1),
);

const dedupSchema = strictMap({
  window_ms: millis.max(MAX_DEDUP_WINDOW_MS),
  key: template.optional(),
});

const observerSchema = strictMap({
  description: z.string().optional(),
  enabled: z.boolean().default(true),
  entity: z.string().regex(ENTITY, { error: "expected a GraphQL type name (e.g. Order) or '*'" }),
  events: eventsSchema,
  condition: condition.optional(),
  actions: z.array(actionSchema).min(1),
  retry: retrySchema.optional(),
  failure_policy: z.enum(FAILURE_POLICIES).optional(),
  ordering: z.enum(['per_entity', 'none']).optional(),
  timeout_ms: millis.optional(),
  dedup: dedupSchema.optional(),
});

const ssrfEntry = z.string().superRefine((entry, ctx) => {
  if (parseAllowEntry(entry) === null) ctx.addIssue({ code: 'custom', message: `${ALLOW_ENTRY_FORMS}, got '${entry}'` });
});

const fileSchema = strictMap({
  defaults: strictMap({
    retry: retrySchema.optional(),
    failure_policy: z.enum(FAILURE_POLICIES).optional(),
    ordering: z.enum(['per_entity', 'none']).optional(),
    timeout_ms: millis.optional(),
  }).optional(),
  ssrf: strictMap({ allow: z.array(ssrfEntry).default([]) }).optional(),
  breaker: strictMap({
    /** Share of failed calls in the window that opens the breaker, (0, 1]. */
    failure_rate_threshold: z.number().gt(0).max(1).optional(),
    minimum_calls: z.int().min(1).max(100_000).optional(),
    /** The last N calls (count window). */
    window_size: z.int().min(1).max(1000).optional(),
    /** Calls of the last N ms (time window). */
    window_ms: millis.optional(),
    open_duration_ms: millis.optional(),
    half_open_probes: z.int().min(1).max(1000).optional(),
  }).optional(),
  observers: z.record(z.string(), observerSchema).superRefine(
    (observers, ctx) => {
      if (typeof observers !== 'object' || observers === null) return;
      for (const name of Object.keys(observers)) {
        if (!OBSERVER_NAME.test(name)) {
          ctx.addIssue({ code: 'custom', path: [name], message: "observer names use letters, digits, '_', '.' and '-' (at most 100)" });
        }
      }
    },
    // Checked beside the record, not as its key schema, so a badly named observer's body is validated too.
    { when: () => true },
  ),
});
type FileInput = z.output<typeof fileSchema>;

/** Merges retry settings: observer over file defaults over {@link DEFAULT_RETRY}. */
function resolveRetry(layers: Array<RetryInput | undefined>): RetryPolicy {
  const pick = <K extends keyof RetryInput>(key: K): RetryInput[K] => layers.find((l) => l?.[key] !== undefined)?.[key];
  return {
    maxAttempts: pick('max_attempts') ?? DEFAULT_RETRY.maxAttempts,
    initialDelayMs: pick('initial_delay_ms') ?? DEFAULT_RETRY.initialDelayMs,
    maxDelayMs: pick('max_delay_ms') ?? DEFAULT_RETRY.maxDelayMs,
    backoff: pick('backoff') ?? DEFAULT_RETRY.backoff,
  };
}

function resolve(file: FileInput, issues: ConfigIssue[]): ObserversFile {
  const defaults = file.defaults ?? {};
  const observers = Object.entries(file.observers).map(([name, o]): ObserverConfig => {
    const retry = resolveRetry([o.retry, defaults.retry]);
    // Each layer was checked on its own by the schema; only a mix of layers can still conflict.
    if (retry.initialDelayMs > retry.maxDelayMs) {
      issues.push(
        o.retry?.initial_delay_ms !== undefined
          ? { path: `observers.${name}.retry.initial_delay_ms`, message: `must not exceed max_delay_ms (${retry.maxDelayMs})` }
          : { path: `observers.${name}.retry.max_delay_ms`, message: `must be at least initial_delay_ms (${retry.initialDelayMs})` },
      );
    }
    return {
      name,
      description: o.description ?? null,
      enabled: o.enabled,
      entity: o.entity,
      events: [...new Set(o.events)],
      condition: o.condition ?? null,
      actions: o.actions,
      retry,
      failurePolicy: o.failure_policy ?? defaults.failure_policy ?? 'dlq',
      ordering: o.ordering ?? defaults.ordering ?? 'none',
      timeoutMs: o.timeout_ms ?? defaults.timeout_ms ?? null,
      dedup: o.dedup ? { windowMs: o.dedup.window_ms, key: o.dedup.key ?? null } : null,
    };
  });
  const b = file.breaker ?? {};
  const breaker: BreakerSettings = Object.fromEntries(
    Object.entries({
      failureRateThreshold: b.failure_rate_threshold,
      minimumCalls: b.minimum_calls,
      windowSize: b.window_size,
      windowMs: b.window_ms,
      openDurationMs: b.open_duration_ms,
      halfOpenProbes: b.half_open_probes,
    }).filter(([, v]) => v !== undefined),
  );
  return { observers, ssrf: { allow: file.ssrf?.allow ?? [] }, breaker };
}

/**
 * Parses and validates the text of an observers file.
 *
 * @param sourceName how to name the file in YAML syntax errors (`observers.yaml:3:7`).
 * @returns the normalised file, or every problem found.
 */
export function checkObserversYaml(text: string, sourceName: string): { value: ObserversFile } | { issues: ConfigIssue[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    return {
      issues: doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        // prettyErrors adds "at line L, column C:" and a code frame; the position goes in the path instead.
        const message = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
        return {
          path: pos === undefined ? sourceName : `${sourceName}:${pos.line}:${pos.col}`,
          message: `YAML syntax error: ${message}`,
          ...(pos === undefined ? {} : { line: pos.line }),
        };
      }),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Unresolved or exploding aliases surface only when the document is converted.
    return { issues: [{ path: sourceName, message: `YAML error: ${(err as Error).message}` }] };
  }
  if (data === null || data === undefined) {
    return { issues: [{ path: sourceName, message: "the file is empty; expected a map with an 'observers' key" }] };
  }
  const parsed = fileSchema.safeParse(data, { error: issueMessage });
  const issues: ConfigIssue[] = parsed.success
    ? []
    : parsed.error.issues.map((i) => withLine({ path: formatPath(i.path) || '(top level)', message: i.message }, i.path, doc, lineCounter));
  const value = parsed.success ? resolve(parsed.data, issues) : null;
  if (issues.length > 0 || value === null) return { issues: sortByLine(issues) };
  return { value };
}

function withLine(issue: ConfigIssue, path: ReadonlyArray<PropertyKey>, doc: Document, lines: LineCounter): ConfigIssue {
  // The deepest node that exists: a missing field is reported at its parent map.
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) return { ...issue, line: lines.linePos(node.range[0]).line };
  }
  return issue;
}

function sortByLine(issues: ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) => (a.issue.line ?? 0) - (b.issue.line ?? 0) || a.index - b.index)
    .map(({ issue }) => issue);
}
