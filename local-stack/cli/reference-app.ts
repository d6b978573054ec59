import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startReferenceApp, WEBHOOK_PATH, type RunningReferenceApp } from '../../examples/app/app.js';
import { copyFreshDataFolder } from '../nango-server/store-folder.js';
import type { WebhookSettings } from '../nango-server/sync-webhooks.js';
import { webhookSettingsFromEnv, type LocalEnv } from './config.js';

/**
 * `npm start`'s reference app (examples/app): started before the local Nango so that the first sync's webhook
 * has somewhere to go, wired as its webhook URL, and shown serving a call from its own copy once it has pulled.
 */

export interface AppBeside {
    app: RunningReferenceApp;
    webhooks: WebhookSettings | undefined;
    /** Waits (a while at most) for the app's first pull, then prints a call it serves from its own copy. */
    showFirstPull(): Promise<void>;
}

const FIRST_PULL_WAIT_MS = 60_000;

export async function startAppBeside(env: LocalEnv): Promise<AppBeside> {
    let pulled = (): void => undefined;
    const firstPull = new Promise<void>((resolve) => {
        pulled = resolve;
    });
    // The app's address is known before it listens, so the signing key exists before its Nango client does.
    const settings = webhookSettingsFromEnv(
        env,
        (line) => {
            console.log(line);
        },
        `http://127.0.0.1:${env.REFERENCE_APP_PORT}${WEBHOOK_PATH}`
    );
    // The copy lasts one session, as an in-memory database would; a folder copied from the stores' template spares
    // it the initdb an in-memory PGlite runs on every start (4-5 s, and hundreds of MB kept by this process).
    const copyFolder = mkdtempSync(path.join(os.tmpdir(), 'clari-reference-app-'));
    process.once('exit', () => {
        rmSync(copyFolder, { recursive: true, force: true });
    });
    const dbDir = path.join(copyFolder, 'pgdata');
    await copyFreshDataFolder(dbDir);
    const app = await startReferenceApp({
        dbDir,
        nangoHost: `http://127.0.0.1:${env.NANGO_LOCAL_PORT}`,
        secretKey: env.NANGO_SECRET_KEY_DEV,
        webhookSigningKey: settings?.signingKey ?? '',
        port: env.REFERENCE_APP_PORT,
        log: (line) => {
            console.log(`app: ${line}`);
        },
        onPulled: () => {
            pulled();
        }
    });
    console.log(`Reference app (examples/app) on ${app.url}, receiving the sync webhooks at ${app.webhookUrl}.`);
    return {
        app,
        webhooks: settings,
        async showFirstPull() {
            const waited = await Promise.race([
                firstPull.then(() => true),
                new Promise<false>((resolve) => {
                    setTimeout(() => {
                        resolve(false);
                    }, FIRST_PULL_WAIT_MS).unref();
                })
            ]);
            if (!waited) {
                console.log('app: no sync webhook has arrived yet (see the run page on the dashboard for its attempts).');
                return;
            }
            const found = (await (await fetch(`${app.url}/calls?limit=1`)).json()) as { calls: { id: string; title: string | null }[] };
            const call = found.calls[0];
            const count = await app.copy.count();
            console.log(
                call
                    ? `app: its own copy holds ${count} calls; GET ${app.url}/calls/${call.id} serves "${call.title ?? '(untitled)'}" from it.`
                    : 'app: its copy is empty (the first sync saved no calls).'
            );
        }
    };
}
