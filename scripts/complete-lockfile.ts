/*
 * Adds lockfile entries for rollup's platform binaries that `npm install` left out.
 *
 * On a registry mirror that lacks other platforms' binaries (this project's build machines have one),
 * `npm install` silently drops those optional packages from package-lock.json, and `npm ci` then
 * refuses the lockfile as out of sync. The entries added here carry `os`/`cpu`/`libc`, so npm skips
 * them on every other platform and fetches the right one by version where it applies.
 * Run after any `npm install` that rewrites the lockfile: npx tsx scripts/complete-lockfile.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const lockPath = path.resolve(import.meta.dirname, '../package-lock.json');
const entrySchema = z.object({ dev: z.boolean().optional(), optionalDependencies: z.record(z.string(), z.string()).optional() });
const lockSchema = z.object({ packages: z.record(z.string(), z.unknown()) });

const raw: unknown = JSON.parse(readFileSync(lockPath, 'utf8'));
// Validated, then edited in place: re-serialising zod's output would reorder every entry's keys.
lockSchema.parse(raw);
const { packages } = raw as z.infer<typeof lockSchema>;
const added: string[] = [];
for (const [location, value] of Object.entries(packages)) {
    const entry = entrySchema.parse(value);
    for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
        const platform = /^@rollup\/rollup-([a-z0-9]+)-([a-z0-9]+)(?:-([a-z]+))?$/.exec(name);
        if (!platform || packages[`node_modules/${name}`] || packages[`${location}/node_modules/${name}`]) {
            continue;
        }
        const [, os = '', cpu = '', abi] = platform;
        packages[`node_modules/${name}`] = {
            version,
            ...(entry.dev ? { dev: true } : {}),
            cpu: [cpu],
            ...(os === 'linux' && abi ? { libc: [abi === 'musl' ? 'musl' : 'glibc'] } : {}),
            optional: true,
            os: [os]
        };
        added.push(name);
    }
}
// Appended rather than sorted in: npm reads them in any order and rewrites the file on its next install.
writeFileSync(lockPath, `${JSON.stringify(raw, null, 2)}\n`);
console.log(
    added.length > 0 ? `package-lock.json: added ${added.length} platform entries (${added.join(', ')})` : 'package-lock.json: complete'
);
