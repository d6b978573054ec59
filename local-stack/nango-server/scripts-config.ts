import type { Nango, NangoSyncConfig, StandardNangoConfig } from '@nangohq/node';

import { PROVIDER } from '../../nango-integrations/clari-copilot/constants.js';
import { isJsonObject } from './record-codec.js';
import type { DeployedFlow } from './deployments.js';

/** GET /scripts/config's two answers: the deployed flows as @nangohq/node's StandardNangoConfig, or as OpenAI functions. */

type OpenAIFunction = Exclude<Awaited<ReturnType<Nango['getScriptsConfig']>>, StandardNangoConfig[]>['data'][number];

export function isSyncOrAction(flow: DeployedFlow): flow is DeployedFlow & { type: 'sync' | 'action' } {
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
