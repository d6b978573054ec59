import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { openStore } from './database.js';
import { restrictToOwner } from './private-files.js';
import { freshDataFolderTemplate, openDatabase, StoreDamagedError } from './store-folder.js';
import { makeTempDir } from './test-helpers.js';

interface Entry {
    path: string;
    kind: 'dir' | 'file';
    mode: string;
}

/** Every folder and file under root (root included), with its permission bits in octal. */
function walk(root: string): Entry[] {
    const stat = fs.lstatSync(root);
    const entry: Entry = { path: root, kind: stat.isDirectory() ? 'dir' : 'file', mode: (stat.mode & 0o777).toString(8) };
    if (!stat.isDirectory()) {
        return [entry];
    }
    return [entry, ...fs.readdirSync(root).flatMap((name) => walk(path.join(root, name)))];
}

function notPrivate(root: string): Entry[] {
    return walk(root).filter((e) => e.mode !== (e.kind === 'dir' ? '700' : '600'));
}

describe.runIf(process.platform !== 'win32')('store folder permissions', () => {
    const tmp = makeTempDir('store-folder-test');

    afterAll(() => {
        tmp.cleanup();
    });

    it('keeps every folder 0700 and every file 0600, PGlite data and WAL included, after open and after writes', async () => {
        // A folder that already exists, readable by all, as a hand-made or older store would be.
        const dir = path.join(tmp.dir, 'store');
        fs.mkdirSync(dir);
        fs.chmodSync(dir, 0o755);

        const store = await openStore({ dir });
        try {
            expect(notPrivate(dir)).toEqual([]);
            await store.connections.upsertConnection({
                connectionId: 'c',
                providerConfigKey: 'clari-copilot',
                provider: 'clari-copilot',
                apiKey: 'key',
                apiPassword: 'password'
            });
            const records = Array.from({ length: 2000 }, (_, i) => ({ id: `r${i}`, body: 'x'.repeat(400) }));
            await store.records.saveRecords('c', 'Call', records, 'e1');
            await store.records.deleteRecords('c', 'Call', ['r1', 'r2'], 'e2');
        } finally {
            await store.close();
        }

        const entries = walk(dir);
        expect(entries.filter((e) => e.kind === 'file').length).toBeGreaterThan(100);
        expect(entries.some((e) => e.kind === 'file' && e.path.includes(`${path.sep}pg_wal${path.sep}`))).toBe(true);
        expect(notPrivate(dir)).toEqual([]);

        // Reopening a store whose files were loosened (copied around, say) tightens them again.
        fs.chmodSync(path.join(dir, 'pgdata', 'PG_VERSION'), 0o644);
        fs.chmodSync(path.join(dir, 'pgdata', 'base'), 0o755);
        const reopened = await openStore({ dir });
        try {
            expect(notPrivate(dir)).toEqual([]);
        } finally {
            await reopened.close();
        }
    });

    it('does not follow symbolic links out of the store', () => {
        const dir = path.join(tmp.dir, 'with-link');
        fs.mkdirSync(dir);
        const outside = path.join(tmp.dir, 'outside.txt');
        fs.writeFileSync(outside, 'not ours');
        fs.chmodSync(outside, 0o644);
        fs.symlinkSync(outside, path.join(dir, 'link'));
        fs.writeFileSync(path.join(dir, 'inside.txt'), 'ours');
        fs.chmodSync(path.join(dir, 'inside.txt'), 0o666);

        restrictToOwner(dir);
        expect((fs.statSync(outside).mode & 0o777).toString(8)).toBe('644');
        expect((fs.statSync(path.join(dir, 'inside.txt')).mode & 0o777).toString(8)).toBe('600');
    });
});

describe('damaged store', () => {
    const tmp = makeTempDir('store-damaged-test');

    afterAll(() => {
        tmp.cleanup();
    });

    const overwrite = (file: string, byte: number): void => {
        fs.writeFileSync(file, Buffer.alloc(Math.max(1, fs.statSync(file).size), byte));
    };
    const damages: [string, (pgdata: string) => void][] = [
        [
            'every data file is garbage',
            (pgdata) => {
                for (const entry of walk(pgdata)) {
                    if (entry.kind === 'file') {
                        overwrite(entry.path, 0x5a);
                    }
                }
            }
        ],
        [
            'the control file is garbage',
            (pgdata) => {
                overwrite(path.join(pgdata, 'global', 'pg_control'), 0x5a);
            }
        ],
        [
            // Postgres starts, then the first query hits the damaged table (SQLSTATE XX001).
            'the tables are garbage',
            (pgdata) => {
                for (const entry of walk(path.join(pgdata, 'base'))) {
                    const name = path.basename(entry.path);
                    // User tables get OIDs from 16384 up; the system catalogs below it are left intact.
                    if (entry.kind === 'file' && /^\d+$/.test(name) && Number(name) >= 16384) {
                        overwrite(entry.path, 0x33);
                    }
                }
            }
        ],
        [
            'the data folder is a file',
            (pgdata) => {
                fs.rmSync(pgdata, { recursive: true });
                fs.writeFileSync(pgdata, 'not a folder');
            }
        ]
    ];

    it.each(damages)('says which folder to remove when %s', async (_label, damage) => {
        const dir = fs.mkdtempSync(path.join(tmp.dir, 'store-'));
        const store = await openStore({ dir });
        await store.records.saveRecords('c', 'Call', [{ id: 'a' }], 'e1');
        await store.close();
        damage(path.join(dir, 'pgdata'));

        const error = await openStore({ dir }).then(
            () => undefined,
            (err: unknown) => err
        );
        expect(error).toBeInstanceOf(StoreDamagedError);
        const message = (error as Error).message;
        expect(message).toContain(`remove the folder ${dir} `);
        expect(message).not.toContain('\n');
        // The failed open let go of the lock: trying again gives the same answer, not "in use".
        await expect(openStore({ dir })).rejects.toBeInstanceOf(StoreDamagedError);
    });
});

describe('the store database', () => {
    const tmp = makeTempDir('store-settings-test');

    afterAll(() => {
        tmp.cleanup();
    });

    it('keeps its Postgres shared memory small, a fresh folder and a reopened one alike', async () => {
        for (let open = 0; open < 2; open++) {
            const db = await openDatabase(tmp.dir, 'pgdata');
            const result = await db.query<{ name: string; setting: string; unit: string }>(
                "SELECT name, setting, unit FROM pg_settings WHERE name IN ('max_connections', 'shared_buffers', 'wal_buffers', 'shared_memory_size') ORDER BY name"
            );
            await db.close();
            // Buffers are counted in 8 kB pages: 8 MB and 1 MB. The total is what Postgres reserves in WASM memory.
            expect(result.rows).toEqual([
                { name: 'max_connections', setting: '5', unit: null },
                { name: 'shared_buffers', setting: '1024', unit: '8kB' },
                { name: 'shared_memory_size', setting: '13', unit: 'MB' },
                { name: 'wal_buffers', setting: '128', unit: '8kB' }
            ]);
        }
    });

    it('starts a new folder as a copy of the template, so that only the first store on a machine runs initdb', async () => {
        const first = await openDatabase(tmp.dir, 'first');
        await first.close();
        const template = freshDataFolderTemplate();
        expect(fs.existsSync(path.join(template, 'PG_VERSION'))).toBe(true);

        // Postgres ignores a file it does not know; finding it in the next new folder shows that folder was copied.
        const marker = `copied-from-template-${process.pid}`;
        fs.writeFileSync(path.join(template, marker), '');
        try {
            const second = await openDatabase(tmp.dir, 'second');
            const { rows } = await second.query<{ answer: number }>('SELECT 41 + 1 AS answer');
            await second.close();
            expect(rows).toEqual([{ answer: 42 }]);
            expect(fs.existsSync(path.join(tmp.dir, 'second', marker))).toBe(true);
            expect(fs.existsSync(path.join(tmp.dir, 'first', marker))).toBe(false);
        } finally {
            fs.rmSync(path.join(template, marker), { force: true });
        }
    });
});
