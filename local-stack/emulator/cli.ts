import { parseCli, startErrorMessage, USAGE } from './cli-options.js';
import { DEFAULT_CREDENTIALS, DEFAULT_RATE } from './runtime.js';
import { startClariEmulator, type StartOptions } from './server.js';

/** `npm run emulator -- [flags]`: serves the Clari Copilot emulator until Ctrl-C. */

async function main(): Promise<void> {
    let options: StartOptions | 'help';
    try {
        options = parseCli(process.argv.slice(2));
    } catch (error) {
        console.error(`clari-emulator: ${error instanceof Error ? error.message : String(error)} (see --help)`);
        process.exit(2);
    }
    if (options === 'help') {
        console.log(USAGE);
        return;
    }
    const started = Date.now();
    let emulator;
    try {
        emulator = await startClariEmulator(options);
    } catch (error) {
        console.error(`clari-emulator: ${startErrorMessage(error, options.port)}`);
        process.exit(1);
    }
    const keyShown = options.apiKey === DEFAULT_CREDENTIALS.apiKey ? options.apiKey : '(the configured value)';
    const passwordShown = options.apiPassword === DEFAULT_CREDENTIALS.apiPassword ? options.apiPassword : '(the configured value)';
    const dataset = emulator.state.describe();
    console.log(`Clari Copilot emulator listening on ${emulator.url}  (ready in ${Date.now() - started} ms)`);
    console.log(`  dataset : ${dataset.live} calls (seed ${dataset.seed}, ${dataset.months} months back, ${dataset.private} private)`);
    console.log(`  headers : X-Api-Key: ${keyShown}  X-Api-Password: ${passwordShown}`);
    console.log(
        `  rate    : ${options.rate === 0 ? 'unlimited' : `${options.rate ?? DEFAULT_RATE} req/s, 429 ${options.retryAfter === false ? 'without' : 'with'} Retry-After`}`
    );
    if (options.weeklyQuota !== undefined) {
        const refused = options.quota?.countRefused === false ? 'not counted' : 'counted';
        const retry = options.quota?.retryAfter === 'next-week' ? 'Retry-After to next week' : 'no Retry-After';
        console.log(`  quota   : ${options.weeklyQuota} requests a week from Sunday 00:00 UTC, then 429 (${retry}; rate 429s ${refused})`);
    }
    if (options.ties === true || options.unstableTies === true || (options.clockOffsetMs ?? 0) !== 0) {
        const quirks = [
            options.ties === true ? 'times on the hour' : '',
            options.unstableTies === true ? 'unstable order of ties' : '',
            (options.clockOffsetMs ?? 0) === 0 ? '' : `clock offset ${options.clockOffsetMs ?? 0} ms`
        ];
        console.log(`  quirks  : ${quirks.filter((quirk) => quirk !== '').join(', ')}`);
    }
    if (options.faults && options.faults.length > 0) {
        console.log(`  faults  : ${options.faults.map((rule) => JSON.stringify(rule)).join(' ')}`);
    }
    console.log(`  control : ${emulator.url}/_control/stats, /_control/calls, /_control/quota, POST /_control/mutate`);

    let stopping = false;
    const stop = (signal: string): void => {
        if (stopping) {
            process.exit(130);
        }
        stopping = true;
        console.log(`\n${signal}: shutting down`);
        emulator.close().then(
            () => process.exit(0),
            () => process.exit(1)
        );
    };
    process.once('SIGINT', () => {
        stop('SIGINT');
    });
    process.once('SIGTERM', () => {
        stop('SIGTERM');
    });
}

await main();
