import type { ClariAuthError } from '../../nango-integrations/clari-copilot/clari-client.js';
import type { InvalidSyncOptionsError } from '../../nango-integrations/clari-copilot/options.js';
import { StoreInUseError } from '../nango-server/lock.js';
import { ConfigError } from './config.js';

/**
 * Runs a command's main function; anything it throws becomes one line on stderr and a non-zero exit
 * code, never a stack trace (set DEBUG=1 to see one).
 */
export function runCommand(name: string, main: () => Promise<void>): void {
    main().catch((error: unknown) => {
        console.error(`${name}: ${describeFailure(error)}`);
        if (process.env['DEBUG'] && error instanceof Error && error.stack) {
            console.error(error.stack);
        }
        process.exit(exitCodeFor(error));
    });
}

/**
 * The sync's own errors are recognised by name: it runs from its bundle in a sandbox, where its classes
 * are the bundle's copies, not the ones this process imports.
 */
function isSyncError<T extends ClariAuthError | InvalidSyncOptionsError>(error: unknown, name: T['name']): error is T {
    return error instanceof Error && error.name === name;
}

/**
 * 2 for what the user fixes in their setup (configuration, metadata wherever it came from, a port or store another
 * process holds), else 1.
 */
export function exitCodeFor(error: unknown): 1 | 2 {
    return error instanceof ConfigError ||
        error instanceof StoreInUseError ||
        errorCode(error) === 'EADDRINUSE' ||
        isSyncError<InvalidSyncOptionsError>(error, 'InvalidSyncOptionsError')
        ? 2
        : 1;
}

function errorCode(error: unknown): string {
    return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
}

export function describeFailure(error: unknown): string {
    if (error instanceof ConfigError || error instanceof StoreInUseError) {
        return error.message;
    }
    if (isSyncError<ClariAuthError>(error, 'ClariAuthError')) {
        // The sync's message speaks of a Nango connection; locally the pair comes from these two variables.
        return `${error.message} Locally, they are CLARI_API_KEY and CLARI_API_PASSWORD (in the environment or .env).`;
    }
    if (errorCode(error) === 'EADDRINUSE' && error instanceof Error) {
        return `${error.message.replace(/^listen /, '')}: the port is in use; stop whatever holds it or choose another port (NANGO_LOCAL_PORT, CLARI_EMULATOR_PORT)`;
    }
    return error instanceof Error ? error.message : String(error);
}
