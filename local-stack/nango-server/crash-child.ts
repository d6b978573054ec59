/**
 * A separate process for runs.test.ts: records a run in the store at argv[2], then dies by SIGKILL without
 * closing it, as `npm start` does when its terminal is closed or the machine loses power.
 */
import { openStore } from './database.js';

const dir = process.argv[2];
if (!dir) {
    throw new Error('usage: crash-child.ts <store dir>');
}
const store = await openStore({ dir });
const run = await store.runs.startRun('conn-crash', 'calls', { pid: process.pid });
await store.runs.finishRun(run.runId, 'success', 'saved 1');
process.kill(process.pid, 'SIGKILL');
