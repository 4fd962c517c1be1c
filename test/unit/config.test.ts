import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, envReferences, loadConfig, parseConfig, parseObserversYaml, type ConfigIssue } from '../../src/config';
import { ObserversError } from '../../src/errors';

const EXAMPLE = join(__dirname, '..', '..', 'examples', 'observers.yaml');

function issuesOf(text: string): ConfigIssue[] {
  try {
    parseObserversYaml(text, 'observers.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map(({ path, message }) => ({ path, message }));
  }
  throw new Error('expected the file to be invalid');
}

/** One observer with one action; `action` and `extra` are YAML lines spliced in. */
function withAction(action: string, extra = ''): string {
  const indented = action
    .trim()
    .split('\n')
    .map((l, i) => (i === 0 ? `      - ${l}` : `        ${l}`))
    .join('\n');
  return `observers:\n  order_shipped:\n    entity: Order\n    events: [UPDATE]\n${extra}    actions:\n${indented}\n`;
}

describe('the example file', () => {
  it('parses, with every observer and action', () => {
    const file = parseObserversYaml(readFileSync(EXAMPLE, 'utf8'), 'observers.yaml');
    expect(file.observers.map((o) => o.name)).toEqual(['order_shipped', 'vip_order_alert', 'product_cache', 'price_drop', 'audit_everything']);
    expect(file.observers.flatMap((o) => o.actions.map((a) => a.type))).toEqual(['webhook', 'email', 'slack', 'cache', 'database', 'log', 'log']);
    expect(file.ssrf.allow).toEqual(['10.20.0.0/16:443', 'billing.internal.example.com:443']);
  });

  it('names only environment variables for its secrets', () => {
    const file = parseObserversYaml(readFileSync(EXAMPLE, 'utf8'), 'observers.yaml');
    expect(envReferences(file)).toEqual([
      { name: 'FULFILMENT_AUTH_HEADER', path: 'observers.order_shipped.actions[0].headers_env.Authorization' },
      { name: 'FULFILMENT_SIGNING_SECRET', path: 'observers.order_shipped.actions[0].signing_secret_env' },
      { name: 'SMTP_USER', path: 'observers.order_shipped.actions[1].smtp.user_env' },
      { name: 'SMTP_PASSWORD', path: 'observers.order_shipped.actions[1].smtp.password_env' },
      { name: 'SLACK_SALES_WEBHOOK_URL', path: 'observers.vip_order_alert.actions[0].webhook_url_env' },
    ]);
  });
});

describe('parseObserversYaml: normalisation', () => {
  it('applies defaults: observer over file defaults over built-in', () => {
    const file = parseObserversYaml(
      `
defaults:
  retry: { max_attempts: 9, backoff: fixed }
  failure_policy: alert
  timeout_ms: 5000
observers:
  a:
    entity: Order
    events: update
    retry: { max_attempts: 2 }
    actions: [{ type: log }]
  b:
    entity: "*"
    events: [insert, INSERT, delete]
    failure_policy: log
    ordering: per_entity
    actions: [{ type: log }]
`,
      'o.yaml',
    );
    const [a, b] = file.observers;
    expect(a).toEqual({
      name: 'a',
      description: null,
      enabled: true,
      entity: 'Order',
      events: ['UPDATE'],
      condition: null,
      actions: [{ type: 'log', level: 'info' }],
      retry: { maxAttempts: 2, initialDelayMs: 1000, maxDelayMs: 300000, backoff: 'fixed' },
      failurePolicy: 'alert',
      ordering: 'none',
      timeoutMs: 5000,
      dedup: null,
    });
    expect(b).toMatchObject({ entity: '*', events: ['INSERT', 'DELETE'], failurePolicy: 'log', ordering: 'per_entity', retry: { maxAttempts: 9 } });
  });

  it('defaults the failure policy to dlq and the retry to 5 exponential attempts', () => {
    const [o] = parseObserversYaml(withAction('type: log'), 'o.yaml').observers;
    expect(o).toMatchObject({ failurePolicy: 'dlq', timeoutMs: null, retry: { maxAttempts: 5, initialDelayMs: 1000, maxDelayMs: 300000, backoff: 'exponential' } });
  });

  it('fills action defaults', () => {
    const [o] = parseObserversYaml(withAction('type: webhook\nurl: https://example.com/x\nmethod: put'), 'o.yaml').observers;
    expect(o?.actions[0]).toEqual({ type: 'webhook', url: 'https://example.com/x', method: 'PUT', headers: {}, headers_env: {}, standard_webhooks: false });
  });

  it('accepts one address or a list for email recipients', () => {
    const text = withAction(
      'type: email\nto: "{{ data.email }}"\ncc: [a@example.com, b@example.com]\nfrom: shop@example.com\nsubject: Hi\nbody: Hello\nsmtp: { host: localhost, port: 2525 }',
    );
    const action = parseObserversYaml(text, 'o.yaml').observers[0]?.actions[0];
    expect(action).toMatchObject({ to: ['{{ data.email }}'], cc: ['a@example.com', 'b@example.com'] });
  });

  it('supports YAML anchors and merge keys for shared settings', () => {
    const file = parseObserversYaml(
      `
observers:
  a:
    entity: A
    events: INSERT
    actions:
      - &hook { type: webhook, url: "https://example.com/h", signing_secret_env: HOOK_SECRET }
  b:
    entity: B
    events: INSERT
    actions:
      - { <<: *hook, method: PUT }
`,
      'o.yaml',
    );
    expect(file.observers[1]?.actions[0]).toMatchObject({ type: 'webhook', method: 'PUT', signing_secret_env: 'HOOK_SECRET' });
  });

  it('returns a deeply frozen object', () => {
    const file = parseObserversYaml(withAction('type: cache\nkeys: ["order:{{ event.entity_id }}"]'), 'o.yaml');
    expect(Object.isFrozen(file)).toBe(true);
    expect(Object.isFrozen(file.observers[0]?.actions[0])).toBe(true);
    const action = file.observers[0]?.actions[0] as { keys: string[] };
    expect(() => action.keys.push('x')).toThrow(TypeError);
  });
});

describe('parseObserversYaml: every problem with its path', () => {
  it.each<[string, string, ConfigIssue[]]>([
    [
      'condition syntax',
      withAction('type: log', '    condition: "status == 10 & x"\n'),
      [{ path: 'observers.order_shipped.condition', message: "unexpected token '&' at column 14 (did you mean '&&'?)" }],
    ],
    [
      'unknown action type',
      withAction('type: smoke'),
      [{ path: 'observers.order_shipped.actions[0].type', message: "unknown action type 'smoke' (expected one of webhook, slack, email, cache, database, log)" }],
    ],
    [
      'missing action type',
      withAction('level: info'),
      [{ path: 'observers.order_shipped.actions[0].type', message: 'required: every action needs a type (one of webhook, slack, email, cache, database, log)' }],
    ],
    [
      'unknown observer field',
      withAction('type: log', '    colour: red\n'),
      [
        {
          path: 'observers.order_shipped.colour',
          message: 'unknown field (expected one of description, enabled, entity, events, condition, actions, retry, failure_policy, ordering, timeout_ms, dedup)',
        },
      ],
    ],
    [
      'unknown action field',
      withAction('type: log\nmesage: hi'),
      [{ path: 'observers.order_shipped.actions[0].mesage', message: 'unknown field (expected one of type, cache, level, message)' }],
    ],
    [
      'unknown top-level field',
      'observer: {}\nobservers: {}\n',
      [{ path: 'observer', message: 'unknown field (expected one of defaults, ssrf, breaker, observers)' }],
    ],
    [
      'template syntax',
      withAction('type: webhook\nurl: https://example.com/a\nbody: "{{ data.x "'),
      [{ path: 'observers.order_shipped.actions[0].body', message: 'invalid template: output "{{ data.x " not closed, line:1, col:1' }],
    ],
    [
      'a JSON body that does not start like JSON',
      withAction("type: webhook\nurl: https://example.com/a\nbody: 'hello {{ data.x }}'"),
      [{ path: 'observers.order_shipped.actions[0].body', message: 'a webhook body is sent as JSON unless headers set a non-JSON Content-Type, and this one does not start like JSON (with {, [ or ")' }],
    ],
    [
      'raw in a JSON body (it would skip the encoding)',
      withAction("type: webhook\nurl: https://example.com/a\nbody: '{\"a\": {{ data.x | raw }}}'"),
      [{ path: 'observers.order_shipped.actions[0].body', message: 'invalid template: undefined filter: raw, line:1, col:7' }],
    ],
    [
      'an email address entry is a template or { list }',
      withAction('type: email\nto: [{ lst: "{{ data.x }}" }]\nfrom: b@example.com\nsubject: s\nbody: b\nsmtp: { host: h, port: 25 }'),
      [{ path: 'observers.order_shipped.actions[0].to[0]', message: 'expected an address template, or { list: <template> } for a comma-separated list of addresses' }],
    ],
    [
      'unknown template filter',
      withAction('type: email\nto: a@example.com\nfrom: b@example.com\nsubject: "{{ data.n | shout }}"\nbody: x\nsmtp: { host: h, port: 25 }'),
      [{ path: 'observers.order_shipped.actions[0].subject', message: 'invalid template: undefined filter: shout, line:1, col:1' }],
    ],
    [
      'unknown template variable',
      withAction('type: cache\nkeys: ["order:{{ evnt.entity_id }}"]'),
      [{ path: 'observers.order_shipped.actions[0].keys[0]', message: "invalid template: unknown variable 'evnt' (expected one of event, data, old, new, changes)" }],
    ],
    [
      'template in Slack blocks',
      withAction('type: slack\nwebhook_url_env: SLACK_URL\nblocks:\n  - type: section\n    text: { type: mrkdwn, text: "{% if x %}" }'),
      [{ path: 'observers.order_shipped.actions[0].blocks[0].text.text', message: 'invalid template: tag {% if x %} not closed, line:1, col:1' }],
    ],
    [
      'URL without literal scheme',
      withAction('type: webhook\nurl: "{{ data.callback }}"'),
      [{ path: 'observers.order_shipped.actions[0].url', message: 'the URL must start with http:// or https:// written literally (not from a template)' }],
    ],
    [
      'invalid URL',
      withAction('type: webhook\nurl: "https://exa mple.com/"'),
      [{ path: 'observers.order_shipped.actions[0].url', message: 'not a valid URL' }],
    ],
    [
      'bad event kind',
      withAction('type: log').replace('[UPDATE]', '[UPDATE, UPSERT]'),
      [{ path: 'observers.order_shipped.events[1]', message: "expected one of INSERT, UPDATE, DELETE, CUSTOM, got 'UPSERT'" }],
    ],
    ['no events', withAction('type: log').replace('[UPDATE]', '[]'), [{ path: 'observers.order_shipped.events', message: 'must not be empty' }]],
    ['no actions', 'observers:\n  a: { entity: A, events: INSERT, actions: [] }\n', [{ path: 'observers.a.actions', message: 'must not be empty' }]],
    [
      'missing entity',
      'observers:\n  a: { events: INSERT, actions: [{ type: log }] }\n',
      [{ path: 'observers.a.entity', message: 'required' }],
    ],
    [
      'bad entity',
      'observers:\n  a: { entity: "Order-Line", events: INSERT, actions: [{ type: log }] }\n',
      [{ path: 'observers.a.entity', message: "expected a GraphQL type name (e.g. Order) or '*'" }],
    ],
    [
      'bad observer name (and its body is still checked)',
      'observers:\n  "order shipped!": { entity: A, events: NOPE, actions: [{ type: log }] }\n',
      [
        { path: 'observers["order shipped!"].events[0]', message: "expected one of INSERT, UPDATE, DELETE, CUSTOM, got 'NOPE'" },
        { path: 'observers["order shipped!"]', message: "observer names use letters, digits, '_', '.' and '-' (at most 100)" },
      ],
    ],
    ['observer not a map', 'observers:\n  a: 3\n', [{ path: 'observers.a', message: 'expected a map, got 3' }]],
    ['no observers key', 'defaults: {}\n', [{ path: 'observers', message: 'required' }]],
    ['file is a list', '- a\n', [{ path: '(top level)', message: 'expected a map, got a list' }]],
    [
      'wrong types',
      withAction('type: webhook\nurl: https://example.com\ntimeout_ms: 0\nmax_response_bytes: 1.5\nstandard_webhooks: "yes"'),
      [
        { path: 'observers.order_shipped.actions[0].timeout_ms', message: 'must be greater than 0' },
        { path: 'observers.order_shipped.actions[0].max_response_bytes', message: 'expected a whole number, got 1.5' },
        { path: 'observers.order_shipped.actions[0].standard_webhooks', message: "expected true or false, got 'yes'" },
      ],
    ],
    [
      'bad enum values',
      withAction('type: log\nlevel: loud', '    failure_policy: retry\n    ordering: global\n'),
      [
        { path: 'observers.order_shipped.failure_policy', message: "expected one of log, alert, dlq, got 'retry'" },
        { path: 'observers.order_shipped.ordering', message: "expected one of per_entity, none, got 'global'" },
        { path: 'observers.order_shipped.actions[0].level', message: "expected one of trace, debug, info, warn, error, fatal, got 'loud'" },
      ],
    ],
    [
      'retry out of range',
      withAction('type: log', '    retry: { max_attempts: 0, initial_delay_ms: 5000, max_delay_ms: 100, backoff: random }\n'),
      [
        { path: 'observers.order_shipped.retry.max_attempts', message: 'must be at least 1' },
        { path: 'observers.order_shipped.retry.backoff', message: "expected one of exponential, linear, fixed, got 'random'" },
      ],
    ],
    [
      'retry initial above max',
      withAction('type: log', '    retry: { initial_delay_ms: 5000, max_delay_ms: 100 }\n'),
      [{ path: 'observers.order_shipped.retry.initial_delay_ms', message: 'must not exceed max_delay_ms (100)' }],
    ],
    [
      'retry initial above a default max',
      `defaults: { retry: { max_delay_ms: 100 } }\n${withAction('type: log', '    retry: { initial_delay_ms: 5000 }\n')}`,
      [{ path: 'observers.order_shipped.retry.initial_delay_ms', message: 'must not exceed max_delay_ms (100)' }],
    ],
    [
      'database function',
      withAction('type: database\nfunction: "app.fn(); drop table x"'),
      [{ path: 'observers.order_shipped.actions[0].function', message: "expected a function name such as 'app.fn_on_order_shipped'" }],
    ],
    [
      'cache without keys',
      withAction('type: cache'),
      [{ path: 'observers.order_shipped.actions[0].keys', message: 'a cache action needs at least one entry in keys or patterns' }],
    ],
    [
      'cache pattern matching everything',
      withAction('type: cache\npatterns: ["*"]'),
      [{ path: 'observers.order_shipped.actions[0].patterns[0]', message: "'*' would invalidate every key; start the pattern with a literal prefix" }],
    ],
    [
      'smtp half-configured credentials',
      withAction('type: email\nto: a@example.com\nfrom: b@example.com\nsubject: s\nbody: b\nsmtp: { host: h, port: 70000, password_env: SMTP_PASSWORD }'),
      [{ path: 'observers.order_shipped.actions[0].smtp.port', message: 'must be at most 65535' }],
    ],
    [
      'smtp password without user',
      withAction('type: email\nto: a@example.com\nfrom: b@example.com\nsubject: s\nbody: b\nsmtp: { host: h, port: 25, password_env: SMTP_PASSWORD }'),
      [{ path: 'observers.order_shipped.actions[0].smtp.user_env', message: 'user_env and password_env go together' }],
    ],
    [
      'standard webhooks without a secret',
      withAction('type: webhook\nurl: https://example.com\nstandard_webhooks: true'),
      [{ path: 'observers.order_shipped.actions[0].signing_secret_env', message: 'required when standard_webhooks is true (the signature needs a secret)' }],
    ],
    [
      'header set twice',
      withAction('type: webhook\nurl: https://example.com\nheaders: { X-Tenant: a }\nheaders_env: { x-tenant: TENANT }'),
      [{ path: 'observers.order_shipped.actions[0].headers_env.x-tenant', message: "'x-tenant' is also set under headers; set it in one place only" }],
    ],
    [
      'bad header name',
      withAction('type: webhook\nurl: https://example.com\nheaders: { "Bad Header": x }'),
      [{ path: 'observers.order_shipped.actions[0].headers["Bad Header"]', message: 'not a valid HTTP header name' }],
    ],
    [
      'ssrf entries',
      'ssrf:\n  allow: [10.0.0.0/8, "fd00::/8", 127.0.0.1, "*.internal.example.com", 10.0.0.0/33, "not a host", 1.2.3.4/8/9]\nobservers: {}\n',
      [
        { path: 'ssrf.allow[4]', message: "expected an address or CIDR range (10.0.0.0/8), a host name or *.domain, optionally with :port (10.0.0.5:8443, [fd00::1]:443, hooks.internal:443), got '10.0.0.0/33'" },
        { path: 'ssrf.allow[5]', message: "expected an address or CIDR range (10.0.0.0/8), a host name or *.domain, optionally with :port (10.0.0.5:8443, [fd00::1]:443, hooks.internal:443), got 'not a host'" },
        { path: 'ssrf.allow[6]', message: "expected an address or CIDR range (10.0.0.0/8), a host name or *.domain, optionally with :port (10.0.0.5:8443, [fd00::1]:443, hooks.internal:443), got '1.2.3.4/8/9'" },
      ],
    ],
  ])('%s', (_name, text, expected) => {
    expect(issuesOf(text)).toEqual(expected);
  });

  it('reports every problem at once, in file order, with lines', () => {
    const text = [
      'observers:',
      '  order_shipped:',
      '    entity: Order',
      '    events: [UPDATE]',
      '    condition: "status == 10 & x"',
      '    actions:',
      '      - type: smoke',
      '      - type: webhook',
      '        url: "https://example.com/{{ event.id }"',
      '        signing_secret: abc',
      '  other:',
      '    entity: Order',
      '    events: [INSERT]',
      '    actions: [{ type: log, level: loud }]',
    ].join('\n');
    let error: ConfigError | undefined;
    try {
      parseObserversYaml(text, 'observers.yaml');
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toBeInstanceOf(ObserversError);
    expect(error?.issues).toEqual([
      { path: 'observers.order_shipped.condition', message: "unexpected token '&' at column 14 (did you mean '&&'?)", line: 5 },
      { path: 'observers.order_shipped.actions[0].type', message: expect.stringContaining("unknown action type 'smoke'") as unknown as string, line: 7 },
      { path: 'observers.order_shipped.actions[1].url', message: 'invalid template: output "{{ event.id }" not closed, line:1, col:21', line: 9 },
      { path: 'observers.order_shipped.actions[1].signing_secret', message: expect.stringContaining('signing_secret_env') as unknown as string, line: 10 },
      { path: 'observers.other.actions[0].level', message: "expected one of trace, debug, info, warn, error, fatal, got 'loud'", line: 14 },
    ]);
    expect(error?.message).toContain('invalid configuration (observers.yaml), 5 problems:\n  observers.order_shipped.condition: unexpected token');
  });
});

describe('parseObserversYaml: secrets written inline are rejected', () => {
  const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

  it.each<[string, string, string, string]>([
    ['webhook signing_secret', `type: webhook\nurl: https://example.com\nsigning_secret: ${SECRET}`, 'actions[0].signing_secret', 'set signing_secret_env to that variable'],
    ['smtp password', `type: email\nto: a@example.com\nfrom: b@example.com\nsubject: s\nbody: b\nsmtp: { host: h, port: 25, user_env: U, password: ${SECRET} }`, 'actions[0].smtp.password', 'set password_env to that variable'],
    ['smtp user', 'type: email\nto: a@example.com\nfrom: b@example.com\nsubject: s\nbody: b\nsmtp: { host: h, port: 25, user: me, password_env: P }', 'actions[0].smtp.user', 'set user_env to that variable'],
    ['Slack webhook_url', `type: slack\nwebhook_url_env: SLACK_URL\nwebhook_url: https://hooks.slack.com/services/T000/B000/${SECRET}`, 'actions[0].webhook_url', 'set webhook_url_env to that variable'],
    ['cache redis_url', `type: cache\nkeys: [a]\nredis_url: "redis://:${SECRET}@cache:6379"`, 'actions[0].redis_url', 'set redis_url_env to that variable'],
    ['a token field', `type: webhook\nurl: https://example.com\ntoken: ${SECRET}`, 'actions[0].token', 'secrets cannot be written inline: put the value in an environment variable and reference it with an *_env field (here: headers_env, signing_secret_env)'],
    ['an api_key field', `type: slack\nwebhook_url_env: S\napi_key: ${SECRET}`, 'actions[0].api_key', 'reference it with an *_env field (here: webhook_url_env)'],
    ['credentials in a URL', `type: webhook\nurl: "https://bot:${SECRET}@example.com/hook"`, 'actions[0].url', 'credentials in the URL are an inline secret'],
    ['a secret query parameter', `type: webhook\nurl: "https://example.com/hook?id={{ event.id }}&access_token=${SECRET}"`, 'actions[0].url', "query parameter 'access_token' holds a secret written inline"],
    ['a Slack hook URL in a webhook', `type: webhook\nurl: https://hooks.slack.com/services/T000/B000/${SECRET}`, 'actions[0].url', 'a Slack incoming-webhook URL is itself a secret'],
    ['an Authorization header', `type: webhook\nurl: https://example.com\nheaders: { Authorization: "Bearer ${SECRET}" }`, 'actions[0].headers.Authorization', "'Authorization' carries a credential and cannot be written inline"],
    ['an API key header', `type: webhook\nurl: https://example.com\nheaders: { X-Api-Key: ${SECRET} }`, 'actions[0].headers.X-Api-Key', 'list it under headers_env'],
    ['a secret where a variable name belongs', `type: webhook\nurl: https://example.com\nsigning_secret_env: ${SECRET}`, 'actions[0].signing_secret_env', 'expected the NAME of an environment variable'],
    ['a lower-case variable name', 'type: slack\nwebhook_url_env: slack_url', 'actions[0].webhook_url_env', 'expected the NAME of an environment variable'],
  ])('%s', (_name, action, path, message) => {
    const issues = issuesOf(withAction(action));
    const issue = issues.find((i) => i.path === `observers.order_shipped.${path}`);
    expect(issue?.message).toContain(message);
    // The secret itself must never be echoed back (it would land in CI logs).
    expect(JSON.stringify(issues)).not.toContain(SECRET);
  });

  it('reports an inline credential header even when other fields are wrong too', () => {
    const issues = issuesOf(withAction('type: webhook\nurl: 5\nheaders: { Authorization: "Bearer x" }'));
    expect(issues.map((i) => i.path)).toEqual(['observers.order_shipped.actions[0].url', 'observers.order_shipped.actions[0].headers.Authorization']);
  });
});

describe('parseObserversYaml: YAML problems', () => {
  it.each<[string, string, ConfigIssue[]]>([
    ['syntax error with line and column', 'observers:\n  a: [\n  b: c\n', [{ path: 'observers.yaml:3:3', message: 'YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]' }]],
    ['duplicate observer', 'observers:\n  a: {}\n  a: {}\n', [{ path: 'observers.yaml:3:3', message: 'YAML syntax error: Map keys must be unique' }]],
    ['tab indentation', 'observers:\n\ta: {}\n', [{ path: 'observers.yaml:2:1', message: 'YAML syntax error: Tabs are not allowed as indentation' }]],
    ['unresolved alias', 'observers: *nothing\n', [{ path: 'observers.yaml', message: 'YAML error: Unresolved alias (the anchor must be set before the alias): nothing' }]],
    ['empty file', '# only a comment\n', [{ path: 'observers.yaml', message: "the file is empty; expected a map with an 'observers' key" }]],
  ])('%s', (_name, text, expected) => {
    expect(issuesOf(text)).toEqual(expected);
  });
});

describe('loadConfig / parseConfig', () => {
  const env = { DATABASE_URL: 'postgres://app@localhost:5432/app' };
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'observers-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the file and the environment into one frozen object', async () => {
    const config = await loadConfig({ env, file: EXAMPLE });
    expect(config.source).toBe(EXAMPLE);
    expect(config.env.databaseUrl).toBe(env.DATABASE_URL);
    expect(config.observers).toHaveLength(5);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.env.changeLogTable)).toBe(true);
  });

  it('reports environment and file problems together', () => {
    let error: ConfigError | undefined;
    try {
      parseConfig({ env: { BATCH_SIZE: 'abc' }, text: withAction('type: smoke'), source: '/etc/observers.yaml' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'env.DATABASE_URL: required (a postgres:// URL)',
      "env.BATCH_SIZE: expected a positive integer, got 'abc'",
      "observers.order_shipped.actions[0].type: unknown action type 'smoke' (expected one of webhook, slack, email, cache, database, log)",
    ]);
  });

  it('names YAML syntax errors after the file', () => {
    expect(() => parseConfig({ env, text: 'observers: [', source: '/etc/fraiseql/observers.yaml' })).toThrow('observers.yaml:1:');
  });

  it('reports a missing file as a config problem', async () => {
    const file = join(dir, 'missing.yaml');
    await expect(loadConfig({ env, file })).rejects.toMatchObject({ issues: [{ path: file, message: 'file not found' }] });
  });

  it('loads a file written by the user', async () => {
    const file = join(dir, 'mine.yaml');
    writeFileSync(file, withAction('type: log'));
    const config = await loadConfig({ env, file });
    expect(config.observers[0]?.name).toBe('order_shipped');
  });
});

describe('the breaker section', () => {
  it('passes the circuit breaker settings on, camel-cased, leaving unset fields to the defaults', () => {
    const file = parseObserversYaml('breaker:\n  failure_rate_threshold: 0.25\n  minimum_calls: 4\n  open_duration_ms: 5000\nobservers: {}\n', 'observers.yaml');
    expect(file.breaker).toEqual({ failureRateThreshold: 0.25, minimumCalls: 4, openDurationMs: 5000 });
    expect(parseObserversYaml('observers: {}\n', 'observers.yaml').breaker).toEqual({});
  });

  it('names each bad setting', () => {
    expect(issuesOf('breaker:\n  failure_rate_threshold: 1.5\n  half_open_probes: 0\n  window: 3\nobservers: {}\n').map((i) => i.path)).toEqual([
      'breaker.failure_rate_threshold',
      'breaker.half_open_probes',
      'breaker.window',
    ]);
  });
});
