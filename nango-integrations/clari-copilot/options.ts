import { z } from 'zod';
import { CLARI_WEEKLY_LIMIT } from './budget.js';

const SLOWEST_RATE = 0.1;

/**
 * Connection metadata accepted by the `calls` sync (model `ClariCopilotSyncOptions` in nango.yaml).
 * Every option is optional; a present but invalid value fails the run instead of being silently replaced.
 */
const syncOptionsSchema = z.object({
    backfillDays: z.number().int().min(1).max(3650).default(365),
    // Clari's documented limit is 10 requests per second per workspace. The floor keeps a value such as 1e-9
    // from parking the run between requests for years.
    maxRequestsPerSecond: z
        .number()
        .min(SLOWEST_RATE, `must be at least ${SLOWEST_RATE} (one request every 10 seconds)`)
        .max(1000)
        .default(10),
    includeMedia: z.boolean().default(true),
    // Unset: derived from the workspace's size and the budget (see plan.ts), daily for all but the biggest.
    reconcileEveryHours: z
        .number()
        .min(0)
        .max(24 * 30)
        .optional(),
    // Days back whose calls get their details refreshed once a day, for changes that do not move
    // last_modified_time (regenerated summaries, the CRM's deal stage). 0 turns the refresh off.
    refreshRecentDays: z.number().min(0).max(30).default(7),
    // Requests this sync may spend in a Clari week (Sunday 00:00 GMT). Clari allows a workspace 100,000 and every
    // tool of the workspace shares them; the default leaves half to the others.
    weeklyRequestBudget: z.number().int().min(100).max(CLARI_WEEKLY_LIMIT).default(50_000)
});

const knownOptionKeys = new Set(Object.keys(syncOptionsSchema.shape));

export type SyncOptions = z.infer<typeof syncOptionsSchema>;

export class InvalidSyncOptionsError extends Error {
    override name = 'InvalidSyncOptionsError';
}

export interface ParsedSyncOptions {
    options: SyncOptions;
    /** Metadata keys this sync does not read: other syncs may share the connection's metadata, but a typo shows up here. */
    ignoredKeys: string[];
}

export function parseSyncOptions(metadata: unknown): ParsedSyncOptions {
    const result = syncOptionsSchema.safeParse(metadata ?? {});
    if (result.success) {
        const given = typeof metadata === 'object' && metadata !== null ? Object.keys(metadata) : [];
        return { options: result.data, ignoredKeys: given.filter((key) => !knownOptionKeys.has(key)) };
    }
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(metadata)'}: ${issue.message}`).join('; ');
    throw new InvalidSyncOptionsError(`Invalid connection metadata for the Clari Copilot calls sync: ${problems}`);
}
