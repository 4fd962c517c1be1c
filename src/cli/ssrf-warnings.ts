/**
 * `validate-config`'s SSRF warnings: a webhook URL whose host is written literally in the file and
 * that the SSRF guard will refuse (loopback, private, link-local, metadata, ...) unless `ssrf.allow`
 * lists it. Said at validation time, instead of as an `SsrfBlocked` failure in the DLQ later.
 * Uses the guard itself (`SsrfGuard.check`), with a resolver that never looks names up: hosts
 * that need DNS are not judged here.
 */
import { SsrfGuard } from '../activities';
import type { ConfigIssue, ObserversFile } from '../config';

const NO_DNS = new Error('no DNS during validation');

/** The URL with templates outside its authority replaced, or null when the host itself is templated. */
function literalUrl(template: string): URL | null {
  const authority = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(template)?.[0];
  if (!authority || /\{\{|\{%/.test(authority)) return null;
  const rest = template.slice(authority.length).replace(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g, 'x');
  try {
    return new URL(authority + rest);
  } catch {
    return null;
  }
}

/** One warning per webhook URL the guard will refuse; empty when every literal host is allowed or public. */
export async function ssrfWarnings(file: Pick<ObserversFile, 'observers' | 'ssrf'>): Promise<ConfigIssue[]> {
  const guard = new SsrfGuard({ allow: file.ssrf.allow, resolve: async () => Promise.reject(NO_DNS) });
  const warnings: ConfigIssue[] = [];
  for (const o of file.observers) {
    for (const [i, a] of o.actions.entries()) {
      if (a.type !== 'webhook') continue;
      const url = literalUrl(a.url);
      if (!url) continue;
      try {
        await guard.check(url, a.url);
      } catch (err) {
        if (err === NO_DNS || (err as { cause?: unknown }).cause === NO_DNS || (err as { type?: string }).type !== 'SsrfBlocked') continue;
        warnings.push({
          path: `observers.${o.name}.actions[${i}].url`,
          message: `${(err as Error).message.replace(/^SSRF guard refused /, 'the SSRF guard will refuse ')}; every call would fail as SsrfBlocked (a DLQ entry). Add the host to ssrf.allow if you mean to reach it`,
        });
      }
    }
  }
  return warnings;
}
