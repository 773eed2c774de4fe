/** HTTP/3-style request/response layer over Petrel connections, with QPACK header compression. */
export { HttpError, HttpErrorCode, httpErrorName, type HttpErrorName } from './errors.js';
export {
  FrameType,
  StreamType,
  SettingId,
  FrameParser,
  encodeFrame,
  encodeFrameHeader,
  encodeSettingsPayload,
  decodeSettingsPayload,
  encodeGoawayPayload,
  decodeGoawayPayload,
  greaseValue,
  isGrease,
  type FrameEvent,
  type HttpSettings,
} from './frames.js';
export { HttpSession, type HttpSessionOptions, type SessionEvent } from './session.js';
export { RequestStreamParser, type MessageEvent } from './request-stream.js';
export { validateRequestFields, validateResponseFields, validateTrailerFields, type RequestHead, type ResponseHead } from './message.js';
export {
  request,
  serveHttp,
  httpClient,
  fieldsToRecord,
  HttpEndpoint,
  ResponseWriter,
  type RequestOptions,
  type HttpResponse,
  type HttpRequest,
  type RequestHandler,
  type HttpServerHandle,
  type HeadersInput,
  type BodyInput,
  type HttpOptions,
} from './node.js';
export {
  QpackEncoder,
  QpackDecoder,
  parseQif,
  formatQif,
  parseInteropFile,
  writeInteropFile,
  decodeInteropFile,
  encodeInteropFile,
  type QpackEncoderOptions,
  type QpackDecoderOptions,
  type DecodedSection,
  type Field,
  type InteropSettings,
} from './qpack/index.js';
