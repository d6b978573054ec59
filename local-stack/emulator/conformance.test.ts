import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { OpenAPIBackend } from 'openapi-backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClariEmulator, type ClariEmulator } from './server.js';
import { listAll, request, type CallsPage, type ListedCall } from './test-helpers.js';

/**
 * Checks the emulator against clari-copilot-openapi.yml, this project's restatement of Clari's published
 * spec for /calls and /call-details: every parameter's bounds, enums and defaults are probed, and real
 * responses are validated with openapi-backend. The response schemas are patched only where real payloads
 * are known to differ (README.md, "Where the facts come from"); everything else must match, and the patch
 * also forbids properties the document does not define.
 */

const SPEC_PATH = new URL('./clari-copilot-openapi.yml', import.meta.url);

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

function loadSpec(): Schema {
    return yaml.load(readFileSync(SPEC_PATH, 'utf8')) as Schema;
}

function patchedSpec(): Schema {
    const spec = loadSpec();
    const schemas = child(spec, 'components', 'schemas');
    const properties = (name: string): Schema => child(schemas, name, 'properties');

    // Observed deviation (README.md): `type` can be RECORDING (in the spec's APICallType, not CallType).
    properties('Call')['type'] = { anyOf: [schemas['CallType'], schemas['APICallType']] };
    // Observed deviation (README.md): personId arrives as a number or as a (numeric) string.
    properties('CallUser')['personId'] = numericOrString;
    properties('CallParticipant')['personId'] = numericOrString;
    properties('JoinedParticipant')['personId'] = numericOrString;
    properties('CompetitorSentiments')['personId'] = numericOrString;
    const detailsExtra = child(schemas, 'CallDetails', 'allOf', '1', 'properties');
    child(detailsExtra, 'transcript', 'items', 'properties')['personId'] = numericOrString;
    // Observed deviation (README.md): summary timestamps are numbers, numeric strings or the string "NaN".
    const looseTimestamp = { oneOf: [{ type: 'number' }, { type: 'string', pattern: '^([0-9]+(\\.[0-9]+)?|NaN)$' }] };
    for (const name of ['SummaryTopics', 'SummaryActionItems']) {
        properties(name)['start_timestamp'] = looseTimestamp;
        properties(name)['end_timestamp'] = looseTimestamp;
    }
    // Observed deviation (README.md): `audio_url: null` appears (a call without recording).
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

const parameterSchema = z.object({
    type: z.enum(['integer', 'string', 'boolean', 'array']),
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    default: z.union([z.string(), z.number(), z.boolean()]).optional(),
    enum: z.array(z.union([z.string(), z.number(), z.boolean()])).optional(),
    format: z.string().optional(),
    items: z.object({ type: z.string(), enum: z.array(z.string()).optional() }).optional()
});
const parametersSchema = z.array(
    z.object({ name: z.string(), in: z.literal('query'), required: z.boolean().optional(), schema: parameterSchema })
);
type Parameter = z.infer<typeof parametersSchema>[number];

interface Probe {
    value: string;
    status: 200 | 400;
    why: string;
}

/** Values the document accepts and values it rules out, for one query parameter. */
function probes({ schema }: Parameter): Probe[] {
    const found: Probe[] = [];
    const { minimum, maximum } = schema;
    if (schema.type === 'integer') {
        found.push({ value: '2.5', status: 400, why: 'not an integer' });
    }
    if (minimum !== undefined) {
        found.push(
            { value: String(minimum), status: 200, why: 'its minimum' },
            { value: String(minimum - 1), status: 400, why: 'below its minimum' }
        );
    }
    if (maximum !== undefined) {
        found.push(
            { value: String(maximum), status: 200, why: 'its maximum' },
            { value: String(maximum + 1), status: 400, why: 'above its maximum' }
        );
    }
    const allowed = schema.enum ?? schema.items?.enum;
    if (allowed !== undefined) {
        found.push(...allowed.map((value) => ({ value: String(value), status: 200 as const, why: 'a listed value' })));
        found.push({ value: 'NOT_LISTED', status: 400, why: 'not a listed value' });
    }
    if (schema.format === 'date-time') {
        found.push(
            { value: '2024-03-01T00:00:00Z', status: 200, why: 'a date-time' },
            { value: 'yesterday', status: 400, why: 'not a date-time' }
        );
    }
    return found;
}

/**
 * Every way the emulator's query handling disagrees with the document's parameters: bounds, enums,
 * date-time formats, required parameters, and defaults (leaving a parameter out must answer exactly as
 * passing its default). `base` is a query every request of the operation carries.
 */
async function parameterMismatches(spec: Schema, emulator: ClariEmulator, path: string, base: string): Promise<string[]> {
    const parameters = parametersSchema.parse(child(dereference(spec, spec), 'paths', path, 'get')['parameters']);
    const mismatches: string[] = [];
    const get = (query: string): Promise<{ status: number; raw: string }> =>
        request(emulator, `${path}?${[base, query].filter((part) => part !== '').join('&')}`);
    for (const parameter of parameters) {
        const { name } = parameter;
        if (parameter.required) {
            const without = await request(emulator, path);
            if (without.status !== 400) {
                mismatches.push(`GET ${path} without ${name} answered ${without.status}, the document requires ${name}`);
            }
        }
        for (const probe of probes(parameter)) {
            const response = await get(`${name}=${encodeURIComponent(probe.value)}`);
            if (response.status !== probe.status) {
                mismatches.push(`${name}=${probe.value} (${probe.why}) answered ${response.status}, the document means ${probe.status}`);
            }
        }
        if (parameter.schema.default !== undefined) {
            const omitted = await get('');
            const given = await get(`${name}=${encodeURIComponent(String(parameter.schema.default))}`);
            if (omitted.status !== 200 || given.raw !== omitted.raw) {
                mismatches.push(`leaving ${name} out does not answer as its default ${String(parameter.schema.default)} does`);
            }
        }
    }
    return mismatches;
}

type Json = Record<string, unknown>;

describe('conformance with the Clari Copilot OpenAPI document', () => {
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

    it('honours every parameter bound, enum, date-time format, requirement and default the document states', async () => {
        const spec = loadSpec();
        expect(await parameterMismatches(spec, emulator, '/calls', '')).toEqual([]);
        expect(await parameterMismatches(spec, emulator, '/call-details', `id=${listed[0]?.id ?? ''}`)).toEqual([]);
    });

    it('notices when the emulator and the document disagree on a parameter', async () => {
        const drifted = loadSpec();
        const parameters = child(drifted, 'paths', '/calls', 'get', 'parameters');
        // Edits the document in place: zod would hand back copies.
        const schemaOf = (name: string): Json => {
            const index = Object.values(parameters).findIndex((parameter) => (parameter as Json)['name'] === name);
            return child(parameters, String(index), 'schema');
        };
        schemaOf('limit')['maximum'] = 50;
        schemaOf('skip')['maximum'] = 20_000;
        schemaOf('includePagination')['default'] = false;
        const statuses = z.array(z.string()).parse(child(drifted, 'components', 'schemas', 'CallStatus')['enum']);
        child(drifted, 'components', 'schemas', 'CallStatus')['enum'] = [...statuses, 'ARCHIVED'];

        const mismatches = (await parameterMismatches(drifted, emulator, '/calls', '')).join('\n');
        expect(mismatches).toContain('limit=51 (above its maximum) answered 200');
        expect(mismatches).toContain('skip=20000 (its maximum) answered 400');
        expect(mismatches).toContain('filterStatus=ARCHIVED (a listed value) answered 400');
        expect(mismatches).toContain('leaving includePagination out');
    });

    it.each<[string, (call: Json, pagination: Json) => void, string]>([
        ['a status outside CallStatus', (call) => (call['status'] = 'ARCHIVED'), '/calls/0/status'],
        ['an unknown disposition', (call) => (call['disposition'] = 'HUNG_UP'), '/calls/0/disposition'],
        ['an unknown bot_not_join_reason', (call) => (call['bot_not_join_reason'] = ['ASLEEP']), '/calls/0/bot_not_join_reason/0'],
        ['a time that is not a date-time', (call) => (call['time'] = 'yesterday'), '/calls/0/time'],
        ['a fractional call_duration', (call) => (call['metrics'] = { call_duration: 12.5 }), '/calls/0/metrics/call_duration'],
        ['a numeric CRM deal id', (call) => (call['crm_info'] = { deal_id: 42 }), '/calls/0/crm_info/deal_id'],
        ['a property the document does not define', (call) => (call['duration_minutes'] = 3), 'duration_minutes'],
        ['matched as a string', (_call, pagination) => (pagination['matched'] = '12'), '/pagination/matched'],
        ['nextPageSkip as a string', (_call, pagination) => (pagination['nextPageSkip'] = '25'), '/pagination/nextPageSkip'],
        ['an undocumented pagination field', (_call, pagination) => (pagination['total'] = 12), 'total']
    ])('fails a /calls page that drifted from the document: %s', (_what, drift, where) => {
        const call = structuredClone(listed[0]) as unknown as Json;
        const pagination: Json = { matched: 1, hasMore: false };
        expect(problems(api, 'listCalls', { calls: [call], pagination })).toEqual([]);
        drift(call, pagination);
        expect(problems(api, 'listCalls', { calls: [call], pagination }).join('\n')).toContain(where);
    });

    it('error bodies are JSON objects as the document says', async () => {
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

    it('stays within the document under the issue-13 conditions: ties, unstable order, reschedules, silent changes, faults', async () => {
        const moving = createClariEmulator({ calls: 200, seed: 8, rate: 0, ties: true, unstableTies: true, clockOffsetMs: -60_000 });
        const mutated = await request<{ reschedule: string[]; silentChange: string[] }>(moving, '/_control/mutate', {
            method: 'POST',
            body: { reschedule: 3, rescheduleTo: 'future', silentChange: 3 }
        });
        for (const query of ['', '&sortTime=asc', '&sortProcessed=desc']) {
            for (const page of (await listAll(moving, query)).pages) {
                expect(problems(api, 'listCalls', page)).toEqual([]);
            }
        }
        for (const id of [...mutated.body.reschedule, ...mutated.body.silentChange]) {
            const response = await request(moving, `/call-details?id=${id}`);
            expect(problems(api, 'getCallDetails', response.body), id).toEqual([]);
        }
        // Deliberate faults still send bodies of the documented shapes: the error object, and a (wrong) listing.
        const [stuck = ''] = mutated.body.silentChange;
        await request(moving, '/_control/faults', {
            method: 'PUT',
            body: {
                rules: [
                    { kind: '400', callIds: [stuck] },
                    { kind: 'empty-listing', count: 1 },
                    { kind: 'truncated-page', count: 1 }
                ]
            }
        });
        const tooLarge = await request(moving, `/call-details?id=${stuck}`);
        expect(tooLarge.status).toBe(400);
        expect(problems(api, 'getCallDetails', tooLarge.body, 400)).toEqual([]);
        for (const fault of ['empty-listing', 'truncated-page']) {
            const response = await request(moving, '/calls?limit=50');
            expect(problems(api, 'listCalls', response.body), fault).toEqual([]);
        }
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
