// ESLint (flat config): eslint's and typescript-eslint's recommended rules on every TypeScript and
// JavaScript file. Formatting is Prettier's business (.prettierrc), so nothing here is about layout.
// Not type-aware (yet): recommendedTypeChecked took 37 s instead of 16 s here, and its findings
// (mostly no-floating-promises on node:test's test()/it() calls, and no-unsafe-* at the untyped
// tfjs-layers boundaries) need a pass of their own.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'data/', 'examples/', 'bench/results/', 'docs/results/'] },
  {
    files: ['**/*.{ts,js}'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: { globals: globals.node },
    rules: {
      // `any` marks the crossings into tfjs-layers internals (inbound nodes, layer configs as plain
      // JSON) that its types do not describe; strict tsc checks everything else.
      '@typescript-eslint/no-explicit-any': 'off',
      // A leading underscore names what is unused on purpose (a callback's position, a field a
      // destructuring leaves out), as the code already does.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // File and member names with control characters are refused: the regex is about exactly those characters.
    files: ['src/api/upload.ts', 'src/io/model-zip.ts'],
    rules: { 'no-control-regex': 'off' },
  },
  {
    // The wasm kernels: LOG2E is written to more digits than a double holds (the value is the
    // nearest double either way), and the slot counters `n++` leave a last increment unread.
    files: ['src/engine/wasm/exp.ts', 'src/engine/wasm/layer-norm.ts'],
    rules: { 'no-loss-of-precision': 'off', 'no-useless-assignment': 'off' },
  },
);
