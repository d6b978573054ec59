import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { InvalidSyncOptionsError, parseSyncOptions } from '../../nango-integrations/clari-copilot/options.js';
import { DAY_MS, type AutoPruneOptions } from '../nango-server/auto-prune.js';
import { DEFAULT_STORE_DIR } from '../nango-server/database.js';
import type { WebhookSettings } from '../nango-server/sync-webhooks.js';

/** A problem the user fixes in their configuration; printed as one line, never as a stack trace. */
export class ConfigError extends Error {
    override name = 'ConfigError';
}

export const CLARI_API_URL = 'https://rest-api.copilot.clari.com';
export { PROVIDER_CONFIG_KEY, SYNC_NAME } from '../../nango-integrations/clari-copilot/constants.js';
export const DEFAULT_SECRET_KEY = 'local-dev-secret';

/** Reads `.env` from the working directory when there is one; variables already set win. */
export function loadDotEnv(file = '.env'): void {
    if (!existsSync(file)) {
        return;
    }
    try {
        process.loadEnvFile(file);
    } catch (error) {
        throw new ConfigError(`could not read ${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
}

const blankAsUndefined = (value: unknown): unknown => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const optionalString = z.preprocess(blankAsUndefined, z.string().optional());
const webhookUrl = z.preprocess(blankAsUndefined, z.url({ protocol: /^https?$/ }).optional());
const onOff = (fallback: boolean) =>
    z.preprocess(
        (value) => (typeof value === 'string' ? (blankAsUndefined(value.toLowerCase()) as string | undefined) : value),
        z
            .enum(['1', 'true', 'on', 'yes', '0', 'false', 'off', 'no'], { message: 'expected on or off (true/false, 1/0)' })
            .transform((value) => ['1', 'true', 'on', 'yes'].includes(value))
            .default(fallback)
    );
const weeklyQuotaSchema = z.coerce.number().int().min(0);

// Clari's weekly quota in the emulator npm start runs (unset: none), to watch the sync pause at its budget.
const weeklyQuotaVariable = z.preprocess(blankAsUndefined, weeklyQuotaSchema.optional());

const port = (fallback: number) => z.preprocess(blankAsUndefined, z.coerce.number().int().min(1).max(65535).default(fallback));

const envSchema = z.object({
    CLARI_BASE_URL: z.preprocess(blankAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
    CLARI_API_KEY: optionalString,
    CLARI_API_PASSWORD: optionalString,
    CLARI_EMULATOR_PORT: port(3004),
    CLARI_EMULATOR_API_KEY: optionalString,
    CLARI_EMULATOR_API_PASSWORD: optionalString,
    CLARI_EMULATOR_WEEKLY_QUOTA: weeklyQuotaVariable,
    NANGO_LOCAL_PORT: port(3003),
    NANGO_SECRET_KEY_DEV: z.preprocess(blankAsUndefined, z.string().default(DEFAULT_SECRET_KEY)),
    NANGO_LOCAL_DB: z.preprocess(blankAsUndefined, z.string().default(DEFAULT_STORE_DIR)),
    // Fractions of a day are allowed so that the lifecycle can be watched locally without waiting a month.
    NANGO_LOCAL_PRUNE_AFTER_DAYS: z.preprocess(blankAsUndefined, z.coerce.number().min(0).max(3650).default(30)),
    // Unset: no limit, as on Nango's 24 h runner. Fractions allow the interruption to be watched in a test.
    NANGO_LOCAL_RUN_TIMEOUT_S: z.preprocess(blankAsUndefined, z.coerce.number().positive().max(86_400).optional()),
    // Nango's sync webhooks (environment settings there): where, signed with what, and when.
    NANGO_LOCAL_WEBHOOK_URL: webhookUrl,
    NANGO_LOCAL_WEBHOOK_SECONDARY_URL: webhookUrl,
    NANGO_LOCAL_WEBHOOK_SIGNING_KEY: optionalString,
    NANGO_LOCAL_WEBHOOK_ALWAYS: onOff(false),
    NANGO_LOCAL_WEBHOOK_ON_ERROR: onOff(true),
    // npm start's reference app (examples/app) and npm run app.
    REFERENCE_APP_PORT: port(3005),
    REFERENCE_APP_DB: z.preprocess(blankAsUndefined, z.string().default('.reference-app')),
    NANGO_CONNECTION_ID: z.preprocess(
        blankAsUndefined,
        z
            .string()
            .regex(/^[\w.@-]+$/, 'letters, digits, . _ @ - only')
            .default('local')
    )
});

export type LocalEnv = z.infer<typeof envSchema>;

export interface ClariTarget {
    baseUrl: string;
    apiKey: string;
    apiPassword: string;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): LocalEnv {
    const result = envSchema.safeParse(env);
    if (!result.success) {
        const issue = result.error.issues[0];
        throw new ConfigError(
            `invalid ${issue?.path.join('.') ?? 'environment'}: ${issue?.message ?? 'unknown problem'} (see .env.example)`
        );
    }
    return result.data;
}

/** Real Clari credentials, when both are set; half a pair is a mistake worth stopping for. */
export function realClariTarget(env: LocalEnv): ClariTarget | null {
    const { CLARI_API_KEY: apiKey, CLARI_API_PASSWORD: apiPassword } = env;
    if (apiKey === undefined && apiPassword === undefined) {
        return null;
    }
    if (apiKey === undefined || apiPassword === undefined) {
        throw new ConfigError(
            `set both CLARI_API_KEY and CLARI_API_PASSWORD, or neither (${apiKey === undefined ? 'CLARI_API_KEY' : 'CLARI_API_PASSWORD'} is missing)`
        );
    }
    return { baseUrl: env.CLARI_BASE_URL ?? CLARI_API_URL, apiKey, apiPassword };
}

/** Each execution's bound (NANGO_LOCAL_RUN_TIMEOUT_S) in milliseconds, or undefined for none. */
export function runTimeoutMs(env: LocalEnv): number | undefined {
    return env.NANGO_LOCAL_RUN_TIMEOUT_S === undefined ? undefined : env.NANGO_LOCAL_RUN_TIMEOUT_S * 1000;
}

/**
 * Nango's sync webhooks from the environment. Without NANGO_LOCAL_WEBHOOK_SIGNING_KEY a key is generated for this
 * process; `hint` gets the one line that shows it, the only place it ever appears. Undefined when no URL is set
 * and `extraUrl` (npm start's reference app) does not fill a slot.
 */
export function webhookSettingsFromEnv(env: LocalEnv, hint: (line: string) => void, extraUrl?: string): WebhookSettings | undefined {
    let primaryUrl = env.NANGO_LOCAL_WEBHOOK_URL;
    let secondaryUrl = env.NANGO_LOCAL_WEBHOOK_SECONDARY_URL;
    if (extraUrl !== undefined) {
        if (primaryUrl === undefined) {
            primaryUrl = extraUrl;
        } else {
            secondaryUrl ??= extraUrl;
        }
    }
    if (primaryUrl === undefined && secondaryUrl === undefined) {
        return undefined;
    }
    let signingKey = env.NANGO_LOCAL_WEBHOOK_SIGNING_KEY;
    if (signingKey === undefined) {
        signingKey = randomBytes(24).toString('hex');
        hint(
            `Sync webhooks are signed with a key generated for this run: ${signingKey} ` +
                '(set NANGO_LOCAL_WEBHOOK_SIGNING_KEY in .env to keep one; it is not shown again).'
        );
    }
    return { primaryUrl, secondaryUrl, signingKey, always: env.NANGO_LOCAL_WEBHOOK_ALWAYS, onError: env.NANGO_LOCAL_WEBHOOK_ON_ERROR };
}

/** Nango's record lifecycle for `serve` and `start`: NANGO_LOCAL_PRUNE_AFTER_DAYS (0 turns it off). */
export function autoPruneFromEnv(env: LocalEnv): AutoPruneOptions | undefined {
    const days = env.NANGO_LOCAL_PRUNE_AFTER_DAYS;
    if (days === 0) {
        return undefined;
    }
    return {
        afterMs: days * DAY_MS,
        onReport: (report) => {
            if ('pruned' in report) {
                console.log(`Pruned the payloads of ${report.pruned} record(s) not updated for ${days} day(s), as Nango does.`);
            } else {
                console.error(`auto-pruning failed: ${report.error instanceof Error ? report.error.message : String(report.error)}`);
            }
        }
    };
}

/** `--metadata '<json>'` or `--metadata-file <path>`: the connection metadata the sync reads. */
export function parseMetadata(inline: string | undefined, file: string | undefined): Record<string, unknown> | undefined {
    if (inline !== undefined && file !== undefined) {
        throw new ConfigError('use --metadata or --metadata-file, not both');
    }
    let text = inline;
    let source = '--metadata';
    if (file !== undefined) {
        source = `--metadata-file ${file}`;
        try {
            text = readFileSync(file, 'utf8');
        } catch (error) {
            throw new ConfigError(`cannot read ${source}: ${error instanceof Error ? error.message : String(error)}`);
        }
    }
    if (text === undefined) {
        return undefined;
    }
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (error) {
        throw new ConfigError(`${source} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    const asObject = z.record(z.string(), z.unknown()).safeParse(parsed);
    if (!asObject.success) {
        throw new ConfigError(`${source} must be a JSON object, e.g. '{"backfillDays":90}'`);
    }
    // Checked here too, with the sync's own rules, so that a bad value stops the command before it starts
    // anything; unknown keys pass, and the sync warns about them.
    try {
        parseSyncOptions(asObject.data);
    } catch (error) {
        throw error instanceof InvalidSyncOptionsError ? new ConfigError(`${source}: ${error.message}`) : error;
    }
    return asObject.data;
}

export interface SyncFlags {
    help: false;
    metadata: Record<string, unknown> | undefined;
    /** `--weekly-quota`, for the commands that allow it; undefined when not given. */
    weeklyQuota: number | undefined;
}

/**
 * The flags `npm start` and `npm run sync` share: `--metadata`, `--metadata-file` and `--help`, and with
 * `withWeeklyQuota` npm start's `--weekly-quota`. With `--help` it prints `usage` and returns `{ help: true }`;
 * the command then has nothing more to do.
 */
export function parseSyncFlags(argv: string[], usage: string, { withWeeklyQuota = false } = {}): { help: true } | SyncFlags {
    let values: {
        metadata?: string | undefined;
        'metadata-file'?: string | undefined;
        'weekly-quota'?: string | undefined;
        help?: boolean | undefined;
    };
    try {
        ({ values } = parseArgs({
            args: argv,
            options: {
                metadata: { type: 'string' },
                'metadata-file': { type: 'string' },
                'weekly-quota': { type: 'string' },
                help: { type: 'boolean', short: 'h' }
            },
            strict: true,
            allowPositionals: false
        }));
    } catch (error) {
        throw new ConfigError(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
    }
    if (!withWeeklyQuota && values['weekly-quota'] !== undefined) {
        throw new ConfigError(`Unknown option '--weekly-quota': only npm start runs an emulator with a quota\n${usage}`);
    }
    if (values.help) {
        console.log(usage);
        return { help: true };
    }
    const quota = values['weekly-quota'] === undefined ? undefined : weeklyQuotaSchema.safeParse(values['weekly-quota']);
    if (quota?.success === false) {
        throw new ConfigError(
            `--weekly-quota must be a whole number of requests, 0 or more (Clari's is 100000), not '${values['weekly-quota']}'`
        );
    }
    return { help: false, metadata: parseMetadata(values.metadata, values['metadata-file']), weeklyQuota: quota?.data };
}
