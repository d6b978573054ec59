import { z } from 'zod';

import { isJsonObject, toJsonObject, type JsonObject, type JsonValue } from './record-codec.js';
import type { DeployedFlow, DeployedFlowType, DeployFlowInput } from './deployments.js';

/**
 * The body `nango deploy` sends, and what it becomes for the deployments store: one input per script,
 * versioned against what is deployed and carrying only the schema definitions it uses.
 */

const nameSchema = z.string().min(1).max(255);

const fileBodySchema = z.strictObject({
    js: z.string().refine((js) => js.trim() !== '', { message: 'the compiled JS is empty; compile the scripts before deploying' }),
    ts: z.string()
});

const endpointSchema = z.strictObject({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    path: z.string().startsWith('/').max(1024),
    group: z.string().min(1).max(64).nullish()
});

// Strict like Nango's: a misspelt field would otherwise be dropped and silently take its default.
const flowConfigSchema = z
    .strictObject({
        type: z.enum(['sync', 'action']),
        syncName: nameSchema,
        providerConfigKey: nameSchema,
        models: z.array(nameSchema),
        version: z.string().max(255).optional(),
        runs: z.string().nullish(),
        track_deletes: z.boolean().optional(),
        auto_start: z.boolean().optional(),
        attributes: z.record(z.string(), z.unknown()).optional(),
        metadata: z
            .strictObject({
                description: z.string().max(2000).optional(),
                scopes: z.array(z.string().max(255)).optional()
            })
            .optional(),
        input: nameSchema.optional(),
        sync_type: z.enum(['incremental', 'full']).optional(),
        fileBody: fileBodySchema,
        endpoints: z.array(endpointSchema).optional(),
        webhookSubscriptions: z.array(z.string().max(255)).optional()
    })
    .refine((flow) => flow.type !== 'sync' || Boolean(flow.runs?.trim()), {
        path: ['runs'],
        message: 'a sync needs a schedule in runs, e.g. "every hour"'
    });

const onEventScriptsSchema = z.strictObject({
    providerConfigKey: nameSchema,
    scripts: z.array(
        z.strictObject({
            name: nameSchema,
            fileBody: fileBodySchema,
            event: z.enum(['post-connection-creation', 'pre-connection-deletion'])
        })
    )
});

const commonBody = {
    flowConfigs: z.array(flowConfigSchema),
    onEventScriptsByProvider: z.array(onEventScriptsSchema).optional(),
    jsonSchema: z.looseObject({ definitions: z.record(z.string(), z.record(z.string(), z.unknown())) }).optional(),
    reconcile: z.boolean(),
    debug: z.boolean(),
    singleDeployMode: z.boolean().optional(),
    sdkVersion: z.string().max(255).optional()
};

// Loose at the top: fields a CLI adds that the stand-in has no use for pass; the ones it reads are checked.
export const confirmationBodySchema = z.looseObject(commonBody);
export const deployBodySchema = z.looseObject({ ...commonBody, nangoYamlBody: z.string() });

export type DeployBody = z.infer<typeof confirmationBodySchema>;
type FlowConfig = z.infer<typeof flowConfigSchema>;

export function flowKey(flow: { providerConfigKey: string; type: DeployedFlowType; name: string }): string {
    return JSON.stringify([flow.providerConfigKey, flow.type, flow.name]);
}

/** An unversioned script starts at 0.0.1 and moves up a patch at each deploy, as on Nango. */
function resolveVersion(sent: string | undefined, previous: string | undefined): string {
    if (sent !== undefined && sent.trim() !== '') {
        return sent;
    }
    if (previous === undefined) {
        return '0.0.1';
    }
    const semver = /^(\d+)\.(\d+)\.(\d+)$/.exec(previous);
    if (!semver) {
        return previous;
    }
    const [, major = '0', minor = '0', patch = '0'] = semver;
    return `${major}.${minor}.${Number(patch) + 1}`;
}

function collectRefs(value: JsonValue, into: string[]): void {
    if (Array.isArray(value)) {
        value.forEach((item) => {
            collectRefs(item, into);
        });
        return;
    }
    if (!isJsonObject(value)) {
        return;
    }
    for (const [key, child] of Object.entries(value)) {
        if (key === '$ref' && typeof child === 'string' && child.startsWith('#/definitions/')) {
            into.push(child.slice('#/definitions/'.length));
        } else {
            collectRefs(child, into);
        }
    }
}

/** The deploy's schema narrowed to the definitions `roots` reach, so each flow carries what it uses. */
function schemaFor(jsonSchema: JsonObject | null, roots: readonly string[]): JsonObject | null {
    const definitions = jsonSchema?.['definitions'];
    if (!jsonSchema || !isJsonObject(definitions)) {
        return null;
    }
    const picked: JsonObject = {};
    const pending = [...roots];
    for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
        const definition = definitions[name];
        if (name in picked || definition === undefined) {
            continue;
        }
        picked[name] = definition;
        collectRefs(definition, pending);
    }
    return { ...jsonSchema, definitions: picked };
}

function withoutFileBody(flow: object): JsonObject {
    const { fileBody: _fileBody, ...rest } = flow as { fileBody?: unknown };
    return toJsonObject(rest);
}

function flowInput(flow: FlowConfig, jsonSchema: JsonObject | null, version: string, sdkVersion: string | null): DeployFlowInput {
    const isSync = flow.type === 'sync';
    return {
        providerConfigKey: flow.providerConfigKey,
        type: flow.type,
        name: flow.syncName,
        version,
        runs: isSync ? (flow.runs ?? null) : null,
        models: flow.models,
        endpoints: (flow.endpoints ?? []).map(({ method, path, group }) => (group ? { method, path, group } : { method, path })),
        syncType: isSync ? (flow.sync_type ?? 'full') : null,
        trackDeletes: isSync && (flow.track_deletes ?? false),
        autoStart: isSync && (flow.auto_start ?? true),
        inputModel: flow.input ?? null,
        description: flow.metadata?.description ?? null,
        scopes: flow.metadata?.scopes ?? [],
        js: flow.fileBody.js,
        ts: flow.fileBody.ts,
        jsonSchema: schemaFor(jsonSchema, [...flow.models, ...(flow.input ? [flow.input] : [])]),
        rawConfig: withoutFileBody(flow),
        sdkVersion
    };
}

/** The deployment as store inputs; unversioned scripts are numbered against what is deployed now. */
export function flowInputs(body: DeployBody, current: readonly DeployedFlow[]): DeployFlowInput[] {
    const previous = new Map(current.map((flow) => [flowKey(flow), flow.version]));
    const jsonSchema = body.jsonSchema ? toJsonObject(body.jsonSchema) : null;
    const sdkVersion = body.sdkVersion ?? null;
    const inputs = body.flowConfigs.map((flow) => {
        const key = flowKey({ providerConfigKey: flow.providerConfigKey, type: flow.type, name: flow.syncName });
        return flowInput(flow, jsonSchema, resolveVersion(flow.version, previous.get(key)), sdkVersion);
    });
    for (const group of body.onEventScriptsByProvider ?? []) {
        for (const script of group.scripts) {
            const key = flowKey({ providerConfigKey: group.providerConfigKey, type: 'on-event', name: script.name });
            inputs.push({
                providerConfigKey: group.providerConfigKey,
                type: 'on-event',
                name: script.name,
                version: resolveVersion(undefined, previous.get(key)),
                runs: null,
                models: [],
                endpoints: [],
                syncType: null,
                trackDeletes: false,
                autoStart: false,
                inputModel: null,
                description: null,
                scopes: [],
                js: script.fileBody.js,
                ts: script.fileBody.ts,
                jsonSchema: null,
                rawConfig: toJsonObject({ providerConfigKey: group.providerConfigKey, name: script.name, event: script.event }),
                sdkVersion
            });
        }
    }
    return inputs;
}
