/**
 * A separate process for store-thread.test.ts: opens a store in its thread at argv[2], then exits without closing
 * it, as `npm start` does on a second Ctrl-C.
 */
import { openStoreInThread } from './store-thread.js';

const dir = process.argv[2];
if (!dir) {
    throw new Error('usage: thread-exit-child.ts <store dir>');
}
const store = await openStoreInThread({ dir });
await store.records.countLiveRecords('conn-exit', 'Call');
process.exit(130);
