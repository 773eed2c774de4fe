import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { misleadingIndentation } from '../../tools/eslint/misleading-indentation.js';

function lint(code: string): string[] {
  const linter = new Linter({ configType: 'flat' });
  const config: Linter.Config[] = [
    {
      files: ['**/*.ts'],
      languageOptions: { parser: tseslint.parser as Linter.Parser },
      plugins: { petrel: { rules: { 'misleading-indentation': misleadingIndentation } } },
      rules: { 'petrel/misleading-indentation': 'error' },
    },
  ];
  return linter.verify(code, config, 'probe.ts').map((m) => `${m.line}:${m.ruleId ?? m.message}`);
}

describe('petrel/misleading-indentation', () => {
  it('flags the old connection.ts:434-435 shape: a statement indented under a one-line if body', () => {
    const code = [
      'function f(a: boolean, s: Set<number>): boolean {',
      '  let credit = false;',
      '  if (a) credit = true;',
      '    s.add(1);',
      '  return credit;',
      '}',
    ].join('\n');
    expect(lint(code)).toEqual(['4:petrel/misleading-indentation']);
  });

  it('flags the same after an else, a for and a while body', () => {
    const code = [
      'function f(a: boolean, s: Set<number>): void {',
      '  if (a) s.add(0);',
      '  else s.add(1);',
      '    s.add(2);',
      '  for (const x of [1]) s.add(x);',
      '    s.add(3);',
      '  while (a) a = false;',
      '    s.add(4);',
      '}',
    ].join('\n');
    expect(lint(code)).toEqual(['4:petrel/misleading-indentation', '6:petrel/misleading-indentation', '8:petrel/misleading-indentation']);
  });

  it('accepts braces, correct indentation and else-if chains', () => {
    const code = [
      'function f(a: boolean, b: boolean, s: Set<number>): void {',
      '  if (a) {',
      '    s.add(1);',
      '  }',
      '  if (a) s.add(2);',
      '  s.add(3);',
      '  if (a) s.add(4);',
      '  else if (b) s.add(5);',
      '  else s.add(6);',
      '  s.add(7);',
      '}',
    ].join('\n');
    expect(lint(code)).toEqual([]);
  });
});
