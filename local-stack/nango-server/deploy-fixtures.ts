/** What `nango deploy` (0.69.14) sends, trimmed to toy scripts, for the tests of the deploy API and its inbox. */

export const KEY = 'clari-copilot';
export const JS = '"use strict";\nmodule.exports = { default: async function fetchData(nango) { await nango.log("run"); } };\n';
export const TS = 'export default async function fetchData(nango: NangoSync): Promise<void> {}\n';

export type Json = Record<string, unknown>;

export const JSON_SCHEMA = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $comment: 'generated',
    definitions: {
        Options: { type: 'object', properties: { backfillDays: { type: 'number' } }, required: [] },
        Call: { type: 'object', properties: { id: { type: 'string' }, user: { $ref: '#/definitions/User' } }, required: ['id'] },
        User: { type: 'object', properties: { email: { type: ['string', 'null'] } }, required: ['email'] },
        NoteInput: {
            type: 'object',
            properties: { callId: { type: 'string' }, text: { type: 'string' } },
            required: ['callId', 'text']
        },
        Note: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        Contact: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }
    }
};

export function syncFlow(overrides: Json = {}): Json {
    return {
        syncName: 'calls',
        providerConfigKey: KEY,
        models: ['Call'],
        version: '1.0.0',
        runs: 'every hour',
        track_deletes: false,
        auto_start: true,
        attributes: {},
        metadata: { description: 'Fetches calls', scopes: [] },
        input: 'Options',
        sync_type: 'incremental',
        type: 'sync',
        fileBody: { js: JS, ts: TS },
        endpoints: [{ method: 'GET', path: '/calls', group: 'Calls' }],
        webhookSubscriptions: [],
        ...overrides
    };
}

export function actionFlow(overrides: Json = {}): Json {
    return {
        syncName: 'create-note',
        providerConfigKey: KEY,
        models: ['Note'],
        version: '0.1.0',
        runs: null,
        metadata: { description: 'Adds a note to a call.\n- callId: the call to annotate\n- text: what the note says', scopes: [] },
        input: 'NoteInput',
        type: 'action',
        fileBody: { js: JS, ts: TS },
        endpoints: [{ method: 'POST', path: '/notes' }],
        track_deletes: false,
        ...overrides
    };
}

export function deployBody(flowConfigs: unknown, extra: Json = {}): Json {
    return {
        flowConfigs,
        onEventScriptsByProvider: [],
        jsonSchema: JSON_SCHEMA,
        reconcile: true,
        debug: false,
        nangoYamlBody: 'integrations: {}\n',
        singleDeployMode: false,
        sdkVersion: '0.69.14-yaml',
        ...extra
    };
}

/** The confirmation body is the deploy body without nangoYamlBody, and with reconcile false. */
export function confirmationBody(flowConfigs: unknown, extra: Json = {}): Json {
    const { nangoYamlBody: _yaml, ...rest } = deployBody(flowConfigs, { reconcile: false, ...extra });
    return rest;
}
