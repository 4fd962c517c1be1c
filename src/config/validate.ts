import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ConfigIssue } from './errors';
import { missingEnvReferences } from './env-refs';
import { checkObserversYaml, type ObserversFile } from './observers';

/** A short description of one valid observer. */
export interface ObserverSummary {
  name: string;
  enabled: boolean;
  entity: string;
  events: string[];
  condition: string | null;
  /** Action types in order, e.g. ['webhook', 'email']. */
  actions: string[];
}

/** What `validate-config` reports (and prints with `--json`). */
export interface ValidationReport {
  valid: boolean;
  file: string;
  issues: ConfigIssue[];
  observers: ObserverSummary[];
}

/**
 * Validates an observers file without needing a database or the rest of the environment.
 *
 * @param opts.env when given, every `*_env` reference must also be set in it.
 */
export async function validateObserversFile(file: string, opts: { env?: Readonly<Record<string, string | undefined>> } = {}): Promise<ValidationReport> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? 'file not found' : `cannot read the file (${(err as Error).message})`;
    return { valid: false, file, issues: [{ path: file, message }], observers: [] };
  }
  const result = checkObserversYaml(text, basename(file));
  if ('issues' in result) return { valid: false, file, issues: result.issues, observers: [] };
  const issues = opts.env === undefined ? [] : missingEnvReferences(result.value, opts.env);
  return { valid: issues.length === 0, file, issues, observers: summarize(result.value) };
}

function summarize(file: ObserversFile): ObserverSummary[] {
  return file.observers.map((o) => ({
    name: o.name,
    enabled: o.enabled,
    entity: o.entity,
    events: [...o.events],
    condition: o.condition,
    actions: o.actions.map((a) => a.type),
  }));
}
