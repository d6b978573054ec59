import { describe, expect, it } from 'vitest';
import { TokenBucket, parseFaultSpec } from './faults.js';
import { createClariEmulator, startClariEmulator, type ClariEmulator } from './server.js';
import type { StatsSnapshot } from './stats.js';
import { AUTH, request, type CallsPage } from './test-helpers.js';

/** Rate limiting, injected faults, stalls and latency, all configurable at start and through /_control. */

const small = (options: Parameters<typeof createClariEmulator>[0] = {}): ClariEmulator =>
    createClariEmulator({ calls: 80, seed: 5, ...options });

async function burst(emulator: ClariEmulator, count: number, url = '/calls?limit=1'): Promise<{ status: number; retryAfter: unknown }[]> {
    const responses = await Promise.all(Array.from({ length: count }, () => emulator.app.inject({ url, headers: AUTH })));
    return responses.map((response) => ({ status: response.statusCode, retryAfter: response.headers['retry-after'] }));
}

async function statuses(emulator: ClariEmulator, url: string, count: number): Promise<number[]> {
    const result: number[] = [];
    for (let index = 0; index < count; index++) {
        result.push((await request(emulator, url)).status);
    }
    return result;
}

describe('token bucket', () => {
    it('allows one second of burst, then refills at the rate', () => {
        let now = 0;
        const bucket = new TokenBucket({ rate: 10, retryAfter: true }, () => now);
        const first = Array.from({ length: 12 }, () => bucket.take().allowed);
        expect(first.filter(Boolean)).toHaveLength(10);
        expect(bucket.take()).toEqual({ allowed: false, retryAfterSec: 1 });
        now += 100; // one token's worth
        expect(bucket.take().allowed).toBe(true);
        expect(bucket.take().allowed).toBe(false);
        now += 5_000; // never more than capacity
        expect(Array.from({ length: 12 }, () => bucket.take().allowed).filter(Boolean)).toHaveLength(10);
    });

    it('answers 429 beyond the rate, with Retry-After by default and without when configured', async () => {
        const emulator = small({ rate: 10 });
        const results = await burst(emulator, 25);
        const ok = results.filter((result) => result.status === 200).length;
        expect(ok).toBeGreaterThanOrEqual(10);
        expect(ok).toBeLessThanOrEqual(11);
        const limited = results.filter((result) => result.status === 429);
        expect(limited.length).toBe(25 - ok);
        expect(limited.every((result) => result.retryAfter === '1')).toBe(true);
        expect((await request<StatsSnapshot>(emulator, '/_control/stats')).body.rateLimited).toBe(limited.length);

        await request(emulator, '/_control/rate', { method: 'PUT', body: { rate: 5, retryAfter: false } });
        const bare = await burst(emulator, 10);
        expect(bare.filter((result) => result.status === 200).length).toBeLessThanOrEqual(6);
        expect(bare.filter((result) => result.status === 429).every((result) => result.retryAfter === undefined)).toBe(true);
    });

    it('does not limit when rate is 0, and does not spend tokens on unauthenticated requests', async () => {
        const unlimited = small({ rate: 0 });
        expect((await burst(unlimited, 40)).every((result) => result.status === 200)).toBe(true);
        const limited = small({ rate: 3 });
        await Promise.all(Array.from({ length: 5 }, () => limited.app.inject({ url: '/calls' })));
        expect((await burst(limited, 3)).every((result) => result.status === 200)).toBe(true);
    });
});

describe('fault injection', () => {
    it('fails exactly the next N requests of one endpoint, after auth', async () => {
        const emulator = small({ rate: 0 });
        const put = await request(emulator, '/_control/faults', {
            method: 'PUT',
            body: { rules: [{ kind: '503', endpoint: 'calls', count: 2 }] }
        });
        expect(put.status).toBe(200);
        expect((await request(emulator, '/calls', { headers: {} })).status).toBe(401); // auth first: the fault is not spent
        const id = (await request<{ calls: { id: string }[] }>(emulator, '/_control/calls?details=false')).body.calls[0]?.id ?? '';
        expect((await request(emulator, `/call-details?id=${id}`)).status).toBe(200); // other endpoint unaffected
        expect(await statuses(emulator, '/calls', 3)).toEqual([503, 503, 200]);
        const stats = (await request<StatsSnapshot>(emulator, '/_control/stats')).body;
        expect(stats.faultsInjected).toEqual({ total: 2, byKind: { '503': 2 } });
        expect(stats.byStatus).toMatchObject({ '401': 1, '503': 2, '200': 2 });
        expect(stats.byEndpoint).toEqual({ calls: 4, 'call-details': 1, other: 0 });
        const rules = (await request<{ rules: { remaining: number; fired: number }[] }>(emulator, '/_control/faults')).body.rules;
        expect(rules[0]).toMatchObject({ remaining: 0, fired: 2 });
    });

    it('sends 429 faults with or without Retry-After, and 500/502', async () => {
        const emulator = small({
            rate: 0,
            faults: [
                { kind: '429', count: 1 },
                { kind: '429-no-retry-after', count: 1 },
                { kind: '500', count: 1 },
                { kind: '502', count: 1 }
            ]
        });
        const results = await Promise.all([0, 1, 2, 3].map(async () => emulator.app.inject({ url: '/calls', headers: AUTH })));
        expect(results.map((response) => [response.statusCode, response.headers['retry-after']])).toEqual([
            [429, '1'],
            [429, undefined],
            [500, undefined],
            [502, undefined]
        ]);
    });

    it('fails a seeded share of requests by probability, the same way for the same seed', async () => {
        const run = async (): Promise<number[]> =>
            statuses(small({ rate: 0, faults: [{ kind: '500', probability: 0.3 }] }), '/calls?limit=1', 100);
        const first = await run();
        const failures = first.filter((status) => status === 500).length;
        expect(failures).toBeGreaterThan(15);
        expect(failures).toBeLessThan(45);
        expect(await run()).toEqual(first);
    });

    it('answers 502 to /calls pages above the threshold', async () => {
        const emulator = small({ rate: 0, faults: [{ kind: '502-large-pages' }] });
        expect((await request(emulator, '/calls?limit=100')).status).toBe(502);
        expect((await request(emulator, '/calls?limit=51')).status).toBe(502);
        expect((await request(emulator, '/calls?limit=50')).status).toBe(200);
        expect((await request(emulator, '/calls')).status).toBe(200);
        await request(emulator, '/_control/faults', { method: 'PUT', body: { rules: [{ kind: '502-large-pages', threshold: 25 }] } });
        expect((await request(emulator, '/calls?limit=26')).status).toBe(502);
    });

    it('stalls for a while then answers normally; latency applies per endpoint', async () => {
        const emulator = small({ rate: 0, faults: [{ kind: 'stall', endpoint: 'calls', count: 1, stallMs: 150 }] });
        const timed = async (url: string): Promise<[number, number]> => {
            const started = performance.now();
            const response = await request(emulator, url);
            return [response.status, performance.now() - started];
        };
        const [stalledStatus, stalledMs] = await timed('/calls');
        expect(stalledStatus).toBe(200);
        expect(stalledMs).toBeGreaterThanOrEqual(140);
        expect((await timed('/calls'))[1]).toBeLessThan(100);

        await request(emulator, '/_control/latency', { method: 'PUT', body: { details: { minMs: 120, maxMs: 130 } } });
        const id = (await request<{ calls: { id: string }[] }>(emulator, '/_control/calls?details=false')).body.calls[0]?.id ?? '';
        const [detailsStatus, detailsMs] = await timed(`/call-details?id=${id}`);
        expect(detailsStatus).toBe(200);
        expect(detailsMs).toBeGreaterThanOrEqual(115);
        expect((await timed('/calls'))[1]).toBeLessThan(100);
    });

    it('can stall forever until the client gives up, and still closes promptly', async () => {
        const running = await startClariEmulator({ calls: 20, faults: [{ kind: 'stall', stallMs: 'forever' }] });
        try {
            const attempt = fetch(`${running.url}/calls`, { headers: AUTH, signal: AbortSignal.timeout(300) });
            await expect(attempt).rejects.toThrow(/abort|timeout/i);
        } finally {
            const started = performance.now();
            await running.close();
            expect(performance.now() - started).toBeLessThan(1000);
        }
    });

    it('rejects invalid control bodies and parses CLI fault specs', async () => {
        const emulator = small();
        expect((await request(emulator, '/_control/faults', { method: 'PUT', body: { rules: [{ kind: '418' }] } })).status).toBe(400);
        expect((await request(emulator, '/_control/rate', { method: 'PUT', body: { rate: -1 } })).status).toBe(400);
        expect((await request(emulator, '/_control/latency', { method: 'PUT', body: { list: { minMs: 5, maxMs: 1 } } })).status).toBe(400);
        expect(parseFaultSpec('429:0.05')).toEqual({ kind: '429', probability: 0.05 });
        expect(parseFaultSpec('500:3x@calls')).toEqual({ kind: '500', count: 3, endpoint: 'calls' });
        expect(parseFaultSpec('stall:0.01:forever')).toEqual({ kind: 'stall', probability: 0.01, stallMs: 'forever' });
        expect(parseFaultSpec('502-large-pages:25')).toEqual({ kind: '502-large-pages', threshold: 25 });
        expect(parseFaultSpec('429:1.5')).toBeUndefined();
        expect(parseFaultSpec('404:0.1')).toBeUndefined();
        expect(parseFaultSpec('500:0.1@users')).toBeUndefined();
    });
});

describe('faults for one call', () => {
    const detailsStatus = async (emulator: ClariEmulator, id: string): Promise<number> =>
        (await request(emulator, `/call-details?id=${id}`)).status;

    it('fails /call-details for the listed ids every time while every other call loads, and counts it', async () => {
        const emulator = small({ rate: 0 });
        const ids = (await request<{ calls: { id: string }[] }>(emulator, '/_control/calls?details=false&limit=3')).body.calls.map(
            (call) => call.id
        );
        const [stuck = '', other = '', third = ''] = ids;
        const put = await request(emulator, '/_control/faults', {
            method: 'PUT',
            body: { rules: [{ kind: '502', endpoint: 'call-details', callIds: [stuck] }] }
        });
        expect(put.status).toBe(200);
        expect([await detailsStatus(emulator, stuck), await detailsStatus(emulator, stuck), await detailsStatus(emulator, stuck)]).toEqual([
            502, 502, 502
        ]);
        expect(await detailsStatus(emulator, other)).toBe(200);
        expect(await detailsStatus(emulator, third)).toBe(200);
        expect((await request(emulator, '/calls?limit=5')).status).toBe(200); // the listing is not a call-details request
        const stats = (await request<StatsSnapshot>(emulator, '/_control/stats')).body;
        expect(stats.faultsInjected).toEqual({ total: 3, byKind: { '502': 3 } });
        expect(stats.byStatus).toMatchObject({ '502': 3, '200': 3 });
    });

    it('answers 400 with a Clari-like error body, as for a transcript over the ~6 MB cap; count applies per matching id', async () => {
        const emulator = small({ rate: 0 });
        const [big = '', small1 = ''] = (
            await request<{ calls: { id: string }[] }>(emulator, '/_control/calls?details=false&limit=2')
        ).body.calls.map((call) => call.id);
        await request(emulator, '/_control/faults', { method: 'PUT', body: { rules: [{ kind: '400', callIds: [big], count: 2 }] } });
        expect(await detailsStatus(emulator, small1)).toBe(200); // does not spend the count
        const first = await request(emulator, `/call-details?id=${big}`);
        expect(first.status).toBe(400);
        expect(first.body).toEqual({ errorMessage: expect.stringMatching(/payload size/) as unknown });
        expect(await detailsStatus(emulator, big)).toBe(400);
        expect(await detailsStatus(emulator, big)).toBe(200);
        expect((await request<StatsSnapshot>(emulator, '/_control/stats')).body.faultsInjected.byKind).toEqual({ '400': 2 });
    });

    it('rejects callIds on rules that can never match them', async () => {
        const emulator = small();
        for (const rule of [
            { kind: '502', endpoint: 'calls', callIds: ['x'] },
            { kind: 'empty-listing', callIds: ['x'] },
            { kind: '502-large-pages', callIds: ['x'] },
            { kind: 'truncated-page', endpoint: 'call-details' },
            { kind: '502', callIds: [] }
        ]) {
            const response = await request(emulator, '/_control/faults', { method: 'PUT', body: { rules: [rule] } });
            expect(response.status, JSON.stringify(rule)).toBe(400);
        }
    });
});

describe('listing faults', () => {
    it('empty-listing answers 200 with no calls and matched 0 whatever the query, then stops after its count', async () => {
        const emulator = small({ rate: 0, faults: [{ kind: 'empty-listing', count: 2 }] });
        const id = (await request<{ calls: { id: string }[] }>(emulator, '/_control/calls?details=false')).body.calls[0]?.id ?? '';
        for (const url of ['/calls?limit=100&skip=0', '/calls?skip=25&filterTimeGt=2020-01-01T00:00:00Z&includePagination=false']) {
            const response = await request(emulator, url);
            expect(response.status).toBe(200);
            expect(response.body).toEqual({ calls: [], pagination: { matched: 0, hasMore: false } });
        }
        expect((await request(emulator, `/call-details?id=${id}`)).status).toBe(200); // /call-details is never emptied
        const normal = await request<CallsPage>(emulator, '/calls?limit=100');
        expect(normal.body.calls.length).toBeGreaterThan(50);
        const stats = (await request<StatsSnapshot>(emulator, '/_control/stats')).body;
        expect(stats.faultsInjected).toEqual({ total: 2, byKind: { 'empty-listing': 2 } });
        expect(stats.byStatus['200']).toBe(4);
    });

    it('truncated-page answers the real page one row short and without a pagination block', async () => {
        const emulator = small({ rate: 0 });
        const full = (await request<CallsPage>(emulator, '/calls?limit=30&skip=10')).body;
        await request(emulator, '/_control/faults', { method: 'PUT', body: { rules: [{ kind: 'truncated-page', count: 1 }] } });
        const cut = await request<CallsPage>(emulator, '/calls?limit=30&skip=10');
        expect(cut.status).toBe(200);
        expect('pagination' in cut.body).toBe(false);
        expect(cut.body.calls).toEqual(full.calls.slice(0, 29));
        expect((await request<CallsPage>(emulator, '/calls?limit=30&skip=10')).body).toEqual(full);
    });

    it('listing faults follow probability like other rules, the same way for the same seed', async () => {
        const run = async (): Promise<boolean[]> => {
            const emulator = small({ rate: 0, faults: [{ kind: 'truncated-page', probability: 0.3 }] });
            const pages: boolean[] = [];
            for (let index = 0; index < 60; index++) {
                pages.push('pagination' in (await request<CallsPage>(emulator, '/calls?limit=10')).body);
            }
            return pages;
        };
        const first = await run();
        const cut = first.filter((hasPagination) => !hasPagination).length;
        expect(cut).toBeGreaterThan(8);
        expect(cut).toBeLessThan(30);
        expect(await run()).toEqual(first);
    });

    it('parses the new kinds from CLI specs', () => {
        expect(parseFaultSpec('empty-listing:1x')).toEqual({ kind: 'empty-listing', count: 1 });
        expect(parseFaultSpec('truncated-page:0.1')).toEqual({ kind: 'truncated-page', probability: 0.1 });
        expect(parseFaultSpec('400:2x@call-details')).toEqual({ kind: '400', count: 2, endpoint: 'call-details' });
        expect(parseFaultSpec('empty-listing@call-details')).toBeUndefined();
    });
});

describe('stats', () => {
    it('counts requests per endpoint and status, the peak rate, and resets', async () => {
        const emulator = small({ rate: 0 });
        await burst(emulator, 12);
        await request(emulator, '/call-details?id=missing');
        const stats = (await request<StatsSnapshot>(emulator, '/_control/stats')).body;
        expect(stats.total).toBe(13);
        expect(stats.byStatus).toEqual({ '200': 12, '404': 1 });
        expect(stats.maxObservedRps).toBeGreaterThanOrEqual(12);
        const reset = (await request<StatsSnapshot>(emulator, '/_control/stats/reset', { method: 'POST' })).body;
        expect(reset.total).toBe(0);
    });
});
