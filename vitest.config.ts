import { defineConfig } from 'vitest/config';

export default defineConfig({
    test: {
        include: ['nango-integrations/**/*.test.ts', 'local-stack/**/*.test.ts', 'examples/**/*.test.ts', 'bench/**/*.test.ts'],
        testTimeout: 60_000,
        hookTimeout: 60_000,
        // End-to-end suites start servers on fixed ports and child processes; keep files serial on a 2-core box.
        fileParallelism: false
    }
});
