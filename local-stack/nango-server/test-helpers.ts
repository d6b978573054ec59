import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { LocalStore } from './database.js';

export function makeTempDir(prefix: string): { dir: string; cleanup: () => void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
    return {
        dir,
        cleanup: () => {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    };
}

export function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The live (not deleted) records among `ids`, as saved: their data without `_nango_metadata`. */
export async function liveRecords(
    store: LocalStore,
    connectionId: string,
    model: string,
    ids: string[]
): Promise<Map<string, Record<string, unknown>>> {
    const { records } = await store.records.listRecords({ connectionId, model, ids, limit: 1000 });
    return new Map(
        records
            .filter((record) => record._nango_metadata.deleted_at === null)
            .map(({ _nango_metadata: _metadata, ...data }) => [data.id, data])
    );
}
