// Strict lint: type-aware rules, no floating promises, and the dependency
// direction of the layout (protocol → nothing; agent, client → protocol only).
import tseslint from 'typescript-eslint';

const noImport = (patterns, message) => ['error', { patterns: [{ group: patterns, message }] }];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.testbed/**', '.bench/**', 'coverage/**'] },
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': noImport(
        ['../agent/*', '../client/*', '../../agent/*', '../../client/*', 'node:*', 'ws', 'ssh2'],
        'protocol/ depends on nothing of ours and does no I/O (node:crypto-free, no ws/ssh2).',
      ),
    },
  },
  {
    files: ['agent/**/*.ts'],
    rules: { 'no-restricted-imports': noImport(['**/client/*', '**/client/**'], 'agent/ may import protocol/ only, never client/.') },
  },
  {
    files: ['client/**/*.ts'],
    rules: {
      'no-restricted-imports': noImport(['**/agent/*', '**/agent/**'], 'client/ may import protocol/ only (it reads the built agent bundle as a file).'),
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', performance: 'readonly' },
    },
  },
);
