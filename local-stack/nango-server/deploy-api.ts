import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

import type { ConnectionsStore } from './connections.js';
import { confirmationBodySchema, deployBodySchema, flowInputs, flowKey, type DeployBody } from './deploy-flows.js';
import type { DeployedFlow, DeployedFlowType, DeployFlowInput, DeploymentsStore } from './deployments.js';
import { rejectQuery, sendError, zodErrorToHttp, type ValidationError } from './http-errors.js';
import { isSyncOrAction, openAIFunctions, standardConfig } from './scripts-config.js';

/**
 * What the pinned CLI's `nango deploy` talks to: POST /sync/deploy/confirmation (the differences it
 * shows and judges destructive), POST /sync/deploy (stores the scripts), and GET /scripts/config
 * (@nangohq/node getScriptsConfig) listing what is deployed.
 */

/** A deploy carries every compiled script; Fastify's 1 MiB default would refuse a project of modest size. */
const DEPLOY_BODY_LIMIT = 50 * 1024 * 1024;

const scriptsConfigQuerySchema = z.strictObject({ format: z.enum(['nango', 'openai']).default('nango') });

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

/** What a deploy reads and writes: the local store, or the inbox that holds a deploy until the store opens. */
export interface DeployTarget {
    deployments: Pick<DeploymentsStore, 'deployFlows' | 'listDeployedFlows'>;
    connections: Pick<ConnectionsStore, 'countConnections'>;
}

export interface DeployApiOptions {
    store: DeployTarget;
    /** The only integration this server knows; a flow for any other is refused. */
    providerConfigKey: string;
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

function onEventOf(flow: DeployFlowInput | DeployedFlow): string {
    const event = flow.rawConfig['event'];
    return typeof event === 'string' ? event : '';
}

/**
 * What deploying `incoming` would change. A single-script or single-integration deploy
 * (singleDeployMode) never removes anything, so it reports no deletions.
 */
async function differences(
    store: DeployTarget,
    current: readonly DeployedFlow[],
    incoming: readonly DeployFlowInput[],
    singleDeployMode: boolean
): Promise<ScriptDifferences> {
    const connectionCounts = new Map<string, number>();
    const connections = async (providerConfigKey: string): Promise<number> => {
        let count = connectionCounts.get(providerConfigKey);
        if (count === undefined) {
            count = await store.connections.countConnections(providerConfigKey);
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
        const current = await store.deployments.listDeployedFlows();
        const incoming = flowInputs(body, current);
        return reply.send(await differences(store, current, incoming, body.singleDeployMode ?? false));
    });

    app.post('/sync/deploy', { bodyLimit: DEPLOY_BODY_LIMIT }, async (request, reply) => {
        const body = rejectQuery(request, reply) ? undefined : parseBody(deployBodySchema, request, reply);
        if (!body) {
            return reply;
        }
        const incoming = flowInputs(body, await store.deployments.listDeployedFlows());
        // The CLI sends reconcile: true even for `--sync x` or `--integration y`; those must not remove the rest.
        const { deployed } = await store.deployments.deployFlows(incoming, {
            reconcile: body.reconcile && !(body.singleDeployMode ?? false)
        });
        return reply.send(deployed.filter(isSyncOrAction).map(deploymentResult));
    });

    app.get('/scripts/config', async (request, reply) => {
        const query = scriptsConfigQuerySchema.safeParse(request.query);
        if (!query.success) {
            return sendError(reply, 400, 'invalid_query_params', { errors: zodErrorToHttp(query.error) });
        }
        const flows = await store.deployments.listDeployedFlows();
        return reply.send(query.data.format === 'openai' ? { data: openAIFunctions(flows) } : standardConfig(flows));
    });
}
