// ESLint (flat config): the recommended rules of ESLint and typescript-eslint over the sources and
// tests. `npm run lint` runs it, and CI runs it; formatting is Prettier's (`npm run format:check`).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'docs/', 'runs/', '.scratch/', 'benchmarks/perf/*.py'] },
  js.configs.recommended,
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } } },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        Buffer: 'readonly',
        console: 'readonly',
        setImmediate: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        performance: 'readonly',
        structuredClone: 'readonly',
        SharedArrayBuffer: 'readonly',
        Atomics: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
        AbortController: 'readonly',
        NodeJS: 'readonly',
      },
    },
    rules: {
      // Unused names are errors, except ones named to be ignored (`_x`), as in destructuring that drops a field.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      // Registries of heterogeneous agent factories are typed `any` on purpose (agents/registry.ts).
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
  {
    // The error contract (core/errors.ts): what a user's input, config, file, environment variable
    // or agent can cause is a ProrecError with a kind (ConfigError, ContractError, UsageError, ...:
    // exit 2 or 1 with a message naming the field); a condition only a bug can break is an
    // `invariant()` (an InternalError, with its stack). No bare `throw new Error` in these folders.
    files: ['agents/**/*.ts', 'envs/**/*.ts', 'benchmarks/**/*.ts', 'simulators/**/*.ts', 'data/**/*.ts', 'results/**/*.ts', 'reports/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ThrowStatement > :matches(NewExpression, CallExpression)[callee.name=/^(Error|TypeError|RangeError)$/]',
          message:
            'Throw a typed error (a ProrecError kind from core/errors.ts: ConfigError, ContractError, UsageError, RunFailure, ...) for what a user can cause, or use invariant() for a bug check.',
        },
      ],
    },
  },
);
