import type { NangoSync } from '../models.js';

/**
 * What Nango's current runner adds to `NangoSync` (since 0.69.47): every stored record of a model,
 * deleted and pruned ones included. The 0.69.14 types and that CLI's `nango dryrun` do not have it.
 */
export interface RecordLister {
    listRecords(model: string, options?: { cursor?: string }): AsyncIterable<unknown>;
}

/** Nango hands scripts a Proxy facade where `instanceof` fails, so the method itself is what is checked. */
export function canListRecords(nango: NangoSync): nango is NangoSync & RecordLister {
    return typeof (nango as NangoSync & Partial<RecordLister>).listRecords === 'function';
}
