/*
 * Writes the hand-built NangoSyncMock fixtures under nango-integrations/clari-copilot/mocks/.
 * The payloads follow Clari's spec and the quirks of real recordings; the expected records are written
 * out by hand too, so the replay test checks the mapper against data it did not produce.
 * NangoSyncMock finds a response by a sha1 of the request (method, endpoint, params, headers), so
 * the file names are computed here. Run: npx tsx scripts/build-sync-mocks.ts
 */
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MOCK_NOW, expectedRecords, listPage, callDetails } from './sync-mock-data';

const mocksDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../nango-integrations/clari-copilot/mocks');

function requestHash(endpoint: string, params: Record<string, string | number>): string {
    const identity = {
        method: 'get',
        endpoint,
        params: Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        headers: []
    };
    return createHash('sha1').update(JSON.stringify(identity)).digest('hex');
}

function write(relative: string, content: unknown): void {
    const file = path.join(mocksDir, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`);
}

rmSync(mocksDir, { recursive: true, force: true });
const yearAgo = new Date(MOCK_NOW.getTime() - 365 * 24 * 60 * 60 * 1000);
const listParams = { filterTimeGt: yearAgo.toISOString(), filterTimeLt: MOCK_NOW.toISOString(), sortTime: 'desc', skip: 0, limit: 100 };
write('nango/getMetadata.json', {});
write(`nango/get/proxy/calls/calls/${requestHash('calls', listParams)}.json`, { response: listPage, headers: {}, status: 200 });
for (const call of callDetails) {
    const params = { id: call.id, includeAudio: 'true', includeVideo: 'true' };
    write(`nango/get/proxy/call-details/calls/${requestHash('call-details', params)}.json`, {
        response: { call },
        headers: {},
        status: 200
    });
}
write('calls/Call/batchSave.json', expectedRecords);
console.log(`wrote mocks for ${callDetails.length} calls to ${path.relative(process.cwd(), mocksDir)}`);
