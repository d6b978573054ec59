/**
 * A separate process for lock.test.ts: takes and releases store locks when its parent says so over IPC, so
 * that tests can race real processes for one lock and kill a holder.
 *
 *   { op: 'acquire', dir, startAt? }  -> { op: 'acquired' } | { op: 'refused', holder } | { op: 'failed', message }
 *   { op: 'release' }                 -> { op: 'released' }
 */
import { z } from 'zod';

import { acquireDirLock, StoreInUseError, type DirLock } from './lock.js';

const commandSchema = z.discriminatedUnion('op', [
    z.object({ op: z.literal('acquire'), dir: z.string(), startAt: z.number().optional() }),
    z.object({ op: z.literal('release') })
]);

export type LockChildCommand = z.input<typeof commandSchema>;
export type LockChildReply =
    { op: 'ready' } | { op: 'acquired' } | { op: 'refused'; holder: number } | { op: 'failed'; message: string } | { op: 'released' };

const reply = (message: LockChildReply): void => {
    process.send?.(message);
};

let held: DirLock | undefined;

process.on('message', (raw) => {
    const command = commandSchema.parse(raw);
    if (command.op === 'release') {
        held?.release();
        held = undefined;
        reply({ op: 'released' });
        return;
    }
    if (command.startAt !== undefined) {
        // Spin rather than sleep: both racers leave this loop within microseconds of each other, which a
        // timer could not promise.
        while (performance.timeOrigin + performance.now() < command.startAt) {
            // busy wait
        }
    }
    try {
        held = acquireDirLock(command.dir);
        reply({ op: 'acquired' });
    } catch (err) {
        reply(err instanceof StoreInUseError ? { op: 'refused', holder: err.pid } : { op: 'failed', message: String(err) });
    }
});

process.on('disconnect', () => {
    process.exit(0);
});

reply({ op: 'ready' });
