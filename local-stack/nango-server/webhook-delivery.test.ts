import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Nango } from '@nangohq/node-current';
import { afterEach, describe, expect, it } from 'vitest';

import { deliverWebhook, displayUrl, serializeSorted, signatureHeaders } from './webhook-delivery.js';

const KEY = 'unit-signing-key';
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
});

/** A receiver answering `statuses` in turn (then 200), recording what it got. */
async function receiver(statuses: number[]): Promise<{ url: string; hits: { raw: string; headers: IncomingHttpHeaders }[] }> {
    const hits: { raw: string; headers: IncomingHttpHeaders }[] = [];
    const server = createServer((request, response) => {
        let raw = '';
        request.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
        request.on('end', () => {
            hits.push({ raw, headers: request.headers });
            response.statusCode = statuses.shift() ?? 200;
            response.end();
        });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(
        () =>
            new Promise((resolve) =>
                server.close(() => {
                    resolve();
                })
            )
    );
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, hits };
}

const body = { type: 'sync', success: true, responseResults: { updated: 2, added: 1, deleted: 0 }, model: 'Call', from: 'nango' };

describe('webhook delivery', () => {
    it('sorts keys at every depth and signs the raw body so that @nangohq/node 0.71 verifies it', async () => {
        const raw = serializeSorted(body);
        expect(raw).toBe(
            '{"from":"nango","model":"Call","responseResults":{"added":1,"deleted":0,"updated":2},"success":true,"type":"sync"}'
        );
        const target = await receiver([]);
        const attempts = await deliverWebhook({ url: target.url, body, signingKey: KEY });
        expect(attempts.map((attempt) => attempt.status)).toEqual([200]);
        const [hit] = target.hits;
        expect(hit?.raw).toBe(raw);
        const nango = new Nango({ apiKey: 'secret', webhookSigningKey: KEY });
        expect(nango.verifyIncomingWebhookRequest(hit?.raw ?? '', hit?.headers ?? {})).toBe(true);
        expect(nango.verifyIncomingWebhookRequest(raw.replace('"added":1', '"added":2'), hit?.headers ?? {})).toBe(false);
        expect(hit?.headers['x-nango-signature']).toBe(signatureHeaders(raw, KEY)['X-Nango-Signature']);
        expect(JSON.stringify(hit?.headers)).not.toContain(KEY);
    });

    it('retries a 5xx twice and stops at the first other answer; a 4xx is final', async () => {
        const flaky = await receiver([500, 503]);
        const retried = await deliverWebhook({ url: flaky.url, body, signingKey: KEY, retryDelaysMs: [10, 20] });
        expect(retried.map((attempt) => attempt.status)).toEqual([500, 503, 200]);
        expect(flaky.hits.map((hit) => hit.raw)).toEqual([flaky.hits[0]?.raw, flaky.hits[0]?.raw, flaky.hits[0]?.raw]);

        const down = await receiver([500, 500, 500, 500]);
        expect((await deliverWebhook({ url: down.url, body, signingKey: KEY, retryDelaysMs: [10, 20] })).length).toBe(3);

        for (const status of [400, 404, 429, 302]) {
            const refusing = await receiver([status]);
            const final = await deliverWebhook({ url: refusing.url, body, signingKey: KEY, retryDelaysMs: [10, 20] });
            expect(final.map((attempt) => attempt.status)).toEqual([status]);
        }
    });

    it('retries a network error, reports it without the request, and never throws', async () => {
        const attempts = await deliverWebhook({ url: 'http://127.0.0.1:9/hook', body, signingKey: KEY, retryDelaysMs: [5, 5] });
        expect(attempts).toHaveLength(3);
        expect(attempts.every((attempt) => attempt.status === null && attempt.error !== null && !attempt.delivered)).toBe(true);
        expect(JSON.stringify(attempts)).not.toContain(KEY);
    });

    it('shows a URL without its user info or query', () => {
        expect(displayUrl('https://user:pass@app.example/hooks/nango?token=abc#x')).toBe('https://app.example/hooks/nango');
    });
});
