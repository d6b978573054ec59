import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
    {
        ignores: [
            'node_modules/**',
            'nango-integrations/dist/**',
            'nango-integrations/.nango/**',
            'nango-integrations/models.ts',
            '.nango-local/**',
            '.reference-app/**',
            'local-stack/.build/**'
        ]
    },
    js.configs.recommended,
    ...tseslint.configs.strictTypeChecked,
    {
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
        },
        rules: {
            '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
            '@typescript-eslint/no-unused-vars': [
                'error',
                { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }
            ]
        }
    },
    { files: ['**/*.js'], extends: [tseslint.configs.disableTypeChecked] },
    // The launcher is JavaScript that tsc checks (checkJs), which already refuses an undefined name.
    { files: ['local-stack/*.mjs'], rules: { 'no-undef': 'off' } },
    {
        // The dashboard's one browser script, served as it is (no build step).
        files: ['local-stack/dashboard/assets/**/*.js'],
        languageOptions: {
            sourceType: 'script',
            globals: { document: 'readonly', location: 'readonly', fetch: 'readonly', setTimeout: 'readonly', URL: 'readonly' }
        }
    }
);
