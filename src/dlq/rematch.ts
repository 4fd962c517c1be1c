/**
 * `dlq retry --with-current-config`: the event of a dead-letter entry matched again against the
 * observers file as it is now (with the listener's own matcher, `matchEvent`), and what that
 * changes compared with the configuration frozen into the failed run. Action keys
 * (`<observer>:<index>`) and so idempotency keys stay the same for the same action.
 */
import type { ObserverMatch } from '../contract';
import type { CompiledObservers } from '../events/match';
import { matchEvent } from '../events/match';
import type { ChangeEvent } from '../events/types';

/** One field that differs between the frozen and the current configuration of an action. */
export interface FieldChange {
  /** JSON path inside the action (`url`, `headers.X-Team`) or its observer's settings (`observer.retry.maxAttempts`). */
  path: string;
  before: unknown;
  after: unknown;
}

/** What the current configuration does to one action of the entry. */
export interface ActionChange {
  key: string;
  /**
   * unchanged / changed: the action exists in both; added: only the current config has it (the
   * observer now matches, or gained an action); removed: only the failed run had it.
   */
  change: 'unchanged' | 'changed' | 'added' | 'removed';
  fields: FieldChange[];
  /** Whether the retry calls it (false for actions that already succeeded, and for removed ones). */
  runs: boolean;
}

/** The event matched against the current observers. */
export interface Rematch {
  matches: ObserverMatch[];
  conditionErrors: Array<{ observer: string; message: string }>;
  changes: ActionChange[];
  /** Actions the retry runs: every current action that has not already succeeded. */
  actionKeys: string[];
}

type Flat = Map<string, unknown>;

function flatten(value: unknown, prefix: string, out: Flat): Flat {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) out.set(prefix, {});
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out.set(prefix, value);
  }
  return out;
}

/** Every action of a match list by key, with its observer's settings under `observer.`. */
function actionsByKey(matches: readonly ObserverMatch[]): Map<string, Flat> {
  const byKey = new Map<string, Flat>();
  for (const m of matches) {
    const observer = { retry: m.retry, failurePolicy: m.failurePolicy, ordering: m.ordering, timeoutMs: m.timeoutMs };
    for (const a of m.actions) {
      const { key: _key, ...action } = a;
      const flat = flatten(action, '', new Map());
      flatten(observer, 'observer', flat);
      byKey.set(a.key, flat);
    }
  }
  return byKey;
}

function fieldChanges(before: Flat | undefined, after: Flat | undefined): FieldChange[] {
  const paths = [...new Set([...(before?.keys() ?? []), ...(after?.keys() ?? [])])].sort();
  const out: FieldChange[] = [];
  for (const path of paths) {
    const b = before?.get(path);
    const a = after?.get(path);
    if (JSON.stringify(b) !== JSON.stringify(a)) out.push({ path, before: b ?? null, after: a ?? null });
  }
  return out;
}

/**
 * Matches `event` against the current observers and compares with the frozen matches.
 *
 * @param done - keys of actions that already succeeded (carried over, never called again)
 */
export function rematchEvent(event: ChangeEvent, frozen: readonly ObserverMatch[], current: CompiledObservers, done: ReadonlySet<string>): Rematch {
  const { matches, conditionErrors } = matchEvent(event, current);
  const before = actionsByKey(frozen);
  const after = actionsByKey(matches);
  const keys = [...new Set([...before.keys(), ...after.keys()])];
  const changes = keys.map((key): ActionChange => {
    const b = before.get(key);
    const a = after.get(key);
    const fields = b && a ? fieldChanges(b, a) : [];
    const change: ActionChange['change'] = !b ? 'added' : !a ? 'removed' : fields.length > 0 ? 'changed' : 'unchanged';
    return { key, change, fields, runs: a !== undefined && !done.has(key) };
  });
  const actionKeys = matches.flatMap((m) => m.actions.map((a) => a.key)).filter((k) => !done.has(k));
  return { matches, conditionErrors, changes, actionKeys };
}
