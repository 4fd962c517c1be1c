/**
 * Protobuf plumbing for the embedded server: the Temporal API types of the pinned SDK
 * (@temporalio/proto), gRPC service definitions built from them, and small value helpers.
 */
import * as grpc from '@grpc/grpc-js';
import protoRoot from '@temporalio/proto';
import { temporal, google } from '@temporalio/proto';
import type { Method, Type } from 'protobufjs';

export { temporal, google };
export const api = temporal.api;
export const enums = temporal.api.enums.v1;

type Root = { lookupService(name: string): { methods: Record<string, Method> }; lookupType(name: string): Type };
const root = protoRoot as unknown as Root;

/** A unary handler: decoded request in, plain response object (or a thrown ServiceError) out. */
export type UnaryHandler = (request: any, call: grpc.ServerUnaryCall<any, any>) => Promise<object> | object;

/**
 * Build a grpc-js service definition for a Temporal proto service. Requests are decoded to
 * protobufjs message instances; responses may be plain objects (encode accepts them).
 */
export function serviceDefinition(fullName: string): grpc.ServiceDefinition {
  const svc = root.lookupService(fullName);
  const def: Record<string, grpc.MethodDefinition<any, any>> = {};
  for (const [name, method] of Object.entries(svc.methods)) {
    method.resolve();
    const reqType = method.resolvedRequestType as Type;
    const resType = method.resolvedResponseType as Type;
    def[name] = {
      path: `/${fullName}/${name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (v: object) => Buffer.from(reqType.encode(v).finish()),
      requestDeserialize: (b: Buffer) => reqType.decode(b),
      responseSerialize: (v: object) => Buffer.from(resType.encode(v).finish()),
      responseDeserialize: (b: Buffer) => resType.decode(b),
    };
  }
  return def as grpc.ServiceDefinition;
}

/** Names of all methods of a proto service (used to answer UNIMPLEMENTED clearly). */
export function methodNames(fullName: string): string[] {
  return Object.keys(root.lookupService(fullName).methods);
}

export function encodeType(typeName: string, value: object): Uint8Array {
  return root.lookupType(typeName).encode(value).finish();
}
export function decodeType(typeName: string, bytes: Uint8Array): any {
  return root.lookupType(typeName).decode(bytes);
}

/** An int64 from a decoded message (Long, number or null) as a JS number. */
export function num(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  const l = v as { toNumber?: () => number };
  return typeof l.toNumber === 'function' ? l.toNumber() : Number(v);
}

export interface Timestamp { seconds: number; nanos: number }
export interface Duration { seconds: number; nanos: number }

export function tsFromMs(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}
export function msFromTs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number | null {
  if (!t) return null;
  return num(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}
/** Duration message → ms; null when absent. */
export function msFromDuration(d: { seconds?: unknown; nanos?: number | null } | null | undefined): number | null {
  if (!d) return null;
  const ms = num(d.seconds) * 1000 + Math.floor((d.nanos ?? 0) / 1e6);
  return ms;
}
/** Duration message → ms where 0 / absent mean "not set". */
export function optMs(d: { seconds?: unknown; nanos?: number | null } | null | undefined): number | null {
  const ms = msFromDuration(d);
  return ms && ms > 0 ? ms : null;
}
export function durationFromMs(ms: number | null | undefined): Duration {
  const v = ms && ms > 0 ? ms : 0;
  const seconds = Math.floor(v / 1000);
  return { seconds, nanos: Math.round((v - seconds * 1000) * 1e6) };
}

/** A gRPC error with a status code, as the real service returns it. */
export class ServiceError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}
export const invalidArgument = (m: string) => new ServiceError(grpc.status.INVALID_ARGUMENT, m);
export const notFound = (m: string) => new ServiceError(grpc.status.NOT_FOUND, m);
export const alreadyExists = (m: string) => new ServiceError(grpc.status.ALREADY_EXISTS, m);
export const failedPrecondition = (m: string) => new ServiceError(grpc.status.FAILED_PRECONDITION, m);
export const unimplemented = (m: string) => new ServiceError(grpc.status.UNIMPLEMENTED, m);
