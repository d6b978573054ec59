/*
 * `nango generate` (CLI 0.69.14) writes a models.ts whose SDK section names two types that its own
 * dependencies no longer export under those names. Nango's compiler does not type-check that section;
 * ours does (strict), so these aliases give the names back without touching the generated file.
 */
import type { ZodSafeParseSuccess } from 'zod';

declare module 'zod' {
    export type SafeParseSuccess<T> = ZodSafeParseSuccess<T>;
}

declare global {
    type SdkLogger = import('@nangohq/types').SdkLogger;
}
