import type { NangoSync } from '../models.js';

/** Nango's checkpoint contract: a flat object of these values (at most 16 fields, strings up to 4000 characters). */
export type CheckpointValue = Record<string, string | number | boolean>;

/**
 * What Nango's current runner adds to `NangoSync` (since 0.69.32): one checkpoint per sync and connection
 * that survives failed, interrupted and killed runs. The 0.69.14 types and that CLI's `nango dryrun` do not
 * have it.
 */
export interface Checkpointing {
    getCheckpoint(): Promise<CheckpointValue | null>;
    saveCheckpoint(checkpoint: CheckpointValue): Promise<void>;
}

/** Nango hands scripts a Proxy facade where `instanceof` fails, so the methods themselves are what is checked. */
export function canCheckpoint(nango: NangoSync): nango is NangoSync & Checkpointing {
    const candidate = nango as NangoSync & Partial<Checkpointing>;
    return typeof candidate.getCheckpoint === 'function' && typeof candidate.saveCheckpoint === 'function';
}
