import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { OpenAPIBackend } from 'openapi-backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClariEmulator, type ClariEmulator } from './server.js';
import { listAll, request, type CallsPage, type ListedCall } from './test-helpers.js';

/**
 * Validates real emulator responses against Clari's published OpenAPI spec. The spec is patched only where
 * shared/reference/clari-copilot-api.md documents that real payloads differ; everything else must match, and
 * the patch also forbids properties the spec does not define.
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const SPEC_PATH = path.resolve(repoRoot, '../shared/reference/clari-copilot-openapi.yml');

type Schema = Record<string, unknown>;

function child(schema: unknown, ...keys: string[]): Schema {
    let node = schema;
    for (const key of keys) {
        node = (node as Schema)[key];
        if (typeof node !== 'object' || node === null) {
            throw new Error(`spec has no ${keys.join('.')}`);
        }
    }
    return node as Schema;
}

const numericOrString = { oneOf: [{ type: 'integer' }, { type: 'string', pattern: '^[0-9]+$' }] };

/** Inlines local `#/...` references (the spec has no cycles), so the validator sees plain schemas. */
function dereference(node: unknown, root: Schema): unknown {
    if (Array.isArray(node)) {
        return node.map((item) => dereference(item, root));
    }
    if (typeof node !== 'object' || node === null) {
        return node;
    }
    const ref = (node as Schema)['$ref'];
    if (typeof ref === 'string') {
        return dereference(child(root, ...ref.replace(/^#\//, '').split('/')), root);
    }
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, dereference(value, root)]));
}

function patchedSpec(): Schema {
    const spec = yaml.load(readFileSync(SPEC_PATH, 'utf8')) as Schema;
    const schemas = child(spec, 'components', 'schemas');
    const properties = (name: string): Schema => child(schemas, name, 'properties');

    // Not deviations, just making the spec usable: openapi-backend needs operationIds, and `type: float` is not
    // a JSON Schema type (the spec means a number).
    child(spec, 'paths', '/calls', 'get')['operationId'] = 'listCalls';
    child(spec, 'paths', '/call-details', 'get')['operationId'] = 'getCallDetails';
    child(schemas, 'Category', 'properties', 'phrases_matched', 'items', 'properties')['time'] = { type: 'number' };

    // Documented deviation: `type` can be RECORDING (in the spec's APICallType, not CallType).
    properties('Call')['type'] = { anyOf: [schemas['CallType'], schemas['APICallType']] };
    // Documented deviation: personId arrives as a number or as a (numeric) string.
    properties('CallUser')['personId'] = numericOrString;
    properties('CallParticipant')['personId'] = numericOrString;
    properties('JoinedParticipant')['personId'] = numericOrString;
    properties('CompetitorSentiments')['personId'] = numericOrString;
    const detailsExtra = child(schemas, 'CallDetails', 'allOf', '1', 'properties');
    child(detailsExtra, 'transcript', 'items', 'properties')['personId'] = numericOrString;
    // Documented deviation: summary timestamps are numbers, numeric strings or the string "NaN".
    const looseTimestamp = { oneOf: [{ type: 'number' }, { type: 'string', pattern: '^([0-9]+(\\.[0-9]+)?|NaN)$' }] };
    for (const name of ['SummaryTopics', 'SummaryActionItems']) {
        properties(name)['start_timestamp'] = looseTimestamp;
        properties(name)['end_timestamp'] = looseTimestamp;
    }
    // Documented deviation: `audio_url: null` appears (a call without recording).
    properties('Call')['audio_url'] = { type: 'string', nullable: true };

    // Tightening: no property the spec does not define. CallDetails' allOf is flattened so this can apply to it.
    const closed = [
        'Call',
        'CallUser',
        'CallParticipant',
        'JoinedParticipant',
        'Category',
        'SummaryTopics',
        'SummaryActionItems',
        'CompetitorSentiments'
    ];
    for (const name of closed) {
        child(schemas, name)['additionalProperties'] = false;
    }
    for (const name of ['CallsResponse', 'PaginationInfo', 'CallDetailsResponse']) {
        child(schemas, name)['additionalProperties'] = false;
    }
    child(properties('Call'), 'metrics')['additionalProperties'] = false;
    child(properties('Call'), 'crm_info')['additionalProperties'] = false;
    child(detailsExtra, 'transcript', 'items')['additionalProperties'] = false;
    child(detailsExtra, 'summary')['additionalProperties'] = false;
    schemas['CallDetails'] = { type: 'object', properties: { ...properties('Call'), ...detailsExtra }, additionalProperties: false };
    return dereference(spec, spec) as Schema;
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

async function createValidator(): Promise<OpenAPIBackend> {
    const api = new OpenAPIBackend({
        definition: patchedSpec() as unknown as ConstructorParameters<typeof OpenAPIBackend>[0]['definition'],
        quick: true,
        ajvOpts: { allErrors: true },
        // The spec says format: date-time; without this Ajv would ignore the format entirely.
        customizeAjv: (ajv) => {
            ajv.addFormat('date-time', (value: string) => ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)));
            return ajv;
        }
    });
    await api.init();
    return api;
}

function problems(api: OpenAPIBackend, operationId: string, body: unknown, status = 200): string[] {
    const result = api.validator.validateResponse(body, operationId, status);
    return (result.errors ?? []).map((error) => `${error.instancePath} ${error.message ?? ''} ${JSON.stringify(error.params)}`);
}

describe('conformance with the Clari Copilot OpenAPI spec', () => {
    let emulator: ClariEmulator;
    let api: OpenAPIBackend;
    let listed: ListedCall[];

    beforeAll(async () => {
        emulator = createClariEmulator({ calls: 400, seed: 7, rate: 0, now: new Date('2025-06-01T12:00:00Z') });
        api = await createValidator();
        listed = (await listAll(emulator, '&includeAudio=true&includeVideo=true')).calls;
    });

    it('every /calls page validates, with and without pagination and media', async () => {
        for (const query of ['&includeAudio=true&includeVideo=true&includePrivate=true', '&sortTime=asc']) {
            const { pages } = await listAll(emulator, query);
            expect(pages.length).toBeGreaterThan(1);
            for (const page of pages) {
                expect(problems(api, 'listCalls', page)).toEqual([]);
            }
        }
        const withoutPagination = await request<CallsPage>(emulator, '/calls?limit=100&includePagination=false');
        expect(withoutPagination.body.pagination).toBeUndefined();
        expect(problems(api, 'listCalls', withoutPagination.body)).toEqual([]);
    });

    it('/call-details validates for calls of every status, type and quirk', async () => {
        const sample = [...new Map(listed.map((call) => [`${call.status}|${call.type}`, call])).values(), ...listed.slice(0, 40)];
        expect(sample.length).toBeGreaterThan(50);
        for (const call of sample) {
            const response = await request(emulator, `/call-details?id=${call.id}&includeAudio=true&includeVideo=true`);
            expect(response.status).toBe(200);
            expect(problems(api, 'getCallDetails', response.body), call.id).toEqual([]);
        }
    });

    it('error bodies are JSON objects as the spec says', async () => {
        const notFound = await request(emulator, '/call-details?id=does-not-exist');
        const badRequest = await request(emulator, '/calls?limit=101');
        expect(problems(api, 'getCallDetails', notFound.body, 404)).toEqual([]);
        expect(problems(api, 'listCalls', badRequest.body, 400)).toEqual([]);
    });

    it('serves each documented real-world deviation, so a sync meets them locally', async () => {
        const personIds = listed.flatMap((call) => (Array.isArray(call.users) ? call.users.map((user) => typeof user.personId) : []));
        expect(new Set(personIds)).toEqual(new Set(['number', 'string']));
        expect(listed.some((call) => call.type === 'RECORDING')).toBe(true);
        expect(listed.some((call) => call.audio_url === null)).toBe(true);
        expect(listed.some((call) => call.source_id === undefined)).toBe(true);

        const timestamps = new Set<string>();
        for (const call of listed.filter((entry) => entry.status === 'POST_PROCESSING_DONE').slice(0, 60)) {
            const details = await request<{ call: ListedCall }>(emulator, `/call-details?id=${call.id}`);
            for (const topic of details.body.call.summary?.topics_discussed ?? []) {
                timestamps.add(topic.start_timestamp === 'NaN' ? 'NaN' : typeof topic.start_timestamp);
            }
        }
        expect(timestamps).toEqual(new Set(['number', 'string', 'NaN']));
    });

    it('fails on a payload that breaks the schema (the check is live)', async () => {
        const fresh = createClariEmulator({ calls: 60, seed: 7, rate: 0 });
        const mutation = await request<{ corrupt: string[] }>(fresh, '/_control/mutate', { method: 'POST', body: { corrupt: 2 } });
        expect(mutation.body.corrupt).toHaveLength(2);
        const page = await request<CallsPage>(fresh, '/calls?limit=25');
        const errors = problems(api, 'listCalls', page.body).join('\n');
        expect(errors).toContain('/users');
        expect(errors).toContain('/time');
    });

    it('rejects undocumented properties and deviations the notes do not allow', async () => {
        const processed = listed.find((call) => call.status === 'POST_PROCESSING_DONE');
        const details = await request<{ call: Record<string, unknown> & ListedCall }>(emulator, `/call-details?id=${processed?.id ?? ''}`);
        const call = structuredClone(details.body.call);
        expect(problems(api, 'getCallDetails', { call })).toEqual([]);
        const broken = {
            ...call,
            undocumented_field: true,
            type: 'SKYPE',
            transcript: call.transcript?.map((turn, index) => (index === 0 ? { ...turn, personId: 'speaker-a' } : turn)),
            summary: { ...call.summary, topics_discussed: [{ name: 'x', start_timestamp: 'soon', end_timestamp: 1, summary: 'y' }] }
        };
        const errors = problems(api, 'getCallDetails', { call: broken }).join('\n');
        expect(errors).toContain('undocumented_field');
        expect(errors).toContain('/call/type');
        expect(errors).toContain('/call/transcript/0/personId');
        expect(errors).toContain('/call/summary/topics_discussed/0/start_timestamp');
    });
});
