import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

/**
 * The local Nango keeps Nango's direction of dependencies: what is built on it (the dashboard, the CLI)
 * imports it, never the reverse, and each module stays small enough to hold one concern.
 */

const HERE = import.meta.dirname;
const MAX_LINES = 400;

const modules = fs
    .readdirSync(HERE)
    .filter((file) => file.endsWith('.ts'))
    .map((file) => ({ file, text: fs.readFileSync(path.join(HERE, file), 'utf8') }));

describe('nango-server layout', () => {
    it('imports nothing from the dashboard, the CLI or the e2e suite', () => {
        const upward = modules.flatMap(({ file, text }) =>
            [...text.matchAll(/from '(\.\.\/(?:dashboard|cli|e2e)\/[^']*)'/g)].map((match) => `${file}: ${match[1] ?? ''}`)
        );
        expect(upward).toEqual([]);
    });

    it(`has no module over ${MAX_LINES} lines`, () => {
        const long = modules
            .filter(({ file }) => !file.endsWith('.test.ts'))
            .map(({ file, text }) => ({ file, lines: text.split('\n').length - 1 }))
            .filter(({ lines }) => lines > MAX_LINES);
        expect(long).toEqual([]);
    });
});
