import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { registerClariRoutes } from './clari-routes.js';
import { registerControlRoutes } from './control.js';
import { BadRequestError } from './query.js';
import { EmulatorRuntime, type ClariEmulatorOptions } from './runtime.js';

/** Builds the emulator's Fastify app; `startClariEmulator` also listens on a port. */

export interface ClariEmulator {
    app: FastifyInstance;
    runtime: EmulatorRuntime;
    /** Shortcut to runtime.state (the call store). */
    state: EmulatorRuntime['state'];
}

export interface StartOptions extends ClariEmulatorOptions {
    /** 0 (default) picks a free port. */
    port?: number;
    host?: string;
}

export interface RunningClariEmulator extends ClariEmulator {
    url: string;
    close(): Promise<void>;
}

function isFastifyError(error: unknown): error is FastifyError {
    return error instanceof Error && typeof (error as Partial<FastifyError>).statusCode === 'number';
}

export function createClariEmulator(options: ClariEmulatorOptions = {}): ClariEmulator {
    const runtime = new EmulatorRuntime(options);
    // forceCloseConnections: stalled requests must not keep close() waiting.
    const app = Fastify({ logger: options.logger ?? false, forceCloseConnections: true });

    app.setErrorHandler((error, request, reply) => {
        if (error instanceof BadRequestError) {
            return reply.code(400).send({ errorMessage: error.message });
        }
        if (isFastifyError(error) && (error.statusCode ?? 500) < 500) {
            return reply.code(error.statusCode ?? 400).send({ errorMessage: error.message });
        }
        request.log.error(error);
        return reply.code(500).send({ errorMessage: 'Internal server error' });
    });
    app.setNotFoundHandler((_request, reply) => reply.code(404).send({ errorMessage: 'Not found' }));
    app.addHook('onClose', (_instance, done) => {
        runtime.close();
        done();
    });

    registerClariRoutes(app, runtime);
    registerControlRoutes(app, runtime);
    return { app, runtime, state: runtime.state };
}

export async function startClariEmulator(options: StartOptions = {}): Promise<RunningClariEmulator> {
    const emulator = createClariEmulator(options);
    const host = options.host ?? '127.0.0.1';
    await emulator.app.listen({ port: options.port ?? 0, host });
    const address = emulator.app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : (options.port ?? 0);
    // A wildcard bind is reachable on loopback; print that rather than an address clients cannot dial.
    const shownHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
    return {
        ...emulator,
        url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`,
        close: () => emulator.app.close()
    };
}
