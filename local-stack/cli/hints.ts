import { CALL_MODEL } from '../../nango-integrations/clari-copilot/constants.js';
import { DEFAULT_SECRET_KEY, PROVIDER_CONFIG_KEY } from './config.js';

/** How to read the synced records, printed by `npm start` and `npm run serve`. */
export function queryHints(url: string, connectionId: string, secretKey: string): string {
    // The built-in development secret is not sensitive; a secret the user chose is never printed.
    const secret = secretKey === DEFAULT_SECRET_KEY ? DEFAULT_SECRET_KEY : '$NANGO_SECRET_KEY_DEV';
    return [
        `Records are served like Nango serves them, at ${url}`,
        '',
        '  # HTTP: the sync endpoint (or /records?model=Call); page with cursor, follow changes with modified_after and filter',
        `  curl -s -H "Authorization: Bearer ${secret}" -H "Connection-Id: ${connectionId}" -H "Provider-Config-Key: ${PROVIDER_CONFIG_KEY}" \\`,
        `    "${url}/v1/calls?limit=2"`,
        '',
        '  // @nangohq/node: save as list-calls.mjs in this repository (it has the package), then run node list-calls.mjs',
        "  import { Nango } from '@nangohq/node';",
        `  const nango = new Nango({ secretKey: '${secret === DEFAULT_SECRET_KEY ? secret : '<NANGO_SECRET_KEY_DEV>'}', host: '${url}' });`,
        `  const { records, next_cursor } = await nango.listRecords({ providerConfigKey: '${PROVIDER_CONFIG_KEY}', connectionId: '${connectionId}', model: '${CALL_MODEL}', limit: 100 });`,
        '  console.log(`${records.length} calls, the first: ${records[0]?.title}; next_cursor: ${next_cursor}`);',
        '',
        // The whole backfill would print every record with its transcript: tens of megabytes. A day of calls, and
        // only the run's own lines and its counts, is what a person can read; dropping the two parts shows it all.
        "  # the real nango CLI dry-running the last day's calls against this stand-in (saves nothing); awk keeps the run's log and its counts",
        `  cd nango-integrations && NANGO_HOSTPORT=${url} NANGO_SECRET_KEY_DEV=${secret} NANGO_CLI_UPGRADE_MODE=ignore npx nango dryrun calls ${connectionId} -e dev --auto-confirm --metadata '{"backfillDays":1}' | awk '/^Executing/{on=1} /^The following log messages/{on=0} on'`
    ].join('\n');
}
