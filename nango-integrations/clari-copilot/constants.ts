/**
 * The names nango.yaml gives this integration, for the sync and for everything around it (the local
 * stack, the benchmark, the tests). `tests/constants.test.ts` checks them against nango.yaml and
 * `@nangohq/providers`, so a rename there fails a test instead of breaking the stack quietly.
 */

/** The provider in `@nangohq/providers`: how Nango authenticates and proxies requests to Clari Copilot. */
export const PROVIDER = 'clari-copilot';
/** The integration's key in nango.yaml (Nango's "provider config key"), named after its provider. */
export const PROVIDER_CONFIG_KEY = PROVIDER;
export const SYNC_NAME = 'calls';
/** The model the sync saves and deletes. */
export const CALL_MODEL = 'Call';
