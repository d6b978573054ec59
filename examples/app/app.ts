import type { AddressInfo } from 'node:net';

import { Nango } from '@nangohq/node-current';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';

import { CallCopy } from './copy.js';
import { ChangePuller, type PullReport } from './pull.js';

/**
 * A reference app: Nango's sync webhook in, changes pulled from the saved cursor, the calls served from its own
 * copy. Start it with `startReferenceApp` (npm start does, beside the local Nango) or `npm run app`.
 */

export interface ReferenceAppOptions {
    /** Where Nango (or the local Nango) serves the records API. */
    nangoHost: string;
    secretKey: string;
    /** The environment's webhook signing key: what `X-Nango-Hmac-Sha256` is keyed with. */
    webhookSigningKey: string;
    /** Folder of the app's copy; undefined keeps it in memory. */
    dbDir?: string | undefined;
    port?: number | undefined;
    host?: string | undefined;
    log?: ((line: string) => void) | undefined;
    /** Each pull as it ends, with the webhook that caused it; for `npm start`'s one line and for tests. */
    onPulled?: ((pull: { webhook: SyncWebhook; report: PullReport }) => void) | undefined;
}

export interface RunningReferenceApp {
    url: string;
    /** The URL to give Nango as its webhook URL. */
    webhookUrl: string;
    copy: CallCopy;
    /** Resolves once the pulls started so far have ended. */
    idle(): Promise<void>;
    close(): Promise<void>;
}

/** The fields of Nango's sync webhook this app acts on; the rest is passed by. */
const syncWebhookSchema = z.looseObject({
    type: z.literal('sync'),
    connectionId: z.string(),
    providerConfigKey: z.string(),
    model: z.string(),
    success: z.boolean()
});
type SyncWebhook = z.infer<typeof syncWebhookSchema>;

export const WEBHOOK_PATH = '/webhooks/nango';

export function buildReferenceApp(options: ReferenceAppOptions, copy: CallCopy): { app: FastifyInstance; idle: () => Promise<void> } {
    const log =
        options.log ??
        ((line: string) => {
            console.log(line);
        });
    // 0.71 calls the secret key `apiKey` (secretKey is its deprecated alias); the signing key is separate.
    const nango = new Nango({ apiKey: options.secretKey, host: options.nangoHost, webhookSigningKey: options.webhookSigningKey });
    const puller = new ChangePuller(nango, copy);
    const pulls = new Set<Promise<unknown>>();
    const app = Fastify();

    // The signature covers the bytes Nango sent: keep them, and parse only once they are verified.
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
        done(null, body);
    });

    app.post(WEBHOOK_PATH, async (request, reply) => {
        const raw = typeof request.body === 'string' ? request.body : '';
        if (!nango.verifyIncomingWebhookRequest(raw, request.headers)) {
            log(`webhook refused: bad or missing X-Nango-Hmac-Sha256 (from ${request.ip})`);
            return reply.code(401).send({ error: 'invalid signature' });
        }
        const webhook = syncWebhookSchema.safeParse(JSON.parse(raw));
        if (!webhook.success) {
            return reply.code(200).send({ ignored: 'not a sync webhook' });
        }
        const body = webhook.data;
        if (!body.success) {
            log(`webhook: the ${body.model} sync of ${body.connectionId} failed; the copy stays as it is`);
            return reply.code(200).send({ ok: true });
        }
        // Answer at once: Nango waits 20 s at most, and the pull may take longer than that.
        const pull = puller
            .pull({ providerConfigKey: body.providerConfigKey, connectionId: body.connectionId, model: body.model })
            .then(
                (report) => {
                    log(
                        `webhook: pulled ${report.pages} page(s) of ${body.model}: ${report.upserted} saved, ${report.deleted} deleted` +
                            (report.keptOverStubs ? `, ${report.keptOverStubs} pruned stub(s) left the saved copy as it was` : '')
                    );
                    options.onPulled?.({ webhook: body, report });
                },
                (error: unknown) => {
                    // The cursor did not move past what failed: the next webhook pulls it again.
                    log(`webhook: pulling ${body.model} failed (${error instanceof Error ? error.message : String(error)})`);
                }
            )
            .finally(() => pulls.delete(pull));
        pulls.add(pull);
        return reply.code(200).send({ ok: true });
    });

    app.get('/calls/:id', async (request, reply) => {
        const { id } = request.params as { id: string };
        const call = await copy.getCall(id);
        return call ? reply.send(call.data) : reply.code(404).send({ error: `no call ${id} in this app's copy` });
    });

    const searchQuery = z.object({ q: z.string().max(200).default(''), limit: z.coerce.number().int().min(1).max(100).default(20) });
    app.get('/calls', async (request, reply) => {
        const query = searchQuery.safeParse(request.query);
        if (!query.success) {
            return reply.code(400).send({ error: query.error.issues[0]?.message ?? 'bad query' });
        }
        return reply.send({ calls: await copy.search(query.data.q, query.data.limit) });
    });

    return {
        app,
        idle: async () => {
            while (pulls.size > 0) {
                await Promise.all([...pulls]);
            }
        }
    };
}

export async function startReferenceApp(options: ReferenceAppOptions): Promise<RunningReferenceApp> {
    const copy = await CallCopy.open(options.dbDir);
    const { app, idle } = buildReferenceApp(options, copy);
    const host = options.host ?? '127.0.0.1';
    try {
        await app.listen({ port: options.port ?? 0, host });
    } catch (error) {
        await copy.close();
        throw error;
    }
    const { port } = app.server.address() as AddressInfo;
    const url = `http://${host}:${port}`;
    return {
        url,
        webhookUrl: `${url}${WEBHOOK_PATH}`,
        copy,
        idle,
        async close() {
            await app.close();
            await idle();
            await copy.close();
        }
    };
}
