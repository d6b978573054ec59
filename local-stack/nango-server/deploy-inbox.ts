import Fastify from 'fastify';

import { PROVIDER_CONFIG_KEY } from '../../nango-integrations/clari-copilot/constants.js';
import { storeExists, type LocalStore } from './database.js';
import { registerDeployApi, type DeployTarget } from './deploy-api.js';
import { flowKey } from './deploy-flows.js';
import { listeningUrl } from './listening-url.js';
import type { DeployedFlow, DeployFlowInput } from './deployments.js';
import { sendError } from './http-errors.js';
import { requireSecretKey } from './secret-key.js';
import { replyWithNangoErrors } from './server-log.js';
import { openStoreInThread } from './store-thread.js';

/**
 * A local Nango that takes `nango deploy` while its store is closed. The pinned CLI type-checks the project in
 * about 300 MB of its own; `npm start` used to run it beside an open store, the emulator and the reference app,
 * and the two together held ~650 MB (bench/README.md, "Where the memory goes"). So `npm start` reads what is deployed,
 * closes the store, answers the CLI from what it read, and keeps the deployment the CLI sends. Once the CLI has
 * exited and the store is open again, the deployment is written with the same `deployFlows` a running local
 * Nango calls, so the store ends up exactly as if the CLI had deployed to it directly.
 */

/** What the store held when the inbox opened: the deploy API's view of it. */
export interface DeployedState {
    flows: DeployedFlow[];
    /** Connections of the integration, which the CLI's confirmation shows beside each sync. */
    connections: number;
}

/** A deployment as the CLI sent it, validated and versioned, waiting for the store. */
export interface TakenDeploy {
    flows: DeployFlowInput[];
    reconcile: boolean;
}

export interface DeployInbox {
    url: string;
    /** The last deployment the CLI sent, or null if none came. */
    taken(): TakenDeploy | null;
    close(): Promise<void>;
}

export interface DeployInboxOptions {
    before: DeployedState;
    secretKey: string;
    port?: number | undefined;
    host?: string | undefined;
    /** For the 500 lines on the console: the folder the deployment is for. */
    storeDir: string;
}

/** The code of the inbox's 503, which tells a second `npm start` that a local Nango is here, starting. */
export const STARTING_CODE = 'local_nango_starting';

/**
 * What the store in `dir` holds, read in a thread that is gone before the CLI starts. A store not created yet holds
 * nothing; the local Nango creates it once the CLI has exited.
 */
export async function readDeployedStateOf(dir: string): Promise<DeployedState> {
    if (!storeExists(dir)) {
        return { flows: [], connections: 0 };
    }
    const store = await openStoreInThread({ dir });
    try {
        return await readDeployedState(store);
    } finally {
        await store.close();
    }
}

async function readDeployedState(store: Pick<LocalStore, 'deployments' | 'connections'>): Promise<DeployedState> {
    return {
        flows: await store.deployments.listDeployedFlows(),
        connections: await store.connections.countConnections(PROVIDER_CONFIG_KEY)
    };
}

export function writeTakenDeploy(
    store: Pick<LocalStore, 'deployments'>,
    taken: TakenDeploy
): ReturnType<LocalStore['deployments']['deployFlows']> {
    return store.deployments.deployFlows(taken.flows, { reconcile: taken.reconcile });
}

export async function startDeployInbox(options: DeployInboxOptions): Promise<DeployInbox> {
    const { before } = options;
    let taken: TakenDeploy | null = null;
    let takenAt = Math.max(0, ...before.flows.map((flow) => flow.deployedAt.getTime()));

    /** What the store will hold once the taken deployment is written, as deployFlows would leave it. */
    const deployedNow = (): DeployedFlow[] => {
        if (taken === null) {
            return before.flows;
        }
        const sent = taken.flows.map((flow) => ({ ...flow, deployedAt: new Date(takenAt) }));
        const sentKeys = new Set(sent.map(flowKey));
        return taken.reconcile ? sent : [...before.flows.filter((flow) => !sentKeys.has(flowKey(flow))), ...sent];
    };

    const target: DeployTarget = {
        deployments: {
            listDeployedFlows: () => Promise.resolve(deployedNow()),
            deployFlows: (flows, { reconcile }) => {
                const earlier = deployedNow();
                // The store's rule: a redeploy is stamped later than the one before, even within one clock tick.
                takenAt = Math.max(Date.now(), takenAt + 1);
                taken = { flows: [...flows], reconcile };
                const kept = new Set(flows.map(flowKey));
                const removed = reconcile ? earlier.filter((flow) => !kept.has(flowKey(flow))) : [];
                const deployedAt = new Date(takenAt);
                return Promise.resolve({
                    deployed: flows.map((flow) => ({ ...flow, deployedAt })),
                    removed: removed.map(({ providerConfigKey, type, name }) => ({ providerConfigKey, type, name }))
                });
            }
        },
        connections: { countConnections: (key) => Promise.resolve(key === PROVIDER_CONFIG_KEY ? before.connections : 0) }
    };

    const app = Fastify({ logger: false });
    // Only the deploy API checks the key; every other route answers that the local Nango is starting, to anyone.
    requireSecretKey(app, options.secretKey, (request) => request.routeOptions.url === undefined);
    replyWithNangoErrors(app, { storeDir: options.storeDir, secrets: [options.secretKey] });
    app.setNotFoundHandler((_request, reply) =>
        sendError(reply, 503, STARTING_CODE, {
            message: 'The local Nango is starting: it takes nango deploy first and serves everything else once the deploy is stored.'
        })
    );
    registerDeployApi(app, { store: target, providerConfigKey: PROVIDER_CONFIG_KEY });

    const host = options.host ?? '127.0.0.1';
    await app.listen({ port: options.port ?? 0, host });
    return {
        url: listeningUrl(app, host),
        taken: () => taken,
        close: () => app.close()
    };
}
