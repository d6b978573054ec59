import { PROVIDER_CONFIG_KEY } from '../../nango-integrations/clari-copilot/constants.js';
import type { LocalStore } from './database.js';
import type { ModelChanges } from './run-changes.js';
import { executionIdOf, type SyncRun } from './runs.js';
import { deliverWebhook, displayUrl, type DeliveryAttempt } from './webhook-delivery.js';

/**
 * Nango's sync webhooks, after every run this process records as finished: one body per model on success
 * (nothing when nothing changed, unless "always" is on), one for the run on failure, to the primary then the
 * secondary URL. Delivery runs beside the run, never before its end is recorded, and its outcome is only ever
 * written to the run's log and its attempts: it cannot delay or fail the run.
 */

export interface WebhookSettings {
    primaryUrl?: string | undefined;
    secondaryUrl?: string | undefined;
    signingKey: string;
    /** Nango's "send on every completion": a success webhook even when the run changed nothing. */
    always: boolean;
    /** Failure webhooks; on by default, as for Nango's new environments. */
    onError: boolean;
    /** Tests only: shorter waits than Nango's 3 s and 6 s. */
    retryDelaysMs?: readonly number[] | undefined;
    timeoutMs?: number | undefined;
}

export interface SyncSuccessWebhook {
    from: 'nango';
    type: 'sync';
    connectionId: string;
    providerConfigKey: string;
    syncName: string;
    syncVariant: string;
    model: string;
    syncType: 'INITIAL' | 'INCREMENTAL';
    success: true;
    responseResults: ModelChanges;
    modifiedAfter: string;
    queryTimeStamp: string;
    checkpoints?: SyncRun['checkpoints'];
}

export interface SyncFailureWebhook {
    from: 'nango';
    type: 'sync';
    connectionId: string;
    providerConfigKey: string;
    syncName: string;
    syncVariant: string;
    model: string;
    syncType: 'INITIAL' | 'INCREMENTAL';
    success: false;
    error: { type: 'script_error'; description: string };
    startedAt: string;
    failedAt: string;
}

export type SyncWebhook = SyncSuccessWebhook | SyncFailureWebhook;

export interface SyncWebhooks {
    /** Resolves once every delivery started so far has ended (its retries included). */
    settle(): Promise<void>;
    /** Stops listening for runs; deliveries in flight go on (await `settle`). */
    detach(): void;
}

const NO_CHANGES: ModelChanges = { added: 0, updated: 0, deleted: 0 };

/** The bodies Nango would send for `run`; empty when it would send none. */
export async function webhooksForRun(
    store: LocalStore,
    run: SyncRun,
    settings: Pick<WebhookSettings, 'always' | 'onError' | 'signingKey'>
): Promise<SyncWebhook[]> {
    const flow = (await store.deployments.listDeployedFlows()).find(
        (candidate) => candidate.type === 'sync' && candidate.name === run.syncName
    );
    const changes = await store.records.runChanges(executionIdOf(run.runId));
    // A run of an undeployed bundle (`npm run sync` on its own store) still names the models it wrote.
    const models = flow?.models.length ? flow.models : [...changes.keys()];
    const identity = {
        from: 'nango' as const,
        type: 'sync' as const,
        connectionId: run.connectionId,
        providerConfigKey: flow?.providerConfigKey ?? PROVIDER_CONFIG_KEY,
        syncName: run.syncName,
        syncVariant: 'base',
        syncType: run.initial === true ? ('INITIAL' as const) : ('INCREMENTAL' as const)
    };
    if (run.status === 'failed') {
        if (!settings.onError) {
            return [];
        }
        const failure: SyncFailureWebhook = {
            ...identity,
            model: models.join(','),
            success: false,
            error: { type: 'script_error', description: await withoutSecrets(store, identity.providerConfigKey, run, settings) },
            startedAt: run.startedAt.toISOString(),
            failedAt: (run.finishedAt ?? new Date()).toISOString()
        };
        return [failure];
    }
    // An interrupted run is a success here too: Nango sends its webhooks before the next execution resumes.
    return models.flatMap((model): SyncSuccessWebhook[] => {
        const counts = changes.get(model) ?? NO_CHANGES;
        if (!settings.always && counts.added + counts.updated + counts.deleted === 0) {
            return [];
        }
        return [
            {
                ...identity,
                model,
                success: true,
                responseResults: { ...counts },
                modifiedAfter: run.startedAt.toISOString(),
                queryTimeStamp: run.startedAt.toISOString(),
                ...(run.checkpoints ? { checkpoints: run.checkpoints } : {})
            }
        ];
    });
}

/** The run's error as the webhook's description, with the connection's credentials and the signing key masked. */
async function withoutSecrets(store: LocalStore, providerConfigKey: string, run: SyncRun, settings: Pick<WebhookSettings, 'signingKey'>) {
    const connection = await store.connections.getConnection(run.connectionId, providerConfigKey);
    const secrets = [connection?.apiKey, connection?.apiPassword, settings.signingKey].filter(
        (secret): secret is string => secret !== undefined && secret.length >= 4
    );
    return secrets.reduce((text, secret) => text.split(secret).join('***'), run.summary ?? 'the run failed');
}

function attemptLine(url: string, body: SyncWebhook, attempt: DeliveryAttempt): string {
    const outcome = attempt.status === null ? `no response (${attempt.error ?? 'network error'})` : `HTTP ${attempt.status}`;
    return (
        `webhook ${body.success ? 'sync success' : 'sync failure'} (${body.model}) to ${url}, attempt ${attempt.attempt}: ` +
        `${outcome} in ${Math.round(attempt.durationMs)} ms`
    );
}

async function deliverRun(store: LocalStore, run: SyncRun, settings: WebhookSettings): Promise<void> {
    const urls = [settings.primaryUrl, settings.secondaryUrl].filter((url): url is string => url !== undefined);
    if (urls.length === 0) {
        return;
    }
    for (const body of await webhooksForRun(store, run, settings)) {
        await Promise.all(
            urls.map((url) =>
                deliverWebhook({
                    url,
                    body,
                    signingKey: settings.signingKey,
                    timeoutMs: settings.timeoutMs,
                    retryDelaysMs: settings.retryDelaysMs,
                    onAttempt: async (attempt) => {
                        const shown = displayUrl(url);
                        await store.runs.recordWebhookAttempt(run.runId, {
                            url: shown,
                            model: body.model,
                            success: body.success,
                            attempt: attempt.attempt,
                            status: attempt.status,
                            error: attempt.error,
                            durationMs: attempt.durationMs
                        });
                        await store.runs.appendRunLogs(run.runId, [
                            {
                                level: attempt.delivered ? 'info' : 'warn',
                                message: attemptLine(shown, body, attempt),
                                createdAt: new Date()
                            }
                        ]);
                    }
                })
            )
        );
    }
}

/** Sends Nango's sync webhooks for every run that `store` records as finished from now on. */
export function attachSyncWebhooks(store: LocalStore, settings: WebhookSettings, onError?: (error: unknown) => void): SyncWebhooks {
    const inFlight = new Set<Promise<void>>();
    const detach = store.runs.onRunFinished((run) => {
        const delivery = deliverRun(store, run, settings)
            .catch((error: unknown) => {
                onError?.(error);
            })
            .finally(() => inFlight.delete(delivery));
        inFlight.add(delivery);
    });
    return {
        async settle() {
            while (inFlight.size > 0) {
                await Promise.all([...inFlight]);
            }
        },
        detach
    };
}
