/** Loads spec/vectors/handshake-keys.json for the crypto tests. */
import { readFileSync } from 'node:fs';
import { fromHex } from '../../lib/wire/buffer.js';

export interface KeyVector {
  source: string;
  inputs: Record<string, string | number>;
  outputs: Record<string, string>;
}

const all = JSON.parse(readFileSync(new URL('../../spec/vectors/handshake-keys.json', import.meta.url), 'utf8')) as Record<
  string,
  KeyVector | string
>;

export function vector(name: string): KeyVector {
  const v = all[name];
  if (v === undefined || typeof v === 'string') throw new Error(`no vector named ${name}`);
  return v;
}

export function vectorNames(prefix: string): string[] {
  return Object.keys(all).filter((k) => k.startsWith(prefix));
}

/** An input as bytes (hex strings only). */
export function inHex(v: KeyVector, key: string): Uint8Array {
  const x = v.inputs[key];
  if (typeof x !== 'string') throw new Error(`input ${key} is not hex`);
  return fromHex(x);
}

export function inNum(v: KeyVector, key: string): number {
  const x = v.inputs[key];
  if (typeof x !== 'number') throw new Error(`input ${key} is not a number`);
  return x;
}

export function inStr(v: KeyVector, key: string): string {
  const x = v.inputs[key];
  if (typeof x !== 'string') throw new Error(`input ${key} is not a string`);
  return x;
}

export function outHex(v: KeyVector, key: string): string {
  const x = v.outputs[key];
  if (x === undefined) throw new Error(`output ${key} missing`);
  return x;
}
