import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // No failure of one stream may take the process down: pipe() does not forward the source's
    // errors, so an aborted or broken source emits an 'error' nobody listens to.
    files: ['src/**/*.ts', 'commands/**/*.ts', 'jobs/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='pipe']",
          message: "Use pipeline() from 'node:stream/promises': .pipe() does not forward errors, and an unhandled 'error' event ends the process.",
        },
      ],
    },
  },
);
