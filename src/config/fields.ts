/**
 * Building blocks of the observers-file schema: strict maps whose unknown keys are reported one by
 * one (with a pointed message for inline secrets), environment-variable references, Liquid
 * templates and conditions validated at load, and the messages for zod's own issues.
 */
import { z } from 'zod';
import { ConditionSyntaxError, compileCondition } from '../events/condition';
import { TemplateSyntaxError, parseTemplate, type TemplateMode } from '../template';

export const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
// Keys that name a credential; written inline they would end up in workflow input and history.
const SECRET_KEY = /(secret|password|passwd|token|api_?key|private_?key|credential)/i;

/**
 * A strict object: every key not in `shape` is an issue at that key's own path. When the shape has
 * `<key>_env`, or the key looks like a credential, the message says to use an environment
 * variable instead; the value itself is never echoed.
 */
export function strictMap<S extends z.ZodRawShape>(shape: S) {
  const allowed = new Set(Object.keys(shape));
  const envKeys = Object.keys(shape).filter((k) => k.endsWith('_env'));
  return z
    .looseObject(shape)
    .superRefine(
      (value, ctx) => {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
        for (const key of Object.keys(value)) {
          if (!allowed.has(key)) ctx.addIssue({ code: 'custom', path: [key], message: unknownKeyMessage(key, allowed, envKeys) });
        }
      },
      // Report unknown keys even when known fields also fail, so one run shows every problem.
      { when: () => true },
    )
    .transform((value) => {
      const known = Object.entries(value).filter(([k]) => allowed.has(k));
      return Object.fromEntries(known) as z.output<z.ZodObject<S, z.core.$strict>>;
    });
}

function unknownKeyMessage(key: string, allowed: ReadonlySet<string>, envKeys: readonly string[]): string {
  if (allowed.has(`${key}_env`)) {
    return `secrets and credentials cannot be written inline: put the value in an environment variable and set ${key}_env to that variable's name`;
  }
  if (SECRET_KEY.test(key)) {
    const where = envKeys.length > 0 ? ` (here: ${envKeys.join(', ')})` : '';
    return `secrets cannot be written inline: put the value in an environment variable and reference it with an *_env field${where}`;
  }
  return `unknown field (expected one of ${[...allowed].join(', ')})`;
}

const ENV_NAME_MESSAGE = 'expected the NAME of an environment variable (upper-case letters, digits and _, e.g. WEBHOOK_SECRET), not its value';

/** A reference to an environment variable by name: how every secret is named in the config. */
export const envName = z
  .string({ error: (issue) => (issue.input === undefined ? 'required (the name of an environment variable)' : ENV_NAME_MESSAGE) })
  .regex(ENV_NAME, { error: ENV_NAME_MESSAGE });

/**
 * The problem with a template in a mode, as a message for the config path, or undefined. The same
 * parse (scope roots included) that rendering uses, so what passes here renders the same way.
 */
export function templateProblem(source: string, mode: TemplateMode = 'text'): string | undefined {
  try {
    parseTemplate(source, mode);
    return undefined;
  } catch (err) {
    if (!(err instanceof TemplateSyntaxError)) throw err;
    return `invalid template: ${err.message}`;
  }
}

/** A Liquid template over the event, parsed now so a syntax error is reported at load. */
export const template = z.string().superRefine((source, ctx) => {
  const problem = templateProblem(source);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/** A FraiseQL condition, compiled now so a syntax error is reported (with its column) at load. */
export const condition = z.string().superRefine((source, ctx) => {
  try {
    compileCondition(source);
  } catch (err) {
    if (!(err instanceof ConditionSyntaxError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
  }
});

/** Positive whole number of milliseconds. */
export const millis = z.int().positive();

/** Messages for zod's own issues, phrased for someone editing a YAML file. */
export function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      return `expected ${typeName(issue.expected)}, got ${describeValue(issue.input)}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map(String).join(', ')}, got ${describeValue(issue.input)}`;
    case 'invalid_union':
      if ('discriminator' in issue && issue.discriminator !== undefined) return discriminatorMessage(issue);
      return undefined;
    case 'too_small':
      return sizeMessage(issue.origin, 'at least', issue.minimum, issue.inclusive);
    case 'too_big':
      return sizeMessage(issue.origin, 'at most', issue.maximum, issue.inclusive);
    case 'invalid_key':
      return issue.issues[0]?.message ?? 'invalid name';
    default:
      return undefined;
  }
}

function discriminatorMessage(issue: z.core.$ZodRawIssue): string {
  const input = issue.input as Record<string, unknown> | undefined;
  const options = ((issue as unknown as { options?: unknown[] }).options ?? []).map(String).join(', ');
  const value = typeof input === 'object' && input !== null ? input.type : undefined;
  if (value === undefined) return `required: every action needs a type (one of ${options})`;
  const shown = typeof value === 'string' ? `'${value}'` : describeValue(value);
  return `unknown action type ${shown} (expected one of ${options})`;
}

function sizeMessage(origin: string, bound: string, limit: number | bigint, inclusive: boolean | undefined): string {
  const n = Number(limit);
  switch (origin) {
    case 'array':
    case 'set':
      return n === 1 && bound === 'at least' ? 'must not be empty' : `must have ${bound} ${n} item${n === 1 ? '' : 's'}`;
    case 'string':
      return n === 1 && bound === 'at least' ? 'must not be empty' : `must have ${bound} ${n} characters`;
    default:
      if (inclusive === false) return `must be ${bound === 'at least' ? 'greater' : 'less'} than ${n}`;
      return `must be ${bound} ${n}`;
  }
}

function typeName(expected: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'a whole number',
    boolean: 'true or false',
    object: 'a map',
    record: 'a map',
    array: 'a list',
  };
  return names[expected] ?? expected;
}

/** A short, safe description of a value for messages (long strings are cut). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 60)}…` : value}'`;
  return String(value);
}
