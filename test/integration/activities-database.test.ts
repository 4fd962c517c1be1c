import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { InMemoryBreakerStore, closeActivities, createActivities, type ObserverActivities } from '../../src/activities';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { activityEnv, captureLogger, orderEvent } from '../helpers/receivers';

jest.setTimeout(30_000);

describe('runDatabase against a real PostgreSQL', () => {
  let db: TestDatabase;
  let pool: Pool;
  let acts: ObserverActivities;
  const schema = `act_db_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    db = await createTestDatabase('act_db');
    pool = db.pool;
    await pool.query(`
      CREATE SCHEMA ${schema};
      CREATE TABLE ${schema}.calls (payload jsonb NOT NULL);
      CREATE FUNCTION ${schema}.record_order(p jsonb) RETURNS jsonb LANGUAGE sql AS
        $$ INSERT INTO ${schema}.calls VALUES (p); SELECT jsonb_build_object('seen', p->>'id') $$;
      CREATE FUNCTION ${schema}.flaky(p jsonb) RETURNS void LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'downstream unavailable' USING ERRCODE = '55P03'; END $$;
    `);
    acts = createActivities({ env: {}, log: captureLogger().log, breaker: new InMemoryBreakerStore(), ssrf: { allow: [] }, db: pool });
  });

  afterAll(async () => {
    await closeActivities(acts);
    await db.drop();
  });

  it('calls schema.fn with the event envelope as jsonb', async () => {
    const event = orderEvent();
    const result = await activityEnv().run(acts.runDatabase, { event, action: { type: 'database', key: 'sync:0', function: `${schema}.record_order` } });
    expect(result).toMatchObject({ type: 'database', function: `${schema}.record_order`, returned: { seen: event.id } });
    const { rows } = await pool.query<{ payload: Record<string, unknown> }>(`SELECT payload FROM ${schema}.calls`);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.payload).toMatchObject({ id: event.id, entity_type: 'Order', kind: 'UPDATE', data: event.data });
  });

  it('fails permanently for an invalid name or an undefined function, retryably otherwise', async () => {
    const run = (fn: string) => activityEnv().run(acts.runDatabase, { event: orderEvent(), action: { type: 'database', key: 'sync:0', function: fn } });
    await expect(run(`${schema}.x; DROP TABLE ${schema}.calls`)).rejects.toMatchObject({ type: 'InvalidAction', nonRetryable: true });
    await expect(run(`${schema}.no_such_function`)).rejects.toMatchObject({ type: 'DatabasePermanentError', nonRetryable: true });
    await expect(run(`${schema}.flaky`)).rejects.toMatchObject({ type: 'DatabaseError', nonRetryable: false, message: expect.stringContaining('downstream unavailable') });
  });
});
