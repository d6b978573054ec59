import * as crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as url from 'node:url';
import vm from 'node:vm';

import * as zod from 'zod';

import { PROVIDER_CONFIG_KEY, SYNC_NAME } from '../../nango-integrations/clari-copilot/constants.js';
import type { NangoSync } from '../../nango-integrations/models.js';

/**
 * The deployed sync, run the way Nango's runner runs it (packages/runner/lib/exec.ts): the CommonJS
 * bundle `nango compile` writes, evaluated in its own `node:vm` context that holds nothing but what
 * Nango puts there. A bundle that leans on anything else (`fetch`, `performance`, `clearTimeout`,
 * `require('fs')`, `eval`) fails here as it would after `nango deploy`, not in production.
 */

/** What `runSync` takes as `fetchData`. */
export type SyncEntry = (nango: NangoSync) => Promise<void>;

export const NANGO_INTEGRATIONS_DIR = path.resolve(import.meta.dirname, '../../nango-integrations');
/** `nango compile` names a sync's bundle `<sync>-<integration>.js`. */
export const BUNDLE_FILE = `${SYNC_NAME}-${PROVIDER_CONFIG_KEY}.js`;

export function bundlePath(projectDir: string = NANGO_INTEGRATIONS_DIR): string {
    return path.join(projectDir, 'dist', BUNDLE_FILE);
}

export function readBundle(file: string = bundlePath()): string {
    try {
        return fs.readFileSync(file, 'utf8');
    } catch (error) {
        if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
            throw new Error(`no sync bundle at ${file}: run \`npm run compile\` first`, { cause: error });
        }
        throw error;
    }
}

/**
 * The modules a script may `require`. Nango's list also has botbuilder, soap and unzipper; this project
 * neither uses nor installs them, so requiring them fails here, which is the safe side.
 */
const ALLOWED_MODULES: ReadonlyMap<string, unknown> = new Map<string, unknown>([
    ['url', url],
    ['crypto', crypto],
    ['zod', zod]
]);

function sandboxRequire(name: string): unknown {
    if (!ALLOWED_MODULES.has(name)) {
        // The same wording as Nango's runner, so a failure reads the same in both places.
        throw new Error(`Module '${name}' is not allowed`);
    }
    return ALLOWED_MODULES.get(name);
}

/** Every method of `console` exists and does nothing: Nango drops a script's console output. */
const silentConsole: Console = new Proxy({} as Console, { get: () => () => undefined });

/** A fresh global object per evaluation: only these names, plus the language's own built-ins. */
function sandboxGlobals(): vm.Context {
    const globals: Record<string, unknown> = {
        // Hides Object.prototype.constructor, a way back to the host's Function from inside the context.
        constructor: undefined,
        console: silentConsole,
        require: sandboxRequire,
        Buffer,
        setTimeout,
        Error,
        URL,
        URLSearchParams
    };
    Object.setPrototypeOf(globals, null);
    return globals;
}

/**
 * Members of the local runner's `LocalNangoSync` that are its internals, not NangoSync's API. Nango's
 * facade hides its runner's internals the same way; a script touching these would work locally only.
 */
const HIDDEN_MEMBERS: ReadonlySet<string | symbol> = new Set(['ctx', 'metadata', 'pages']);

function refuse(member: string | symbol): never {
    throw new Error(`Access to "${String(member)}" is not allowed.`);
}

/**
 * The nango object as a script sees it on Nango: a Proxy whose methods come back bound (so a method
 * passed around detached still works), whose internals are hidden, and whose prototype is null (so
 * `instanceof` never matches and a sync must test for methods instead).
 */
export function nangoFacade<T extends object>(nango: T): T {
    const bound = new Map<string | symbol, unknown>();
    const guard = (member: string | symbol): void => {
        if (HIDDEN_MEMBERS.has(member)) {
            refuse(member);
        }
        bound.delete(member);
    };
    return new Proxy(nango, {
        get(target, member) {
            if (HIDDEN_MEMBERS.has(member)) {
                refuse(member);
            }
            const value: unknown = Reflect.get(target, member, target);
            if (typeof value !== 'function') {
                return value;
            }
            if (!bound.has(member)) {
                bound.set(member, (value as (...args: unknown[]) => unknown).bind(target));
            }
            return bound.get(member);
        },
        set(target, member, value) {
            guard(member);
            return Reflect.set(target, member, value, target);
        },
        defineProperty(target, member, descriptor) {
            guard(member);
            return Reflect.defineProperty(target, member, descriptor);
        },
        deleteProperty(target, member) {
            guard(member);
            return Reflect.deleteProperty(target, member);
        },
        has: (target, member) => !HIDDEN_MEMBERS.has(member) && Reflect.has(target, member),
        ownKeys: (target) => Reflect.ownKeys(target).filter((key) => !HIDDEN_MEMBERS.has(key)),
        getOwnPropertyDescriptor: (target, member) =>
            HIDDEN_MEMBERS.has(member) ? undefined : Reflect.getOwnPropertyDescriptor(target, member),
        getPrototypeOf: () => null,
        setPrototypeOf: () => refuse('prototype')
    });
}

interface BundleExports {
    default?: unknown;
}

/**
 * Compiles a bundle once and returns its default export. Every call of the returned function evaluates
 * the bundle again in a new context, as each Nango execution does, so no module-level state survives
 * from one run to the next. The bundle is also evaluated once here, so a broken one fails at load time.
 */
export interface SandboxOptions {
    /**
     * The time the script's `Date` reads, for tests that span weeks of the sync's own calendar (its Clari week,
     * its daily refresh). Nango's sandbox has the host's clock; so does this one without the option.
     */
    now?: () => number;
}

/** Runs in the new context: its own `Date`, reading `now` for the current time and unchanged otherwise. */
const SHIFTED_DATE = `(function (now) {
    var HostDate = Date;
    function ShiftedDate() {
        if (!new.target) { return new HostDate(now()).toString(); }
        return arguments.length === 0 ? new HostDate(now()) : new (Function.prototype.bind.apply(HostDate, [null].concat([].slice.call(arguments))))();
    }
    ShiftedDate.prototype = HostDate.prototype;
    ShiftedDate.now = function () { return now(); };
    ShiftedDate.parse = HostDate.parse;
    ShiftedDate.UTC = HostDate.UTC;
    globalThis.Date = ShiftedDate;
})`;

export function loadBundledSync(code: string, filename: string, options: SandboxOptions = {}): SyncEntry {
    // A CommonJS module of our own making: the bundle assigns `module.exports`, the wrapper returns it.
    // The bundle starts on the wrapper's second line; lineOffset keeps its stack traces' line numbers true.
    const script = new vm.Script(
        `(function () { var module = { exports: {} }; var exports = module.exports;\n${code}\nreturn module.exports; })();`,
        { filename, lineOffset: -1 }
    );
    const entry = (): ((nango: NangoSync) => unknown) => {
        const context = vm.createContext(sandboxGlobals(), { codeGeneration: { strings: false, wasm: false } });
        if (options.now) {
            (vm.runInContext(SHIFTED_DATE, context) as (now: () => number) => void)(options.now);
        }
        const exported = script.runInContext(context) as BundleExports | ((nango: NangoSync) => unknown) | null | undefined;
        const candidate: unknown = typeof exported === 'function' ? exported : exported?.default;
        if (typeof candidate !== 'function') {
            throw new Error(`${filename} has no callable default export (got ${typeof candidate}): is it the output of \`nango compile\`?`);
        }
        return candidate as (nango: NangoSync) => unknown;
    };
    entry();
    return async (nango) => {
        await entry()(nangoFacade(nango));
    };
}

/** The compiled `calls` sync at `file` (default: nango-integrations/dist), ready to hand to `runSync`. */
export function fetchDataFromBundle(file: string = bundlePath(), options: SandboxOptions = {}): SyncEntry {
    return loadBundledSync(readBundle(file), path.basename(file), options);
}
