/**
 * The SDK's log lines through the service's pino logger: one line per failed attempt is the
 * service's own; the SDK's duplicates go to debug, and an error in its metadata is written with its
 * type and message, never as `"error":{}`.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { ApplicationFailure } from '@temporalio/common';
import { temporalLogger } from '../../src/worker/temporal-runtime';

function capture(level: pino.Level = 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level }, stream), lines };
}

test('the SDK\'s own lines (a failed activity attempt, a failed workflow) are debug, not info or warn', () => {
  const { log, lines } = capture('info');
  const t = temporalLogger(log);
  t.warn('Activity failed', { sdkComponent: 'activity', activityType: 'runWebhook', error: new Error('boom') });
  t.warn('Workflow failed', { sdkComponent: 'workflow', workflowId: 'w', error: ApplicationFailure.create({ type: 'ActionsFailed', message: '1 of 1 action failed' }) });
  t.info('Worker state changed', { sdkComponent: 'worker', state: 'RUNNING' });
  // A line of our own workflow code keeps its level.
  t.warn('action notify:0 failed (dlq)', { sdkComponent: 'workflow', workflowId: 'w', action_key: 'notify:0' });
  expect(lines.map((l) => l.msg)).toEqual(['action notify:0 failed (dlq)']);
  expect(lines[0]).toMatchObject({ level: 40, workflow_id: 'w' });
});

test('an error in the metadata is written with its type and message, never as {}', () => {
  const { log, lines } = capture('debug');
  const t = temporalLogger(log);
  t.warn('Workflow failed', { sdkComponent: 'workflow', error: ApplicationFailure.create({ type: 'ActionsFailed', message: '1 of 1 action failed' }) });
  t.warn('Activity failed', { sdkComponent: 'activity', error: new TypeError('bad') });
  expect(lines.map((l) => l.error)).toEqual([{ type: 'ActionsFailed', message: '1 of 1 action failed' }, { type: 'TypeError', message: 'bad' }]);
  expect(JSON.stringify(lines)).not.toContain('"error":{}');
});
