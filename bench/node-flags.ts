import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The Node flags of the npm scripts that run a store (`start`, `sync`, `serve`, `app`), read from package.json. npm
 * scripts cannot share a value on every shell, so each one spells the flags out; this is where the bench (its own
 * local Nango starts as `npm run serve` does) and the test that keeps the four in step read them.
 */

export const STORE_SCRIPTS = ['start', 'sync', 'serve', 'app'] as const;

const LAUNCH = /^node((?: --[\w-]+(?:=\S+)?)*) local-stack\/launch\.mjs /;

/** The flags between `node` and `local-stack/launch.mjs` in one script; throws when the script is not shaped so. */
export function nodeFlagsOf(scripts: Readonly<Record<string, string>>, name: string): string[] {
    const script = scripts[name];
    const match = script === undefined ? null : LAUNCH.exec(script);
    if (!match) {
        throw new Error(
            `package.json's "${name}" script does not start with "node [flags] local-stack/launch.mjs": ${script ?? 'missing'}`
        );
    }
    return (match[1] ?? '').trim().split(' ').filter(Boolean);
}

export function packageScripts(repoRoot: string): Record<string, string> {
    const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    return manifest.scripts ?? {};
}
