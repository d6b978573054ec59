import { createHash, randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

import type { PGlite, PGliteOptions } from '@electric-sql/pglite';

/** The store folder exists but its database cannot be opened: damaged, half deleted, or not a PGlite data folder. */
export class StoreDamagedError extends Error {
    constructor(
        readonly dir: string,
        cause: unknown
    ) {
        super(
            `the store in ${dir} cannot be opened, its database is damaged or incomplete (${describeCause(cause)}); ` +
                `remove the folder ${dir} and sync again to rebuild it`,
            { cause }
        );
        this.name = 'StoreDamagedError';
    }
}

function describeCause(cause: unknown): string {
    if (cause instanceof Error) {
        // Emscripten's abort message only suggests rebuilding PGlite, which is no help here.
        return cause.message.startsWith('Aborted(') ? 'PGlite aborted while reading it' : (cause.message.split('\n')[0] ?? cause.name);
    }
    // Emscripten's file system throws plain ErrnoError objects with a numeric errno and no message.
    const errno = (cause as { errno?: unknown } | null)?.errno;
    return typeof errno === 'number' ? `file system error ${errno}` : String(cause);
}

/**
 * Postgres's shared memory lives in PGlite's WASM memory, which never shrinks, and PGlite's defaults size it for a
 * server: 128 MB of shared buffers, 4 MB of WAL buffers, lock and process tables for 100 connections. PGlite serves
 * one connection, and the store's working set is a page of records at a time. With 8 MB of buffers and tables for 5
 * connections the shared memory is 13 MB instead of 150; a first sync of 5,000 calls writes as fast, and the local
 * Nango peaks ~10 MB lower than with 16 MB and 100 (bench/README.md, "Where the memory goes").
 */
const PGLITE_MEMORY_SETTINGS = ['shared_buffers = 8MB', 'wal_buffers = 1MB', 'max_connections = 5'];

/**
 * Starts PGlite on `<storeDir>/<dataFolder>`; a failure to start means the data there is not a usable database.
 * The npm scripts that run a store start Node with `--liftoff-only`: V8 optimising PGlite's largest WebAssembly
 * functions holds hundreds of MB for a moment (on Node 24 a sync's local Nango peaked at ~770 MB instead of ~520),
 * and the baseline code writes a page of records at most a fifth slower (bench/README.md, "Where the memory goes").
 */
export async function openDatabase(storeDir: string, dataFolder: string): Promise<PGlite> {
    const dataDir = path.join(storeDir, dataFolder);
    if (!existsSync(dataDir)) {
        await copyFreshDataFolder(dataDir);
    }
    try {
        return await startPGlite(dataDir);
    } catch (err) {
        throw new StoreDamagedError(storeDir, err);
    }
}

async function startPGlite(dataDir: string): Promise<PGlite> {
    // Loaded here, not at the top: the module alone is tens of MB, and the processes and threads that only talk
    // to a store (the server beside its store thread, a runner) import this file for its error class.
    const { PGlite: PGliteDatabase } = await import('@electric-sql/pglite');
    const options: PGliteOptions = { postgresqlconf: PGLITE_MEMORY_SETTINGS };
    const db = new PGliteDatabase(dataDir, options);
    await db.waitReady;
    return db;
}

/** Two levels up from here, as from local-stack/.build/ when bundled. */
const NODE_MODULES = path.resolve(import.meta.dirname, '../../node_modules');

/**
 * Where the data folder that every new store copies lives: one per PGlite version and settings, in
 * node_modules/.cache, which `npm ci` clears with the rest.
 */
export function freshDataFolderTemplate(): string {
    const pgliteManifest = path.join(NODE_MODULES, '@electric-sql', 'pglite', 'package.json');
    const { version } = JSON.parse(readFileSync(pgliteManifest, 'utf8')) as { version: string };
    const settings = createHash('sha256').update(PGLITE_MEMORY_SETTINGS.join('\n')).digest('hex').slice(0, 12);
    return path.join(NODE_MODULES, '.cache', 'clari-local-stack', `pgdata-pglite-${version}-${settings}`);
}

/**
 * A new data folder costs PGlite an initdb: 4–5 s, and hundreds of MB that stay with the process. A copy of one
 * made earlier costs half a second, so the first store on a machine makes the template and every later one (each
 * test's, the bench's, a store deleted to start over) copies it. Any trouble with the template leaves `dataDir`
 * absent, and PGlite then runs initdb there as before.
 */
export async function copyFreshDataFolder(dataDir: string): Promise<void> {
    try {
        const template = freshDataFolderTemplate();
        if (!existsSync(template)) {
            // Made under a name of its own and renamed into place: processes that start together each make one,
            // the first rename wins, and no reader ever sees half a template.
            const making = `${template}.${randomUUID()}.tmp`;
            mkdirSync(path.dirname(template), { recursive: true });
            try {
                const db = await startPGlite(making);
                await db.close();
                renameSync(making, template);
            } catch (err) {
                if (!existsSync(template)) {
                    throw err;
                }
            } finally {
                rmSync(making, { recursive: true, force: true });
            }
        }
        cpSync(template, dataDir, { recursive: true });
    } catch {
        rmSync(dataDir, { recursive: true, force: true });
    }
}

/**
 * Postgres reports damaged data files as SQLSTATE class XX (data_corrupted, index_corrupted...) and missing or
 * unreadable ones as class 58 (undefined_file, io_error); either while opening means the store is damaged.
 * Other errors (a bug in a migration, say) pass through unchanged.
 */
export function explainOpenFailure(storeDir: string, err: unknown): unknown {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && /^(XX|58)[0-9A-Z]{3}$/.test(code)) {
        return new StoreDamagedError(storeDir, err);
    }
    return err;
}
