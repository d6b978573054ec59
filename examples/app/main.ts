import { existsSync } from 'node:fs';

import { startReferenceApp } from './app.js';

/**
 * `npm run app`: the reference app on its own, beside a local Nango started with `npm run serve` (or Nango
 * itself). The local Nango must send its webhooks here and sign them with the same key, e.g. in `.env`:
 *   NANGO_LOCAL_WEBHOOK_URL=http://127.0.0.1:3005/webhooks/nango
 *   NANGO_LOCAL_WEBHOOK_SIGNING_KEY=<any long random string>
 * (`npm start` needs none of this: it starts the app itself and wires it.)
 */

if (existsSync('.env')) {
    process.loadEnvFile('.env');
}
const env = process.env;
const signingKey = env['NANGO_LOCAL_WEBHOOK_SIGNING_KEY'];
if (!signingKey) {
    console.error('npm run app: set NANGO_LOCAL_WEBHOOK_SIGNING_KEY (the key the local Nango signs its webhooks with; see .env.example)');
    process.exit(2);
}
const app = await startReferenceApp({
    nangoHost: env['NANGO_HOST'] ?? `http://127.0.0.1:${env['NANGO_LOCAL_PORT'] ?? '3003'}`,
    secretKey: env['NANGO_SECRET_KEY_DEV'] ?? 'local-dev-secret',
    webhookSigningKey: signingKey,
    dbDir: env['REFERENCE_APP_DB'] ?? '.reference-app',
    port: Number(env['REFERENCE_APP_PORT'] ?? 3005)
});
console.log(
    `Reference app on ${app.url}: webhooks at ${app.webhookUrl}, calls at ${app.url}/calls/:id and ${app.url}/calls?q=<title words>.`
);
const stop = (): void => {
    void app.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
