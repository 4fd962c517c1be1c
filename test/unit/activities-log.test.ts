import { InMemoryBreakerStore, closeActivities, createActivities, type ObserverActivities } from '../../src/activities';
import { activityEnv, captureLogger, orderEvent } from '../helpers/receivers';

describe('runLog', () => {
  let acts: ObserverActivities;
  let logs: ReturnType<typeof captureLogger>;

  beforeEach(() => {
    logs = captureLogger();
    acts = createActivities({ env: {}, log: logs.log, breaker: new InMemoryBreakerStore(), ssrf: { allow: [] } });
  });
  afterEach(() => closeActivities(acts));

  it('writes the rendered message at the level, with event and workflow ids', async () => {
    const event = orderEvent();
    const result = await activityEnv().run(acts.runLog, { event, action: { type: 'log', key: 'audit:2', level: 'warn', message: '{{ event.entity_type }} {{ data.status }}' } });
    expect(result).toMatchObject({ type: 'log', key: 'audit:2', level: 'warn' });
    const line = logs.lines().find((l) => l.msg === 'Order shipped');
    expect(line).toMatchObject({ level: 40, event_id: event.id, workflow_id: 'test', action_key: 'audit:2', observer: 'audit', entity_type: 'Order' });
  });

  it('defaults to info with a summary message', async () => {
    const event = orderEvent();
    await activityEnv().run(acts.runLog, { event, action: { type: 'log', key: 'audit:0' } });
    expect(logs.lines().find((l) => l.msg === `Order UPDATE ${event.entityId}`)).toMatchObject({ level: 30 });
  });

  it('refuses an unknown level permanently', async () => {
    await expect(activityEnv().run(acts.runLog, { event: orderEvent(), action: { type: 'log', key: 'a:0', level: 'loud' as never } })).rejects.toMatchObject({
      type: 'InvalidAction',
      nonRetryable: true,
    });
  });
});
