import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.nx/**', 'e2e/vagrant/**', 'docs/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mjs'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A CLI may use the core library, never another CLI; libraries use libraries only.
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:cli', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:kit', onlyDependOnLibsWithTags: ['type:lib', 'type:kit'] },
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:lib', 'type:kit', 'type:cli'] },
          ],
        },
      ],
    },
  },
  {
    // Tests of tools may use the shared test kit (@ag/fixtures, type:kit). Core's own tests cannot:
    // the kit depends on core, so that would be a cycle.
    files: ['**/*.test.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:cli', onlyDependOnLibsWithTags: ['type:lib', 'type:kit'] },
            { sourceTag: 'type:kit', onlyDependOnLibsWithTags: ['type:lib', 'type:kit'] },
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:lib', 'type:kit', 'type:cli'] },
          ],
        },
      ],
    },
  },
);
