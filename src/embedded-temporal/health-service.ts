/**
 * `grpc.health.v1.Health/Check`, the standard gRPC health service a real Temporal frontend serves
 * (`temporal operator cluster health` and load balancers call it). Its two messages are tiny and not
 * in @temporalio/proto, so they are encoded by hand here rather than adding a dependency.
 */
import * as grpc from '@grpc/grpc-js';

export const HEALTH_SERVICE = 'grpc.health.v1.Health';

/** HealthCheckResponse.ServingStatus values. */
export const SERVING_STATUS = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

/** Services this server answers SERVING for; '' is the server as a whole. */
const SERVED = new Set([
  '',
  'temporal.api.workflowservice.v1.WorkflowService',
  'temporal.api.operatorservice.v1.OperatorService',
  'temporal.api.testservice.v1.TestService',
]);

/**
 * Decode a HealthCheckRequest (`string service = 1`), skipping any other field.
 * @throws Error when the bytes are not a well-formed message
 */
export function decodeHealthCheckRequest(buf: Buffer): { service: string } {
  let service = '';
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint in HealthCheckRequest');
      const b = buf[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) varint();
    else if (wire === 2) {
      const len = varint();
      if (i + len > buf.length) throw new Error('truncated field in HealthCheckRequest');
      if (field === 1) service = buf.subarray(i, i + len).toString('utf8');
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unsupported wire type ${wire} in HealthCheckRequest`);
  }
  return { service };
}

/** Encode a HealthCheckRequest (for clients of this definition, e.g. tests). */
export function encodeHealthCheckRequest(r: { service: string }): Buffer {
  const s = Buffer.from(r.service, 'utf8');
  if (s.length === 0) return Buffer.alloc(0);
  const len: number[] = [];
  for (let n = s.length; ; n = Math.floor(n / 128)) {
    if (n < 128) {
      len.push(n);
      break;
    }
    len.push((n % 128) | 0x80);
  }
  return Buffer.concat([Buffer.from([0x0a, ...len]), s]);
}

/** Encode a HealthCheckResponse (`ServingStatus status = 1`). */
export function encodeHealthCheckResponse(r: { status: number }): Buffer {
  return r.status === 0 ? Buffer.alloc(0) : Buffer.from([0x08, r.status]);
}

export const healthServiceDefinition: grpc.ServiceDefinition = {
  Check: {
    path: `/${HEALTH_SERVICE}/Check`,
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeHealthCheckRequest,
    requestDeserialize: decodeHealthCheckRequest,
    responseSerialize: encodeHealthCheckResponse,
    responseDeserialize: (b: Buffer) => ({ status: b.length >= 2 ? b[1]! : 0 }),
  },
};

/** The Check handler: SERVING for the Temporal services hosted here, NOT_FOUND for any other name (as grpc-go's health server). */
export function healthServiceImplementation(isServing: () => boolean): grpc.UntypedServiceImplementation {
  return {
    Check: (call: grpc.ServerUnaryCall<{ service: string }, { status: number }>, callback: grpc.sendUnaryData<{ status: number }>) => {
      const name = call.request.service;
      if (!SERVED.has(name)) {
        callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${name}` });
        return;
      }
      callback(null, { status: isServing() ? SERVING_STATUS.SERVING : SERVING_STATUS.NOT_SERVING });
    },
  };
}
