/**
 * Slack action: an incoming-webhook POST. The webhook URL is itself the credential, so it is read
 * from the environment per attempt and never shown: errors name only its origin.
 */
import { ErrorType, permanent } from './errors';
import { statusFailure } from './http-client';
import type { Attempt, ActionRuntime, Outcome } from './runtime';
import { type TemplateContext, type TemplateRenderer, templateContext } from './template';
import { DEFAULT_ACTION_TIMEOUT_MS, type ActionInput, type SlackAction, type SlackResult } from '../contract';

const MAX_SLACK_RESPONSE_BYTES = 64 * 1024;

/** Renders every string leaf of a Block Kit structure. */
function renderLeaves(renderer: TemplateRenderer, value: unknown, ctx: TemplateContext, path: string): unknown {
  if (typeof value === 'string') return renderer.render(value, ctx, path);
  if (Array.isArray(value)) return value.map((v, i) => renderLeaves(renderer, v, ctx, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderLeaves(renderer, v, ctx, `${path}.${k}`)]));
  }
  return value;
}

function renderBlocks(renderer: TemplateRenderer, blocks: SlackAction['blocks'], ctx: TemplateContext): unknown {
  if (typeof blocks !== 'string') return renderLeaves(renderer, blocks, ctx, 'slack blocks');
  const text = renderer.render(blocks, ctx, 'slack blocks');
  try {
    return JSON.parse(text);
  } catch {
    throw permanent(ErrorType.TemplateError, 'slack blocks: the rendered template is not valid JSON', undefined, 'neutral');
  }
}

/** Posts `{ text, blocks }` to the Slack incoming webhook named by `webhook_url_env`. */
export async function executeSlack(rt: ActionRuntime, input: ActionInput<SlackAction>, at: Attempt): Promise<Outcome<SlackResult>> {
  const { event, action } = input;
  const raw = at.secrets.resolve(action.webhook_url_env, 'Slack webhook URL');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw permanent(ErrorType.InvalidUrl, `Slack webhook URL in ${action.webhook_url_env} is not a valid URL`, undefined, 'neutral');
  }
  // Error texts may quote the path alone (redirects, client errors): scrub that too.
  at.secrets.remember(url.pathname + url.search);
  const ctx = templateContext(event);
  const payload: { text?: string; blocks?: unknown } = {};
  if (action.text !== undefined) payload.text = rt.renderer.render(action.text, ctx, 'slack text');
  if (action.blocks !== undefined) payload.blocks = renderBlocks(rt.renderer, action.blocks, ctx);
  if (payload.text === undefined && payload.blocks === undefined) {
    payload.text = `${event.entityType} ${event.kind}${event.entityId ? ` ${event.entityId}` : ''}`;
  }
  const display = (u: URL) => `Slack webhook (${u.origin}/…)`;
  const res = await rt.breaker.run('slack', async () => {
    const r = await rt.http.send({
      url,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'fraiseql-observers' },
      body: JSON.stringify(payload),
      timeoutMs: action.timeout_ms ?? DEFAULT_ACTION_TIMEOUT_MS.slack,
      maxResponseBytes: MAX_SLACK_RESPONSE_BYTES,
      display,
      signal: at.signal,
    });
    const failure = statusFailure(r, display(r.url));
    if (failure) throw failure;
    return r;
  });
  return { type: 'slack', key: action.key, status_code: res.status };
}
