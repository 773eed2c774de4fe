/** docs/api.md documents the HTTP layer: every request and HTTP option, and every H3/QPACK error code with its number. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HttpErrorCode } from '../../lib/http/errors.js';
import { members, root } from '../helpers/interface-members.js';

const docs = readFileSync(join(root, 'docs', 'api.md'), 'utf8');

describe('docs/api.md: HTTP', () => {
  for (const [file, name] of [
    ['lib/http/node.ts', 'RequestOptions'],
    ['lib/http/node.ts', 'HttpResponse'],
    ['lib/http/node.ts', 'HttpRequest'],
    ['lib/http/session.ts', 'HttpSessionOptions'],
  ] as const) {
    it(`names every member of ${name}`, () => {
      const names = members(file, name).filter((n) => n !== 'role'); // role is set by request()/serveHttp()
      expect(names.length).toBeGreaterThan(3);
      expect(names.filter((n) => !docs.includes(`\`${n}\``))).toEqual([]);
    });
  }

  it('lists every H3 and QPACK error code by name and number, and the method form of request', () => {
    for (const [n, v] of Object.entries(HttpErrorCode)) expect(docs, n).toContain(`\`${n}\` (0x${v.toString(16)})`);
    expect(docs).toContain('`conn.request(options, body?) → Promise<HttpResponse>`');
  });
});
