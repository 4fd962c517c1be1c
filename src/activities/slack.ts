/**
 * Slack action: an incoming-webhook POST. The webhook URL is itself the credential, so it is read
 * from the environment per attempt and never shown: errors name only its origin.
 */
import { SLACK_MAX_RESPONSE_BYTES, actionTimeoutMs, type ActionInput, type SlackAction, type SlackResult } from '../contract';
import { templateScope, type TemplateScope } from '../template';
import { ErrorType, permanent } from './errors';
import { statusFailure } from './http-client';
import { renderField } from './render';
import type { Attempt, ActionRuntime, Outcome } from './runtime';

/** Renders every string leaf of a Block Kit structure (the payload is then serialised as a whole). */
function renderLeaves(value: unknown, scope: TemplateScope, path: string): unknown {
  if (typeof value === 'string') return renderField(value, scope, path);
  if (Array.isArray(value)) return value.map((v, i) => renderLeaves(v, scope, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderLeaves(v, scope, `${path}.${k}`)]));
  }
  return value;
}

/** Posts `{ text, blocks }` to the Slack incoming webhook named by `webhook_url_env`. */
export async function executeSlack(rt: ActionRuntime, input: ActionInput<SlackAction>, at: Attempt): Promise<Outcome<SlackResult>> {
  const { event, action } = input;
  // Remembering the URL also remembers its path parts: a receiver may echo the token alone.
  const raw = at.secrets.resolve(action.webhook_url_env, 'Slack webhook URL');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw permanent(ErrorType.InvalidUrl, `Slack webhook URL in ${action.webhook_url_env} is not a valid URL`, undefined, 'neutral');
  }
  const scope = templateScope(event);
  const payload: { text?: string; blocks?: unknown } = {};
  if (action.text !== undefined) payload.text = renderField(action.text, scope, 'slack text');
  if (action.blocks !== undefined) payload.blocks = renderLeaves(action.blocks, scope, 'slack blocks');
  if (payload.text === undefined && payload.blocks === undefined) {
    payload.text = `${event.entityType} ${event.kind}${event.entityId ? ` ${event.entityId}` : ''}`;
  }
  const display = (u: URL) => `Slack webhook (${u.origin}/…)`;
  const res = await rt.breaker.run(
    'slack',
    async () => {
      const r = await rt.http.send({
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'fraiseql-observers' },
        body: JSON.stringify(payload),
        timeoutMs: actionTimeoutMs(action),
        maxResponseBytes: SLACK_MAX_RESPONSE_BYTES,
        display,
        signal: at.signal,
      });
      const failure = statusFailure(r, display(r.url));
      if (failure) throw failure;
      return r;
    },
    { until: at.waitUntil, heartbeat: at.heartbeat, signal: at.signal },
  );
  return { type: 'slack', key: action.key, status_code: res.status };
}
