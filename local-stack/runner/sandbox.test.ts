import { createHash } from 'node:crypto';

import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { parseReportLine } from '../../nango-integrations/clari-copilot/run-report.js';
import type { NangoSync } from '../../nango-integrations/models.js';
import { ensureBundle } from './build.js';
import { fetchDataFromBundle, loadBundledSync, nangoFacade } from './sandbox.js';

/*
 * The sandbox must reject what Nango's runner rejects and offer what it offers: a bundle that works
 * here and breaks after `nango deploy` is exactly what running the bundle locally is meant to catch.
 */

/** The part of a nango object the probe bundles use; a class, so its methods live on the prototype as on the runner's. */
class RecordingNango {
    readonly lastSyncDate: Date | undefined = undefined;
    readonly logs: string[] = [];
    readonly requests: { endpoint: string; params: unknown }[] = [];
    readonly deleted: string[] = [];
    readonly saved: unknown[] = [];
    metadataReads = 0;
    // What the runner keeps private; the facade must not let a script reach it.
    readonly ctx = { secret: 'runner internals' };

    constructor(private readonly stored: readonly object[] = []) {}

    getMetadata(): Promise<Record<string, unknown>> {
        this.metadataReads++;
        return Promise.resolve({ maxRequestsPerSecond: 1000 });
    }

    log(...args: unknown[]): Promise<void> {
        this.logs.push(typeof args[0] === 'string' ? args[0] : JSON.stringify(args[0]));
        return Promise.resolve();
    }

    get(config: { endpoint: string; params?: unknown }): Promise<{ status: number; headers: Record<string, string>; data: unknown }> {
        this.requests.push({ endpoint: config.endpoint, params: config.params });
        if (config.endpoint === '/call-details') {
            // Thrown the way Nango's proxy throws a non-2xx answer (an AxiosError carrying the response).
            return Promise.reject(
                Object.assign(new Error('Request failed with status code 404'), { response: { status: 404, headers: {}, data: {} } })
            );
        }
        return Promise.resolve({ status: 200, headers: {}, data: { calls: [] } });
    }

    batchSave(records: unknown[]): Promise<boolean> {
        this.saved.push(...records);
        return Promise.resolve(true);
    }

    batchDelete(records: { id: string }[]): Promise<boolean> {
        this.deleted.push(...records.map((record) => record.id));
        return Promise.resolve(true);
    }

    getRecordsByIds(): Promise<Map<string, unknown>> {
        return Promise.resolve(new Map<string, unknown>());
    }

    async *listRecords(): AsyncGenerator<object> {
        await Promise.resolve();
        yield* this.stored;
    }
}

/** The one boundary cast, as in runSync: the fake has the methods a script calls, not NangoSync's internals. */
function asNango(fake: RecordingNango): NangoSync {
    return fake as unknown as NangoSync;
}

/** A CommonJS bundle shaped like `nango compile`'s output, whose default export runs `body`. */
function bundle(body: string, preamble = ''): string {
    return `"use strict";\n${preamble}\nmodule.exports.default = async function fetchData(nango) {\n${body}\n};\n`;
}

interface Failure {
    name: string;
    message: string;
}

/** Errors made inside the context come from its own realm, so `instanceof` cannot identify them. */
function describeError(error: unknown): Failure {
    if (typeof error === 'object' && error !== null && 'name' in error && 'message' in error) {
        return { name: String(error.name), message: String(error.message) };
    }
    return { name: typeof error, message: String(error) };
}

async function failureOf(code: string): Promise<Failure> {
    try {
        await loadBundledSync(code, 'probe.js')(asNango(new RecordingNango()));
    } catch (error) {
        return describeError(error);
    }
    throw new Error('the bundle ran without failing');
}

describe('the compiled calls sync in the sandbox', () => {
    beforeAll(async () => {
        // Fresh after `npm run compile`; built here otherwise, so this file also runs on a clean checkout.
        await ensureBundle({ log: () => undefined });
    }, 120_000);

    it('exports a function that runs a whole reconciliation on the runner-shaped nango', async () => {
        const fetchData = fetchDataFromBundle();
        expect(fetchData).toBeTypeOf('function');

        // Clari lists nothing, the store holds one live call: the first run must read the metadata, list
        // /calls, find listRecords through the facade, list the strip that just left the window, confirm
        // the call is gone (404), and delete it.
        const nango = new RecordingNango([{ id: 'gone-1', _nango_metadata: { deleted_at: null } }]);
        await fetchData(asNango(nango));

        expect(nango.metadataReads).toBe(1);
        expect(nango.requests.map((request) => request.endpoint)).toEqual(['/calls', '/calls', '/call-details']);
        expect(parseReportLine(nango.logs[0] ?? '')).toMatchObject({ type: 'start', run: 'initial' });
        expect(nango.deleted).toEqual(['gone-1']);
        expect(parseReportLine(nango.logs.at(-1) ?? '')).toMatchObject({ type: 'summary', run: 'initial', deletes: 'listRecords' });
    });
});

describe('a shifted clock for tests that span weeks', () => {
    it("gives the script a Date that reads the given clock for now, and is the host's Date otherwise", async () => {
        const nowMs = Date.parse('2027-01-03T00:00:00.000Z');
        const code = bundle(
            `await nango.log(JSON.stringify([Date.now(), new Date().getTime(), new Date(0).toISOString(), new Date(2020, 0, 1) instanceof Date, ` +
                `Date.parse('2026-01-01T00:00:00.000Z'), typeof Date()]));`
        );
        const nango = new RecordingNango();
        await loadBundledSync(code, 'clock.js', { now: () => nowMs })(asNango(nango));
        expect(JSON.parse(nango.logs[0] ?? '[]')).toEqual([
            nowMs,
            nowMs,
            '1970-01-01T00:00:00.000Z',
            true,
            Date.parse('2026-01-01T00:00:00.000Z'),
            'string'
        ]);
        // Without the option the script keeps the real clock.
        const real = new RecordingNango();
        await loadBundledSync(bundle('await nango.log(String(Date.now()));'), 'clock.js')(asNango(real));
        expect(Math.abs(Number(real.logs[0]) - Date.now())).toBeLessThan(60_000);
    });
});

describe('what the sandbox refuses, as Nango does', () => {
    const cases: { uses: string; body: string; expected: Failure }[] = [
        {
            uses: 'clearTimeout',
            body: 'clearTimeout(setTimeout(() => undefined, 10));',
            expected: { name: 'ReferenceError', message: 'clearTimeout is not defined' }
        },
        { uses: 'performance', body: 'performance.now();', expected: { name: 'ReferenceError', message: 'performance is not defined' } },
        {
            uses: 'fetch',
            body: "await fetch('http://127.0.0.1:9/');",
            expected: { name: 'ReferenceError', message: 'fetch is not defined' }
        },
        { uses: 'process', body: 'process.env.HOME;', expected: { name: 'ReferenceError', message: 'process is not defined' } },
        {
            uses: 'setInterval',
            body: 'setInterval(() => undefined, 1000);',
            expected: { name: 'ReferenceError', message: 'setInterval is not defined' }
        },
        {
            uses: 'AbortController',
            body: 'new AbortController();',
            expected: { name: 'ReferenceError', message: 'AbortController is not defined' }
        },
        { uses: "require('fs')", body: "require('fs');", expected: { name: 'Error', message: "Module 'fs' is not allowed" } },
        {
            uses: "require('node:crypto')",
            body: "require('node:crypto');",
            expected: { name: 'Error', message: "Module 'node:crypto' is not allowed" }
        },
        {
            uses: "require('soap') (on Nango's list, not shipped here)",
            body: "require('soap');",
            expected: { name: 'Error', message: "Module 'soap' is not allowed" }
        },
        {
            uses: "eval('1')",
            body: "eval('1');",
            expected: { name: 'EvalError', message: 'Code generation from strings disallowed for this context' }
        },
        {
            uses: 'new Function',
            body: "new Function('return 1')();",
            expected: { name: 'EvalError', message: 'Code generation from strings disallowed for this context' }
        },
        {
            uses: 'the Function constructor reached through an object',
            body: "({}).constructor.constructor('return process')();",
            expected: { name: 'EvalError', message: 'Code generation from strings disallowed for this context' }
        }
    ];
    for (const { uses, body, expected } of cases) {
        it(`fails a bundle that uses ${uses}`, async () => {
            expect(await failureOf(bundle(body))).toEqual(expected);
        });
    }

    it('fails at load time when the bundle requires a refused module at its top, as esbuild output does', () => {
        expect(() => loadBundledSync(bundle('', "var import_fs = require('fs');"), 'probe.js')).toThrow("Module 'fs' is not allowed");
    });

    it('refuses a bundle without a callable default export, saying so', () => {
        expect(() => loadBundledSync('module.exports = { fetchData: 1 };', 'empty.js')).toThrow(
            'empty.js has no callable default export (got undefined)'
        );
    });
});

describe('what the sandbox offers, as Nango does', () => {
    it('runs a bundle that uses zod, crypto, url, Buffer, setTimeout, URL and URLSearchParams', async () => {
        const code = bundle(
            `
            const parsed = z.object({ n: z.number() }).parse({ n: 7 });
            const hash = crypto.createHash('sha256').update('clari').digest('hex');
            const link = new URL('https://api.example.test/calls?limit=100');
            const query = new URLSearchParams({ skip: '200' }).toString();
            const encoded = Buffer.from('copilot').toString('base64');
            const waited = await new Promise((resolve) => setTimeout(() => resolve('waited'), 1));
            await nango.log([parsed.n, hash, link.searchParams.get('limit'), query, encoded, waited, url.format(link)].join(' '));`,
            "const { z } = require('zod');\nconst crypto = require('crypto');\nconst url = require('url');"
        );
        const nango = new RecordingNango();
        await loadBundledSync(code, 'allowed.js')(asNango(nango));
        const hash = createHash('sha256').update('clari').digest('hex');
        expect(nango.logs).toEqual([
            `7 ${hash} 100 skip=200 ${Buffer.from('copilot').toString('base64')} waited https://api.example.test/calls?limit=100`
        ]);
    });

    it('takes module.exports itself when it is the function', async () => {
        const nango = new RecordingNango();
        await loadBundledSync("module.exports = async (nango) => { await nango.log('plain export'); };", 'plain.js')(asNango(nango));
        expect(nango.logs).toEqual(['plain export']);
    });

    it('starts every run from a fresh context, so module state never carries over', async () => {
        const code = bundle('runs++; await nango.log(`run ${runs}`); globalThis.leaked = true;', 'let runs = 0;');
        const fetchData = loadBundledSync(code, 'stateful.js');
        const nango = new RecordingNango();
        await fetchData(asNango(nango));
        await fetchData(asNango(nango));
        expect(nango.logs).toEqual(['run 1', 'run 1']);
        expect('leaked' in globalThis).toBe(false);
    });
});

describe('console in the sandbox', () => {
    afterEach(() => {
        vi.restoreAllMocks();
    });

    it('accepts every console method and prints nothing', async () => {
        const stdout = vi.spyOn(process.stdout, 'write');
        const stderr = vi.spyOn(process.stderr, 'write');
        const hostLog = vi.spyOn(console, 'log');
        const hostError = vi.spyOn(console, 'error');
        const nango = new RecordingNango();
        const code = bundle(
            "console.log('out'); console.error('err'); console.warn('warn'); console.table([1]); console.anything('x'); await nango.log('done');"
        );
        await loadBundledSync(code, 'noisy.js')(asNango(nango));
        expect(nango.logs).toEqual(['done']);
        expect(stdout).not.toHaveBeenCalled();
        expect(stderr).not.toHaveBeenCalled();
        expect(hostLog).not.toHaveBeenCalled();
        expect(hostError).not.toHaveBeenCalled();
    });
});

describe('the nango facade', () => {
    it('hands methods back bound, hides the runner internals, and has no prototype', async () => {
        const fake = new RecordingNango();
        const nango = nangoFacade(fake);
        // Detached on purpose: a script may pass nango's methods around, and the facade binds them.
        // eslint-disable-next-line @typescript-eslint/unbound-method
        const { log } = nango;
        await log('detached');
        expect(fake.logs).toEqual(['detached']);
        // One bound function per method, so identity checks in a script hold.
        expect(Reflect.get(nango, 'log')).toBe(Reflect.get(nango, 'log'));
        expect(Object.getPrototypeOf(nango)).toBeNull();
        expect(nango instanceof RecordingNango).toBe(false);
        expect(() => nango.ctx).toThrow('Access to "ctx" is not allowed.');
        expect('ctx' in nango).toBe(false);
        expect(Object.keys(nango)).not.toContain('ctx');
        expect(typeof nango.listRecords).toBe('function');
    });

    it('is what the bundle receives', async () => {
        const fake = new RecordingNango();
        const code = bundle(
            "await nango.log([Object.getPrototypeOf(nango) === null, typeof nango.listRecords, 'ctx' in nango].join(' '));"
        );
        await loadBundledSync(code, 'facade.js')(asNango(fake));
        expect(fake.logs).toEqual(['true function false']);
    });
});

describe('stack traces', () => {
    it('point at the bundle line that threw', async () => {
        const code = bundle("throw new Error('thrown on line 4');");
        const failure = await loadBundledSync(code, 'lines.js')(asNango(new RecordingNango())).catch((error: unknown) => error);
        expect(String((failure as Error).stack)).toContain('lines.js:4:');
    });
});
