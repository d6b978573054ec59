import { parseArgs } from 'node:util';
import { dashboard } from '../dashboard/index.js';
import { openStoreInThread, startNangoServer } from '../nango-server/index.js';
import {
    autoPruneFromEnv,
    CLARI_API_URL,
    ConfigError,
    loadDotEnv,
    readEnv,
    realClariTarget,
    runTimeoutMs,
    webhookSettingsFromEnv
} from './config.js';
import { deployedSyncRunner } from '../runner/deployed-runner.js';
import { handOverLine } from '../runner/run-chain.js';
import { refuseIfAlreadyRunning } from './already-running.js';
import { describeFailure, runCommand } from './errors.js';
import { queryHints } from './hints.js';
import { registerConnection } from './session.js';
import { untilInterrupted } from './signals.js';

runCommand('serve', async () => {
    loadDotEnv();
    try {
        parseArgs({ options: {}, strict: true, allowPositionals: false });
    } catch (error) {
        throw new ConfigError(`${error instanceof Error ? error.message : String(error)} (npm run serve takes no flags; see .env.example)`);
    }
    const env = readEnv();
    await refuseIfAlreadyRunning(env.NANGO_LOCAL_PORT);
    const clari = realClariTarget(env);
    const store = await openStoreInThread({ dir: env.NANGO_LOCAL_DB });
    try {
        if (clari) {
            // As `npm start` does: deploy, trigger and list then work on `serve` alone.
            await registerConnection(store, env.NANGO_CONNECTION_ID, clari);
            console.log(`Registered connection ${env.NANGO_CONNECTION_ID} for Clari Copilot at ${clari.baseUrl}.`);
        }
        const clariBaseUrl = env.CLARI_BASE_URL ?? CLARI_API_URL;
        const server = await startNangoServer({
            store,
            secretKey: env.NANGO_SECRET_KEY_DEV,
            clariBaseUrl,
            port: env.NANGO_LOCAL_PORT,
            host: '127.0.0.1',
            autoPrune: autoPruneFromEnv(env),
            addOns: [dashboard],
            webhooks: webhookSettingsFromEnv(env, (line) => {
                console.log(line);
            }),
            // Deployed syncs run here, on their schedule or when triggered; one line each says how they ended.
            runJob: deployedSyncRunner({
                store,
                clariBaseUrl,
                timeoutMs: runTimeoutMs(env),
                observe: (job) => ({
                    finished: (outcome) => {
                        const what = `${job.flow.name} for ${job.connectionId}`;
                        if (!('result' in outcome)) {
                            console.log(`run of ${what} failed: ${describeFailure(outcome.error)}`);
                        } else {
                            console.log(
                                outcome.result.interrupted ? `run of ${what}: ${handOverLine(outcome.result)}` : `run of ${what}: success`
                            );
                        }
                    }
                })
            }),
            onJobError: (job, error) => {
                if (job === null) {
                    console.error(`scheduler: ${describeFailure(error)}`);
                }
            }
        });
        console.log(
            `Local Nango (records, proxy, connections, deploy, sync trigger and status) on ${server.url}, store ${env.NANGO_LOCAL_DB}`
        );
        console.log(queryHints(server.url, env.NANGO_CONNECTION_ID, env.NANGO_SECRET_KEY_DEV));
        console.log('\nCtrl-C to stop.');
        await untilInterrupted();
        await server.close();
    } finally {
        await store.close();
    }
});
