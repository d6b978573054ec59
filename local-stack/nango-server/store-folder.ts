import fs from 'node:fs';
import path from 'node:path';

import { PGlite } from '@electric-sql/pglite';

// The store holds the Clari API key and password: nobody but its owner may read or list it.
const PRIVATE_DIR_MODE = 0o700;
const PRIVATE_FILE_MODE = 0o600;

function ignoreMissing(action: () => void): void {
    try {
        action();
    } catch (err) {
        // Postgres removes and recycles files (WAL segments, temp files) while we walk the tree.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
            throw err;
        }
    }
}

/** Creates the folder (and missing parents) private to its owner, and makes an existing one private. */
export function ensurePrivateDir(dir: string): void {
    fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    fs.chmodSync(dir, PRIVATE_DIR_MODE);
}

/**
 * Makes every folder under `root` (itself included) 0700 and every file 0600. PGlite's file system layer
 * creates its files 0666 whatever the umask, so the modes have to be fixed after the fact; the 0700 root keeps
 * the files created in between out of reach meanwhile. Symbolic links are left alone (chmod would follow them).
 */
export function restrictToOwner(root: string): void {
    const visit = (entry: string): void => {
        ignoreMissing(() => {
            const stat = fs.lstatSync(entry);
            if (stat.isDirectory()) {
                if ((stat.mode & 0o777) !== PRIVATE_DIR_MODE) {
                    fs.chmodSync(entry, PRIVATE_DIR_MODE);
                }
                for (const name of fs.readdirSync(entry)) {
                    visit(path.join(entry, name));
                }
            } else if (stat.isFile() && (stat.mode & 0o777) !== PRIVATE_FILE_MODE) {
                fs.chmodSync(entry, PRIVATE_FILE_MODE);
            }
        });
    };
    visit(root);
}

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
 * PGlite's defaults (128 MB of shared buffers, 4 MB of WAL buffers) live in its WASM memory, which never shrinks.
 * The store's working set is a page of records at a time; 16 MB writes and reads 4,000 27 KB records as fast as
 * 128 MB and keeps about 130 MB less resident (bench/README.md, "Where the memory goes").
 */
const PGLITE_MEMORY_SETTINGS = ['shared_buffers = 16MB', 'wal_buffers = 1MB'];

/** Starts PGlite on `<storeDir>/<dataFolder>`; a failure to start means the data there is not a usable database. */
export async function openDatabase(storeDir: string, dataFolder: string): Promise<PGlite> {
    try {
        const db = new PGlite(path.join(storeDir, dataFolder), { postgresqlconf: PGLITE_MEMORY_SETTINGS });
        await db.waitReady;
        return db;
    } catch (err) {
        throw new StoreDamagedError(storeDir, err);
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
