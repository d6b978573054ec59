import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { z } from 'zod';

const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

const yamlSchema = z.object({
    integrations: z.record(z.string(), z.object({ syncs: z.record(z.string(), z.object({ runs: z.string() })).optional() }))
});

/** The `runs:` schedule of a sync in nango.yaml, e.g. "every hour" or "every 30 minutes", in milliseconds. */
export function syncIntervalMs(yamlPath: string, integration: string, sync: string): { runs: string; intervalMs: number } {
    const config = yamlSchema.parse(yaml.load(readFileSync(yamlPath, 'utf8')));
    const runs = config.integrations[integration]?.syncs?.[sync]?.runs;
    if (runs === undefined) {
        throw new Error(`${yamlPath} declares no "runs" for ${integration}/${sync}`);
    }
    return { runs, intervalMs: parseRuns(runs) };
}

export function parseRuns(runs: string): number {
    const match = /^every\s+(?:(\d+)\s*)?(minute|hour|day|min|m|h|d)s?$/i.exec(runs.trim());
    const unit = { min: 'minute', m: 'minute', h: 'hour', d: 'day' }[match?.[2]?.toLowerCase() ?? ''] ?? match?.[2]?.toLowerCase();
    const unitMs = unit === undefined ? undefined : UNIT_MS[unit];
    if (!match || unitMs === undefined) {
        throw new Error(`cannot read the schedule "${runs}" (expected e.g. "every hour" or "every 30 minutes")`);
    }
    return Number(match[1] ?? 1) * unitMs;
}
