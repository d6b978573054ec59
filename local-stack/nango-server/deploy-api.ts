import type { Nango, NangoSyncConfig, StandardNangoConfig } from '@nangohq/node';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

import { rejectQuery, sendError, zodErrorToHttp, type ValidationError } from './http-errors.js';
import { PROVIDER } from './proxy.js';
import { toJsonObject, type JsonObject, type JsonValue } from './record-codec.js';
import type { DeployedFlow, DeployedFlowType, DeployFlowInput, RecordStore } from './store.js';

/**
 * What the pinned CLI's `nango deploy` talks to: POST /sync/deploy/confirmation (the differences it
 * shows and judges destructive), POST /sync/deploy (stores the scripts), and GET /scripts/config
 * (@nangohq/node getScriptsConfig) listing what is deployed.
 */

/** A deploy carries every compiled script; Fastify's 1 MiB default would refuse a project of modest size. */
const DEPLOY_BODY_LIMIT = 50 * 1024 * 1024;

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
const confirmationBodySchema = z.looseObject(commonBody);
const deployBodySchema = z.looseObject({ ...commonBody, nangoYamlBody: z.string() });

type DeployBody = z.infer<typeof confirmationBodySchema>;
type FlowConfig = z.infer<typeof flowConfigSchema>;

const scriptsConfigQuerySchema = z.strictObject({ format: z.enum(['nango', 'openai']).default('nango') });

type OpenAIFunction = Exclude<Awaited<ReturnType<Nango['getScriptsConfig']>>, StandardNangoConfig[]>['data'][number];

interface SlimSync {
    name: string;
    providerConfigKey: string;
    auto_start: boolean;
    connections: number;
}

interface SlimAction {
    name: string;
    providerConfigKey: string;
}

interface SlimOnEventScript extends SlimAction {
    event: string;
}

/** The answer to POST /sync/deploy/confirmation; the CLI reads newSyncs, deletedSyncs and deletedModels. */
export interface ScriptDifferences {
    newSyncs: SlimSync[];
    updatedSyncs: SlimSync[];
    deletedSyncs: SlimSync[];
    newActions: SlimAction[];
    updatedActions: SlimAction[];
    deletedActions: SlimAction[];
    newOnEventScripts: SlimOnEventScript[];
    updatedOnEventScripts: SlimOnEventScript[];
    deletedOnEventScripts: SlimOnEventScript[];
    deletedModels: string[];
}

/** One entry of the POST /sync/deploy answer; the CLI prints `name@vversion`. */
export interface SyncDeploymentResult {
    name: string;
    version: string;
    providerConfigKey: string;
    type: 'sync' | 'action';
    last_deployed: string;
    input: string | null;
    models: string[];
    runs: string | null;
}

export interface DeployApiOptions {
    store: RecordStore;
    /** The only integration this server knows; a flow for any other is refused. */
    providerConfigKey: string;
}

function isJsonObject(value: JsonValue | undefined): value is JsonObject {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function flowKey(flow: { providerConfigKey: string; type: DeployedFlowType; name: string }): string {
    return JSON.stringify([flow.providerConfigKey, flow.type, flow.name]);
}

function invalidBody(reply: FastifyReply, errors: ValidationError[]): FastifyReply {
    const first = errors[0];
    const where = first && first.path.length > 0 ? `${first.path.join('.')}: ` : '';
    return sendError(reply, 400, 'invalid_body', { message: first ? `${where}${first.message}` : 'invalid body', errors });
}

/** What the schemas cannot see: the integration must be this server's, and a script may appear once. */
function semanticErrors(body: DeployBody, providerConfigKey: string): ValidationError[] {
    const errors: ValidationError[] = [];
    const unknownIntegration = (key: string, path: (string | number)[]): void => {
        if (key !== providerConfigKey) {
            errors.push({
                code: 'unknown_integration',
                message: `integration "${key}" does not exist on this server, which only serves "${providerConfigKey}"`,
                path
            });
        }
    };
    const seen = new Set<string>();
    const once = (key: string, what: string, path: (string | number)[]): void => {
        if (seen.has(key)) {
            errors.push({ code: 'duplicate_script', message: `${what} is listed more than once`, path });
        }
        seen.add(key);
    };
    body.flowConfigs.forEach((flow, index) => {
        unknownIntegration(flow.providerConfigKey, ['flowConfigs', index, 'providerConfigKey']);
        once(
            flowKey({ providerConfigKey: flow.providerConfigKey, type: flow.type, name: flow.syncName }),
            `${flow.type} "${flow.syncName}"`,
            ['flowConfigs', index, 'syncName']
        );
    });
    body.onEventScriptsByProvider?.forEach((group, index) => {
        unknownIntegration(group.providerConfigKey, ['onEventScriptsByProvider', index, 'providerConfigKey']);
        group.scripts.forEach((script, scriptIndex) => {
            once(
                flowKey({ providerConfigKey: group.providerConfigKey, type: 'on-event', name: script.name }),
                `on-event script "${script.name}"`,
                ['onEventScriptsByProvider', index, 'scripts', scriptIndex, 'name']
            );
        });
    });
    return errors;
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
function flowInputs(body: DeployBody, current: readonly DeployedFlow[]): DeployFlowInput[] {
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

function onEventOf(flow: DeployFlowInput | DeployedFlow): string {
    const event = flow.rawConfig['event'];
    return typeof event === 'string' ? event : '';
}

/**
 * What deploying `incoming` would change. A single-script or single-integration deploy
 * (singleDeployMode) never removes anything, so it reports no deletions.
 */
async function differences(
    store: RecordStore,
    current: readonly DeployedFlow[],
    incoming: readonly DeployFlowInput[],
    singleDeployMode: boolean
): Promise<ScriptDifferences> {
    const connectionCounts = new Map<string, number>();
    const connections = async (providerConfigKey: string): Promise<number> => {
        let count = connectionCounts.get(providerConfigKey);
        if (count === undefined) {
            count = await store.countConnections(providerConfigKey);
            connectionCounts.set(providerConfigKey, count);
        }
        return count;
    };
    const slimSync = async (flow: DeployFlowInput): Promise<SlimSync> => ({
        name: flow.name,
        providerConfigKey: flow.providerConfigKey,
        auto_start: flow.autoStart,
        connections: await connections(flow.providerConfigKey)
    });
    const slimAction = (flow: DeployFlowInput): SlimAction => ({ name: flow.name, providerConfigKey: flow.providerConfigKey });
    const slimOnEvent = (flow: DeployFlowInput): SlimOnEventScript => ({ ...slimAction(flow), event: onEventOf(flow) });

    const currentByKey = new Map(current.map((flow) => [flowKey(flow), flow]));
    const incomingKeys = new Set(incoming.map(flowKey));
    const added = incoming.filter((flow) => !currentByKey.has(flowKey(flow)));
    const updated = incoming.filter((flow) => currentByKey.has(flowKey(flow)));
    const deleted = singleDeployMode ? [] : current.filter((flow) => !incomingKeys.has(flowKey(flow)));
    const remaining = [...incoming, ...current.filter((flow) => singleDeployMode && !incomingKeys.has(flowKey(flow)))];

    const syncModels = (flows: readonly DeployFlowInput[]): Set<string> =>
        new Set(flows.filter((flow) => flow.type === 'sync').flatMap((flow) => flow.models));
    const kept = syncModels(remaining);
    const ofType = (flows: readonly DeployFlowInput[], type: DeployedFlowType): DeployFlowInput[] =>
        flows.filter((flow) => flow.type === type);
    return {
        newSyncs: await Promise.all(ofType(added, 'sync').map(slimSync)),
        updatedSyncs: await Promise.all(ofType(updated, 'sync').map(slimSync)),
        deletedSyncs: await Promise.all(ofType(deleted, 'sync').map(slimSync)),
        newActions: ofType(added, 'action').map(slimAction),
        updatedActions: ofType(updated, 'action').map(slimAction),
        deletedActions: ofType(deleted, 'action').map(slimAction),
        newOnEventScripts: ofType(added, 'on-event').map(slimOnEvent),
        updatedOnEventScripts: ofType(updated, 'on-event').map(slimOnEvent),
        deletedOnEventScripts: ofType(deleted, 'on-event').map(slimOnEvent),
        deletedModels: [...syncModels(current)].filter((model) => !kept.has(model))
    };
}

function deploymentResult(flow: DeployedFlow & { type: 'sync' | 'action' }): SyncDeploymentResult {
    return {
        name: flow.name,
        version: flow.version,
        providerConfigKey: flow.providerConfigKey,
        type: flow.type,
        last_deployed: flow.deployedAt.toISOString(),
        input: flow.inputModel,
        models: flow.models,
        runs: flow.runs
    };
}

function isSyncOrAction(flow: DeployedFlow): flow is DeployedFlow & { type: 'sync' | 'action' } {
    return flow.type !== 'on-event';
}

function scriptConfig(flow: DeployedFlow): NangoSyncConfig {
    const attributes = flow.rawConfig['attributes'];
    const webhookSubscriptions = flow.rawConfig['webhookSubscriptions'];
    return {
        name: flow.name,
        type: flow.type,
        runs: flow.runs,
        auto_start: flow.autoStart,
        attributes: isJsonObject(attributes) ? attributes : {},
        ...(flow.description === null ? {} : { description: flow.description }),
        scopes: flow.scopes,
        metadata: { scopes: flow.scopes, ...(flow.description === null ? {} : { description: flow.description }) },
        track_deletes: flow.trackDeletes,
        returns: flow.models,
        endpoints: flow.endpoints,
        is_public: false,
        pre_built: false,
        version: flow.version,
        last_deployed: flow.deployedAt.toISOString(),
        ...(flow.inputModel === null ? {} : { input: flow.inputModel }),
        ...(flow.syncType === null ? {} : { sync_type: flow.syncType }),
        webhookSubscriptions: Array.isArray(webhookSubscriptions)
            ? webhookSubscriptions.filter((item): item is string => typeof item === 'string')
            : [],
        enabled: true,
        json_schema: flow.jsonSchema,
        is_zero_yaml: false,
        sdk_version: flow.sdkVersion
    };
}

/** Deployed flows grouped per integration, in the StandardNangoConfig shape @nangohq/node declares. */
export function standardConfig(flows: readonly DeployedFlow[]): StandardNangoConfig[] {
    const byIntegration = new Map<string, StandardNangoConfig>();
    for (const flow of flows) {
        let config = byIntegration.get(flow.providerConfigKey);
        if (!config) {
            config = { providerConfigKey: flow.providerConfigKey, provider: PROVIDER, syncs: [], actions: [], 'on-events': [] };
            byIntegration.set(flow.providerConfigKey, config);
        }
        const list = flow.type === 'sync' ? config.syncs : flow.type === 'action' ? config.actions : config['on-events'];
        list.push(scriptConfig(flow));
    }
    return [...byIntegration.values()];
}

/** `- name: what it is` lines of a description, which document an action's parameters. */
function parameterDescriptions(description: string | undefined): Map<string, string> {
    const out = new Map<string, string>();
    for (const line of (description ?? '').split('\n')) {
        const match = /^\s*-\s*([^:]+?)\s*:\s*(.+?)\s*$/.exec(line);
        if (match?.[1] !== undefined && match[2] !== undefined) {
            out.set(match[1], match[2]);
        }
    }
    return out;
}

function inputParameters(flow: DeployedFlow): OpenAIFunction['parameters'] {
    const definitions = flow.jsonSchema?.['definitions'];
    const input = flow.inputModel !== null && isJsonObject(definitions) ? definitions[flow.inputModel] : undefined;
    const properties = isJsonObject(input) ? input['properties'] : undefined;
    const required = isJsonObject(input) ? input['required'] : undefined;
    const described = parameterDescriptions(flow.description ?? undefined);
    const out: OpenAIFunction['parameters'] = {
        type: 'object',
        properties: {},
        required: Array.isArray(required) ? required.filter((item): item is string => typeof item === 'string') : []
    };
    for (const [name, schema] of Object.entries(isJsonObject(properties) ? properties : {})) {
        const type = isJsonObject(schema) ? schema['type'] : undefined;
        const ownDescription = isJsonObject(schema) ? schema['description'] : undefined;
        out.properties[name] = {
            type:
                typeof type === 'string'
                    ? type
                    : Array.isArray(type)
                      ? type.filter((t): t is string => typeof t === 'string' && t !== 'null').join('|')
                      : 'object',
            description: described.get(name) ?? (typeof ownDescription === 'string' ? ownDescription : '')
        };
    }
    return out;
}

/** format=openai: syncs and actions as OpenAI function definitions; a sync takes no parameters. */
export function openAIFunctions(flows: readonly DeployedFlow[]): OpenAIFunction[] {
    return flows.filter(isSyncOrAction).map((flow) => ({
        name: flow.name,
        description: flow.description ?? `Runs the ${flow.type} ${flow.name} of the ${flow.providerConfigKey} integration`,
        parameters: flow.type === 'action' ? inputParameters(flow) : { type: 'object', properties: {}, required: [] }
    }));
}

export function registerDeployApi(app: FastifyInstance, options: DeployApiOptions): void {
    const { store, providerConfigKey } = options;

    /** The validated body, or undefined once the 400 is sent. */
    const parseBody = <T extends DeployBody>(schema: z.ZodType<T>, request: FastifyRequest, reply: FastifyReply): T | undefined => {
        const parsed = schema.safeParse(request.body);
        const errors = parsed.success ? semanticErrors(parsed.data, providerConfigKey) : zodErrorToHttp(parsed.error);
        if (!parsed.success || errors.length > 0) {
            invalidBody(reply, errors);
            return undefined;
        }
        return parsed.data;
    };

    app.post('/sync/deploy/confirmation', { bodyLimit: DEPLOY_BODY_LIMIT }, async (request, reply) => {
        const body = rejectQuery(request, reply) ? undefined : parseBody(confirmationBodySchema, request, reply);
        if (!body) {
            return reply;
        }
        const current = await store.listDeployedFlows();
        const incoming = flowInputs(body, current);
        return reply.send(await differences(store, current, incoming, body.singleDeployMode ?? false));
    });

    app.post('/sync/deploy', { bodyLimit: DEPLOY_BODY_LIMIT }, async (request, reply) => {
        const body = rejectQuery(request, reply) ? undefined : parseBody(deployBodySchema, request, reply);
        if (!body) {
            return reply;
        }
        const incoming = flowInputs(body, await store.listDeployedFlows());
        // The CLI sends reconcile: true even for `--sync x` or `--integration y`; those must not remove the rest.
        const { deployed } = await store.deployFlows(incoming, { reconcile: body.reconcile && !(body.singleDeployMode ?? false) });
        return reply.send(deployed.filter(isSyncOrAction).map(deploymentResult));
    });

    app.get('/scripts/config', async (request, reply) => {
        const query = scriptsConfigQuerySchema.safeParse(request.query);
        if (!query.success) {
            return sendError(reply, 400, 'invalid_query_params', { errors: zodErrorToHttp(query.error) });
        }
        const flows = await store.listDeployedFlows();
        return reply.send(query.data.format === 'openai' ? { data: openAIFunctions(flows) } : standardConfig(flows));
    });
}
