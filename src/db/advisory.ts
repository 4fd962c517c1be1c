/** Advisory-lock keys derived from names, so independent deployments of the service never collide by accident. */
import { createHash } from 'node:crypto';

/** A 64-bit advisory lock key, in the forms SQL and pg_locks use. */
export interface AdvisoryKey {
  /** Signed 64-bit key as a decimal string, for `pg_advisory_lock($1::bigint)`. */
  key: string;
  /** pg_locks.classid: the key's high 32 bits (unsigned). */
  classid: number;
  /** pg_locks.objid: the key's low 32 bits (unsigned). */
  objid: number;
}

/**
 * Key for `purpose` and `name` (e.g. `listener`, `orders-1`): the first 8 bytes of a SHA-256,
 * so equal names lock each other across processes and hosts and different names practically never do.
 */
export function advisoryKey(purpose: string, name: string): AdvisoryKey {
  const digest = createHash('sha256').update(`fraiseql-observers\0${purpose}\0${name}`).digest();
  const signed = digest.readBigInt64BE(0);
  const unsigned = BigInt.asUintN(64, signed);
  return {
    key: signed.toString(),
    classid: Number(unsigned >> 32n),
    objid: Number(unsigned & 0xffffffffn),
  };
}
