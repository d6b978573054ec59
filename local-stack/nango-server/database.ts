import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { PGlite } from '@electric-sql/pglite';

import { createCheckpointsStore, type CheckpointsStore } from './checkpoints.js';
import { createConnectionsStore, type ConnectionsStore } from './connections.js';
import { createDeploymentsStore, type DeploymentsStore } from './deployments.js';
import { acquireDirLock } from './lock.js';
import { createRecordsStore, type RecordsStore } from './records.js';
import { createRunsStore, failRunsCutShort, type RunsStore } from './runs.js';
import { migrate } from './schema.js';
import { restrictToOwner } from './private-files.js';
import { explainOpenFailure, openDatabase } from './store-folder.js';
import { createWireStore, type WireStore } from './wire.js';

/**
 * The local Nango's one database and its one owner: the process that holds the folder's lock opens the
 * PGlite database, migrates it, and hands each concern its own narrow store over it. Nango splits the
 * same concerns into services (records, persist, shared); here they share the database and nothing else.
 */

export { StoreInUseError } from './lock.js';

export const DEFAULT_STORE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.nango-local');

export interface LocalStore {
    /** The folder holding the database and its lock. */
    readonly dir: string;
    readonly records: RecordsStore;
    readonly connections: ConnectionsStore;
    readonly runs: RunsStore;
    readonly deployments: DeploymentsStore;
    readonly checkpoints: CheckpointsStore;
    readonly wire: WireStore;
    /** Closes the database, then releases the folder to the next owner. */
    close(): Promise<void>;
}

export interface OpenStoreOptions {
    /** Folder holding the database and its lock; default `.nango-local/` at the repo root. */
    dir?: string;
    /** Rows per INSERT statement inside a batch transaction; default DEFAULT_CHUNK_SIZE. */
    chunkSize?: number;
}

/**
 * Postgres in WebAssembly keeps every page of memory it has touched, and one statement holding a page of 100 calls
 * (3 MB of jsonb, parsed, materialised and compressed) touched ~40 MB more than statements of 25 rows, at the same
 * speed: a 5,000-call first sync's local Nango peaked at 288–291 MB instead of 329–331 (bench/README.md).
 */
const DEFAULT_CHUNK_SIZE = 25;

/** The PGlite data folder inside a store's folder. */
const DATA_FOLDER = 'pgdata';

/** Whether a store has been created in `dir`: opening one that has not creates it. */
export function storeExists(dir: string): boolean {
    return existsSync(path.join(dir, DATA_FOLDER));
}

export async function openStore(options: OpenStoreOptions = {}): Promise<LocalStore> {
    const dir = path.resolve(options.dir ?? DEFAULT_STORE_DIR);
    const lock = acquireDirLock(dir);
    let db: PGlite;
    try {
        db = await openDatabase(dir, DATA_FOLDER);
        await migrate(db);
        await failRunsCutShort(db);
        restrictToOwner(dir);
    } catch (err) {
        lock.release();
        throw explainOpenFailure(dir, err);
    }
    const records = createRecordsStore(db, { chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE });
    return {
        dir,
        records,
        connections: createConnectionsStore(db),
        runs: createRunsStore(db),
        deployments: createDeploymentsStore(db),
        checkpoints: createCheckpointsStore(db),
        wire: createWireStore(records),
        async close() {
            try {
                if (!db.closed) {
                    await db.close();
                }
                restrictToOwner(dir);
            } finally {
                lock.release();
            }
        }
    };
}
