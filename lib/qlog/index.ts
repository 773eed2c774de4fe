/** qlog output (qlog 0.3, JSON-SEQ) for Petrel connections: event builders, writer, schema validator, core adapter. */
export * from './events.js';
export { QlogWriter, qlogFileName } from './writer.js';
export type { QlogHeader, QlogSink, QlogVantagePoint, QlogWriterOptions } from './writer.js';
export { EVENT_SCHEMAS, FRAME_SCHEMAS, QLOG_EVENT_NAMES, parseJsonSeq, validateQlogHeader, validateQlogRecord, validateQlogText } from './schema.js';
export type { ObjectSchema, QlogFileReport, SchemaNode, ValidateOptions } from './schema.js';
export { DROP_TRIGGERS, createConnectionQlog, createQlogTrace, qlogConnectionCode, qlogPacketType, qlogTraceFor, toQlogFrame } from './adapter.js';
export type {
  CoreAddress,
  CoreCongestionState,
  CoreConnectionState,
  CoreFrame,
  CoreSentFrame,
  CoreSpace,
  CoreTraceEvents,
  CoreTraceName,
  QlogTraceFn,
  QlogTraceOptions,
} from './adapter.js';
