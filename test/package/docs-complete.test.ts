/**
 * docs/api.md names every option a user can pass (the public option interfaces and the core's ConnectionOptions,
 * read from their source so a new option cannot go undocumented) and every transport close code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TransportErrorCode } from '../../lib/errors.js';
import { HANDSHAKE_ALERTS } from '../../lib/crypto/handshake/errors.js';
import { members, root } from '../helpers/interface-members.js';

const docs = readFileSync(join(root, 'docs', 'api.md'), 'utf8');

describe('docs/api.md is complete', () => {
  const cases: Array<[string, string]> = [
    ['lib/api/options.ts', 'TransportOptions'],
    ['lib/api/options.ts', 'ListenOptions'],
    ['lib/api/options.ts', 'ConnectOptions'],
    ['lib/connection/types.ts', 'ConnectionOptions'],
  ];
  for (const [file, name] of cases) {
    it(`names every ${name} option`, () => {
      const names = members(file, name);
      expect(names.length).toBeGreaterThan(5);
      expect(names.filter((n) => !docs.includes(`\`${n}\``))).toEqual([]);
    });
  }

  it('lists every transport error code by name and number, and every handshake reason', () => {
    const missing: string[] = [];
    for (const [n, v] of Object.entries(TransportErrorCode)) {
      const hex = `0x${v.toString(16).padStart(v >= 0x100 ? 4 : 2, '0')}`;
      if (!docs.includes(`\`${n}\``) || !docs.includes(hex)) missing.push(`${n} (${hex})`);
    }
    for (const [reason, alert] of Object.entries(HANDSHAKE_ALERTS)) {
      const hex = `0x${(0x100 + alert).toString(16).padStart(4, '0')}`;
      if (!docs.includes(`${hex} \`${reason}\``) && !new RegExp(`${hex} \`[A-Z_]+\` / \`${reason}\``).test(docs)) missing.push(`${reason} (${hex})`);
    }
    expect(missing).toEqual([]);
  });

  it('documents isPetrelError', () => {
    expect(docs).toContain('isPetrelError(err');
  });
});
