/**
 * HTTP message checks on decoded field sections (RFC 9114 §4.2–4.3): pseudo-header fields first, only the ones
 * defined for requests or responses, each at most once, the mandatory ones present; field names lowercase with no
 * connection-specific fields. A malformed message is H3_MESSAGE_ERROR.
 */
import { HttpError } from './errors.js';
import type { Field } from './qpack/decoder.js';

export interface RequestHead {
  method: string;
  scheme: string;
  authority: string;
  path: string;
  /** Regular fields, in order. */
  headers: Field[];
}

export interface ResponseHead {
  status: number;
  headers: Field[];
}

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path']);

function bad(msg: string): never {
  throw new HttpError('H3_MESSAGE_ERROR', msg);
}

/** Checks a regular field line (also used for what the application passes in). */
export function checkRegularField(name: string, value: string): void {
  if (name.length === 0) bad('empty field name');
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || (c >= 0x41 && c <= 0x5a) || c === 0x3a) bad(`invalid field name ${JSON.stringify(name)}`);
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) bad(`invalid character in the value of ${name}`);
  }
  if (CONNECTION_SPECIFIC.has(name)) bad(`connection-specific field ${name}`);
  if (name === 'te' && value !== 'trailers') bad('te other than "trailers"');
}

function split(fields: ReadonlyArray<Field>, allowed: Set<string>): { pseudo: Map<string, string>; headers: Field[] } {
  const pseudo = new Map<string, string>();
  const headers: Field[] = [];
  for (const [name, value] of fields) {
    if (name.startsWith(':')) {
      if (headers.length > 0) bad(`pseudo-header ${name} after a regular field`);
      if (!allowed.has(name)) bad(`pseudo-header ${name} not allowed here`);
      if (pseudo.has(name)) bad(`duplicate ${name}`);
      pseudo.set(name, value);
    } else {
      checkRegularField(name, value);
      headers.push([name, value]);
    }
  }
  return { pseudo, headers };
}

export function validateRequestFields(fields: ReadonlyArray<Field>): RequestHead {
  const { pseudo, headers } = split(fields, REQUEST_PSEUDO);
  const method = pseudo.get(':method');
  if (method === undefined || method === '') bad('request without :method');
  if (method === 'CONNECT') {
    if (pseudo.has(':scheme') || pseudo.has(':path') || !pseudo.get(':authority')) bad('malformed CONNECT request');
    return { method, scheme: '', authority: pseudo.get(':authority')!, path: '', headers };
  }
  const scheme = pseudo.get(':scheme');
  const path = pseudo.get(':path');
  if (!scheme) bad('request without :scheme');
  if (!path) bad('request without :path');
  return { method, scheme, authority: pseudo.get(':authority') ?? '', path, headers };
}

export function validateResponseFields(fields: ReadonlyArray<Field>): ResponseHead {
  const { pseudo, headers } = split(fields, new Set([':status']));
  const s = pseudo.get(':status');
  if (s === undefined || !/^[1-5][0-9][0-9]$/.test(s)) bad('response without a valid :status');
  return { status: Number(s), headers };
}

export function validateTrailerFields(fields: ReadonlyArray<Field>): Field[] {
  return split(fields, new Set()).headers;
}
