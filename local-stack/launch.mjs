// @ts-check
/**
 * Runs one of the local stack's TypeScript entry points as plain JavaScript:
 *
 *   node --liftoff-only local-stack/launch.mjs local-stack/cli/start.ts [its arguments…]
 *
 * It bundles the entry and the store's worker thread with esbuild into local-stack/.build/ (packages stay in
 * node_modules), then imports the bundle in this same process. tsx compiled each file on load instead, in a
 * parent process of its own plus a loader in every thread: about 140 MB of a local Nango's 420 at 5,000 calls
 * (bench/README.md, "Where the memory goes"). Bundling takes a fraction of a second, so every start runs the
 * sources as they are now. Tests import the sources directly; this file is only for processes users start.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import * as esbuild from 'esbuild';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
/**
 * Two levels below the repository, as the sources are: the code that finds files from its own location
 * (`import.meta.dirname` + '../..') finds the same ones from here.
 */
const BUILD_DIR = path.join(REPO_ROOT, 'local-stack', '.build');
/** openStoreInThread starts this bundle, beside its own, when it runs from a bundle. */
const STORE_WORKER = path.join(REPO_ROOT, 'local-stack', 'nango-server', 'store-worker.ts');

/**
 * Bundles `entry` (a path from the repository's root) and the store's worker; returns the entry's bundle.
 * Several processes may launch at once: each writes its files under a name of its own and renames them into
 * place, so a reader never sees half a file and every writer writes the same bytes.
 *
 * @param {string} entry
 * @returns {Promise<string>}
 */
async function bundleEntry(entry) {
    const name = path.basename(entry, path.extname(entry));
    const result = await esbuild.build({
        entryPoints: { [name]: path.resolve(REPO_ROOT, entry), 'store-worker': STORE_WORKER },
        outdir: BUILD_DIR,
        outExtension: { '.js': '.mjs' },
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        // A dynamic import() becomes a file of its own, loaded (with the packages it imports) only when reached:
        // npm start keeps what it runs after the deploy out of memory while the deploy CLI runs.
        splitting: true,
        chunkNames: '[name]-[hash]',
        sourcemap: 'linked',
        write: false,
        logLevel: 'error'
    });
    // The build service is a process of its own; nothing else is bundled in this process.
    await esbuild.stop();
    mkdirSync(BUILD_DIR, { recursive: true });
    for (const file of result.outputFiles) {
        const temporary = `${file.path}.${process.pid}.tmp`;
        writeFileSync(temporary, file.contents);
        renameSync(temporary, file.path);
    }
    removeStaleChunks(new Set(result.outputFiles.map((file) => file.path)));
    return path.join(BUILD_DIR, `${name}.mjs`);
}

/** A chunk's name carries its content's hash, so every change to the sources leaves the previous chunks behind. */
const CHUNK_FILE = /-[A-Z0-9]{8}\.mjs(\.map)?$/;
/** Old enough that no launch still running from an earlier build loads it. */
const STALE_AFTER_MS = 60 * 60_000;

/** @param {Set<string>} written */
function removeStaleChunks(written) {
    for (const entry of readdirSync(BUILD_DIR)) {
        const file = path.join(BUILD_DIR, entry);
        if (!CHUNK_FILE.test(entry) || written.has(file)) {
            continue;
        }
        try {
            if (Date.now() - statSync(file).mtimeMs > STALE_AFTER_MS) {
                rmSync(file, { force: true });
            }
        } catch {
            // Another launch removed it first.
        }
    }
}

const entry = process.argv[2];
if (entry === undefined) {
    console.error('usage: node local-stack/launch.mjs <entry.ts> [arguments…]');
    process.exit(2);
}
const bundle = await bundleEntry(entry);
// The entry reads its own arguments from process.argv.slice(2), as it did when started directly.
process.argv.splice(2, 1);
process.setSourceMapsEnabled(true);
await import(pathToFileURL(bundle).href);
