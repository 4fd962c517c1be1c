import { standardWebhooksKeyProblem } from '../activities/signing';
import type { ActionConfig } from './actions';
import { formatPath, type ConfigIssue } from './errors';
import type { ObserversFile } from './observers';

/** One environment variable the observers file refers to, and where. */
export interface EnvReference {
  name: string;
  path: string;
  /** What the value must be, beyond set: a Standard Webhooks secret (`whsec_` + base64 key). */
  rule?: 'standard_webhooks_key';
}

/**
 * Every environment variable named by `*_env` fields (and `headers_env` entries) of the enabled
 * observers' actions. Workers check them at start-up so a missing secret fails fast, not on the
 * first event that needs it.
 */
export function envReferences(file: ObserversFile): EnvReference[] {
  const refs: EnvReference[] = [];
  for (const observer of file.observers) {
    if (!observer.enabled) continue;
    observer.actions.forEach((action: ActionConfig, index) => {
      const path = ['observers', observer.name, 'actions', index];
      const start = refs.length;
      collect(action, path, refs);
      if (action.type === 'webhook' && action.standard_webhooks) {
        const signing = formatPath([...path, 'signing_secret_env']);
        for (const ref of refs.slice(start)) if (ref.path === signing) ref.rule = 'standard_webhooks_key';
      }
    });
  }
  return refs;
}

function collect(value: unknown, path: PropertyKey[], refs: EnvReference[]): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [key, child] of Object.entries(value)) {
    if (key === 'headers_env' && child !== null && typeof child === 'object') {
      for (const [header, name] of Object.entries(child)) refs.push({ name: String(name), path: formatPath([...path, key, header]) });
    } else if (key.endsWith('_env') && typeof child === 'string') {
      refs.push({ name: child, path: formatPath([...path, key]) });
    } else {
      collect(child, [...path, key], refs);
    }
  }
}

/**
 * Issues for referenced environment variables that are unset or empty in `env`, or whose value
 * breaks the reference's rule (a weak Standard Webhooks key). Messages never quote a value.
 */
export function missingEnvReferences(file: ObserversFile, env: Readonly<Record<string, string | undefined>>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const ref of envReferences(file)) {
    const value = env[ref.name] ?? '';
    if (value === '') {
      issues.push({ path: ref.path, message: `environment variable ${ref.name} is not set` });
      continue;
    }
    const problem = ref.rule === 'standard_webhooks_key' ? standardWebhooksKeyProblem(value) : undefined;
    if (problem !== undefined) issues.push({ path: ref.path, message: `environment variable ${ref.name} is not a Standard Webhooks secret: ${problem}` });
  }
  return issues;
}
