import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { nodeFlagsOf, packageScripts, STORE_SCRIPTS } from './node-flags.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');

describe('the Node flags of the scripts that run a store', () => {
    it('are the same in start, sync, serve and app, keep WebAssembly on the baseline compiler and each GC on its own thread', () => {
        const scripts = packageScripts(REPO_ROOT);
        const flags = STORE_SCRIPTS.map((name) => nodeFlagsOf(scripts, name));
        for (const each of flags) {
            expect(each).toEqual(flags[0]);
        }
        expect(flags[0]).toContain('--liftoff-only');
        expect(flags[0]).toContain('--single-threaded-gc');
    });

    it('refuses a script that does not start Node on the launcher', () => {
        expect(nodeFlagsOf({ serve: 'node --a=1 --b local-stack/launch.mjs x.ts' }, 'serve')).toEqual(['--a=1', '--b']);
        expect(() => nodeFlagsOf({ serve: 'tsx local-stack/cli/serve.ts' }, 'serve')).toThrow(/does not start with/);
        expect(() => nodeFlagsOf({}, 'serve')).toThrow(/missing/);
    });
});
