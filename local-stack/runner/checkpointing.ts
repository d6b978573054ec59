import { CHECKPOINT_MAX_FIELDS, CHECKPOINT_MAX_STRING, type CheckpointValue, type StoredCheckpoint } from '../nango-server/checkpoints.js';
import type { CheckpointRange } from '../nango-server/runs.js';
import type { CheckpointPersist, CheckpointRef } from './persist.js';

/**
 * A run's view of its sync's checkpoint, with Nango's contract: a flat object of strings, numbers and
 * booleans (a Date is kept as its ISO string), at most 16 fields, strings at most 4000 characters, null when
 * none is saved or it was cleared. Writes carry the version this run last saw, so a writer that lost the race
 * gets a checkpoint_conflict instead of silently overwriting the other one.
 */

/** A value the script handed to saveCheckpoint that Nango would refuse; the message names the rule. */
export class InvalidCheckpointError extends TypeError {
    override name = 'InvalidCheckpointError';
}

function describe(value: unknown): string {
    if (value === null) return 'null';
    if (Array.isArray(value)) return 'an array';
    if (typeof value === 'object') return 'an object';
    return `a ${typeof value}`;
}

/** A Date from any realm: the sandboxed script's Date is not the host's, so `instanceof Date` misses it. */
function isDate(value: unknown): value is Date {
    return Object.prototype.toString.call(value) === '[object Date]';
}

/** The checkpoint as it is stored, or InvalidCheckpointError. */
export function checkpointValue(input: unknown): CheckpointValue {
    if (typeof input !== 'object' || input === null || Array.isArray(input) || isDate(input)) {
        throw new InvalidCheckpointError(`saveCheckpoint: a checkpoint must be a flat object, not ${describe(input)}`);
    }
    const entries = Object.entries(input);
    if (entries.length > CHECKPOINT_MAX_FIELDS) {
        throw new InvalidCheckpointError(
            `saveCheckpoint: a checkpoint has at most ${CHECKPOINT_MAX_FIELDS} fields; this one has ${entries.length}`
        );
    }
    const out: CheckpointValue = {};
    for (const [field, value] of entries) {
        if (isDate(value)) {
            const time = Date.prototype.getTime.call(value);
            if (Number.isNaN(time)) {
                throw new InvalidCheckpointError(`saveCheckpoint: field "${field}" is an invalid Date`);
            }
            out[field] = new Date(time).toISOString();
        } else if (typeof value === 'string') {
            if (value.length > CHECKPOINT_MAX_STRING) {
                throw new InvalidCheckpointError(
                    `saveCheckpoint: field "${field}" is a string of ${value.length} characters; strings are at most ${CHECKPOINT_MAX_STRING}`
                );
            }
            out[field] = value;
        } else if (typeof value === 'number') {
            if (!Number.isFinite(value)) {
                throw new InvalidCheckpointError(`saveCheckpoint: field "${field}" is ${value}; numbers must be finite to be stored`);
            }
            out[field] = value;
        } else if (typeof value === 'boolean') {
            out[field] = value;
        } else {
            throw new InvalidCheckpointError(
                `saveCheckpoint: field "${field}" is ${describe(value)}; a checkpoint is flat: its values are strings, numbers, booleans or Dates`
            );
        }
    }
    return out;
}

/**
 * The checkpoint of one run. It is read the first time the script touches it, so a script that never does costs
 * no request and reports no range; from then on the run knows the version its next write must name.
 */
export class RunCheckpoints {
    /** The version the next write must name: a key never written is at version 1. */
    private version = 1;
    private current: CheckpointValue | null = null;
    /** Undefined until the script first touched its checkpoint. */
    private from: CheckpointValue | null | undefined;

    constructor(
        private readonly persist: CheckpointPersist,
        private readonly ref: CheckpointRef
    ) {}

    /** Read again on each call, so a write elsewhere is seen (and its version adopted). */
    async get(): Promise<CheckpointValue | null> {
        this.adopt(await this.persist.getCheckpoint(this.ref));
        if (this.from === undefined) {
            this.from = this.current;
        }
        return this.current;
    }

    async save(input: unknown): Promise<CheckpointValue> {
        const value = checkpointValue(input);
        if (this.from === undefined) {
            await this.get();
        }
        const saved = await this.persist.putCheckpoint(this.ref, value, this.version);
        this.version = saved.version;
        this.current = saved.checkpoint;
        return saved.checkpoint;
    }

    async clear(): Promise<void> {
        if (this.from === undefined) {
            await this.get();
        }
        if (await this.persist.deleteCheckpoint(this.ref, this.version)) {
            // A delete moves the version on by one, like a write.
            this.version += 1;
        }
        this.current = null;
    }

    /** Where the run started and where it got to; undefined when the script never touched its checkpoint. */
    range(): CheckpointRange | undefined {
        return this.from === undefined ? undefined : { from: this.from, to: this.current };
    }

    private adopt(stored: StoredCheckpoint | undefined): void {
        this.version = stored?.version ?? 1;
        this.current = stored && stored.deletedAt === null ? stored.checkpoint : null;
    }
}
