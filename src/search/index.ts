export { AuditSink, auditDocument, type AuditDocument, type AuditSinkOptions } from './audit-sink';
