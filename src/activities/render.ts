/**
 * Action-side rendering: the template module's render, with its errors turned into the permanent
 * `TemplateError` failure (retrying renders the same thing) naming the field.
 */
import { TemplateRenderError, TemplateSyntaxError, renderTemplate, type TemplateMode, type TemplateScope } from '../template';
import { ErrorType, permanent } from './errors';

/**
 * Renders one config field. `what` names the field in error messages (e.g. `webhook url`).
 *
 * @throws ActionError `InvalidAction` when the field is not a string, `TemplateError` when the
 *   template fails for this event (both permanent; the target is not involved).
 */
export function renderField(source: unknown, scope: TemplateScope, what: string, mode: TemplateMode = 'text'): string {
  if (typeof source !== 'string') throw permanent(ErrorType.InvalidAction, `${what}: template must be a string`);
  try {
    return renderTemplate(source, scope, mode);
  } catch (err) {
    if (err instanceof TemplateRenderError || err instanceof TemplateSyntaxError) {
      throw permanent(ErrorType.TemplateError, `${what}: template failed: ${err.message}`, err, 'neutral');
    }
    throw err;
  }
}
