import { describe, expect, it } from 'vitest';
import { TokenBucket, parseFaultSpec } from './faults.js';
import { createClariEmulator, startClariEmulator, type ClariEmulator } from './server.js';
import type { StatsSnapshot } from './stats.js';
import { AUTH, request } from './test-helpers.js';

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
