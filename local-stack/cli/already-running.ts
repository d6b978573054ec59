import { STARTING_CODE } from '../nango-server/deploy-inbox.js';
import { ConfigError } from './config.js';

/** How long a probe of the local Nango's port may take: a listener answers in milliseconds. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Refuses, in one line and with exit 2, to start a second local Nango on a port where one already answers. Without
 * it the second `npm start` fails on whichever of its ports it binds first, with an EADDRINUSE that names
 * neither the cause nor the running one.
 */
export async function refuseIfAlreadyRunning(port: number): Promise<void> {
    const url = `http://127.0.0.1:${port}`;
    let answer: Response;
    try {
        answer = await fetch(`${url}/ui/live.json`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    } catch {
        // Nothing listens there (or it does not speak HTTP): starting is the way to find out.
        return;
    }
    if (await isLocalNango(answer)) {
        throw new ConfigError(
            `a local Nango is already running on ${url} (another npm start or npm run serve; its dashboard is ${url}/). ` +
                'Use that one, or stop it with Ctrl-C in its terminal, or set NANGO_LOCAL_PORT and the other ports to run a second one.'
        );
    }
    throw new ConfigError(
        `127.0.0.1:${port} (NANGO_LOCAL_PORT): the port is in use by something other than a local Nango; stop it or choose another port`
    );
}

/**
 * The dashboard's live.json answers 200; while `npm start` takes its deploy (nango-server/deploy-inbox.ts), the
 * local Nango answers every route but the deploy API with a 503 of its own code.
 */
async function isLocalNango(answer: Response): Promise<boolean> {
    if (answer.status === 503) {
        const body = (await answer.json().catch(() => null)) as { error?: { code?: unknown } } | null;
        return body?.error?.code === STARTING_CODE;
    }
    await answer.body?.cancel();
    return answer.ok;
}
