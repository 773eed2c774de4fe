// Lint configuration (typescript-eslint, type-aware). Why these rules and not a preset: docs/architecture.md §Linting.
import tseslint from 'typescript-eslint';
import { misleadingIndentation } from './tools/eslint/misleading-indentation.js';

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', '.0x/**', 'coverage/**', '.mutants/**', '**/*.js', '**/*.mjs', '**/*.cjs'],
  },
  {
    files: ['lib/**/*.ts', 'tools/**/*.ts', 'test/**/*.ts', 'examples/**/*.ts', 'conformance/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: {
      '@typescript-eslint': tseslint.plugin,
      petrel: { rules: { 'misleading-indentation': misleadingIndentation } },
    },
    rules: {
      // A promise nobody awaits loses its rejection: an unhandled error in the driver (void it on purpose).
      '@typescript-eslint/no-floating-promises': 'error',
      // Unused code: dead variables, imports and parameters (prefix with _ when a signature needs one).
      '@typescript-eslint/no-unused-vars': ['error', { args: 'after-used', argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // No `any` in lib/ (public types stay typed); tests and tools get the same rule.
      '@typescript-eslint/no-explicit-any': 'error',
      // Braces for every multi-line body; one-line bodies may go without.
      curly: ['error', 'multi-line'],
      'petrel/misleading-indentation': 'error',
      'no-unreachable': 'error',
      // Grouped empty cases (a comment between them) are not a fallthrough.
      'no-fallthrough': ['error', { allowEmptyCase: true }],
      'no-self-assign': 'error',
      'no-dupe-else-if': 'error',
    },
  },
);
