import fs from 'node:fs';
import path from 'node:path';

import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { makeTempDir } from '../nango-server/test-helpers.js';
import { bundleSources, ensureBundle, staleReason } from './build.js';
import { bundlePath, fetchDataFromBundle, NANGO_INTEGRATIONS_DIR } from './sandbox.js';

/*
 * ensureBundle on copies of nango-integrations/ in a temporary folder, never on the real dist: most
 * tests drive a stand-in CLI (a shell script that records how it was called), one runs the real one.
 */

const REPO_NODE_MODULES = path.resolve(NANGO_INTEGRATIONS_DIR, '../node_modules');
const T0 = new Date('2026-01-01T00:00:00Z');
const seconds = (s: number): Date => new Date(T0.getTime() + s * 1000);

/** A copy of the Nango project without its build output (dist) nor its generated .nango. */
function copyProject(root: string): string {
    const projectDir = path.join(root, 'nango-integrations');
    fs.cpSync(NANGO_INTEGRATIONS_DIR, projectDir, {
        recursive: true,
        filter: (source) => !['dist', '.nango'].includes(path.relative(NANGO_INTEGRATIONS_DIR, source))
    });
    return projectDir;
}

/** Gives every source the same old mtime, so that one touched file is unambiguously the newest. */
function ageSources(projectDir: string, when: Date): void {
    for (const file of bundleSources(projectDir)) {
        fs.utimesSync(file, when, when);
    }
}

/** A CLI stand-in: appends "<command> <NANGO_CLI_UPGRADE_MODE> <cwd>" to `calls.log`, then behaves like `script`. */
function fakeNango(root: string, script: string): { bin: string; calls: () => string[] } {
    const bin = path.join(root, 'fake-nango');
    const log = path.join(root, 'calls.log');
    fs.writeFileSync(bin, `#!/bin/sh\necho "$1 $NANGO_CLI_UPGRADE_MODE $(pwd)" >> '${log}'\n${script}\n`, { mode: 0o755 });
    return { bin, calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []) };
}

const BUILDING_CLI = `case "$1" in
  generate) mkdir -p .nango ;;
  compile) mkdir -p dist && echo 'module.exports.default = async () => undefined;' > dist/calls-clari-copilot.js ;;
esac`;

describe('ensureBundle with a stand-in CLI', () => {
    let tmp: { dir: string; cleanup: () => void };
    let projectDir: string;
    let lines: string[];
    const log = (line: string): void => {
        lines.push(line);
    };

    beforeEach(() => {
        tmp = makeTempDir('bundle-build');
        projectDir = copyProject(tmp.dir);
        lines = [];
    });
    afterEach(() => {
        tmp.cleanup();
    });

    it('builds a missing bundle, generating first when the project was never generated, in one log line', async () => {
        const cli = fakeNango(tmp.dir, BUILDING_CLI);
        const result = await ensureBundle({ log, projectDir, nangoBin: cli.bin });

        expect(result).toEqual({ built: true, reason: 'missing' });
        // The CLI runs inside the project, told not to upgrade itself.
        const realDir = fs.realpathSync(projectDir);
        expect(cli.calls()).toEqual([`generate ignore ${realDir}`, `compile ignore ${realDir}`]);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(
            /^Building the sync bundle \(nango compile in .*nango-integrations\): dist\/calls-clari-copilot\.js is missing\.$/
        );
        expect(fs.existsSync(bundlePath(projectDir))).toBe(true);
    });

    it('does nothing, and says nothing, when the bundle is newer than every source', async () => {
        const cli = fakeNango(tmp.dir, BUILDING_CLI);
        await ensureBundle({ log, projectDir, nangoBin: cli.bin });
        ageSources(projectDir, T0);
        fs.utimesSync(bundlePath(projectDir), seconds(5), seconds(5));
        // Tests, mocks and the generated models.ts are not what the bundle is built from.
        for (const file of ['clari-copilot/tests/calls.test.ts', 'clari-copilot/mocks/nango/getMetadata.json', 'models.ts']) {
            fs.utimesSync(path.join(projectDir, file), seconds(60), seconds(60));
        }
        lines = [];

        expect(await ensureBundle({ log, projectDir, nangoBin: cli.bin })).toEqual({ built: false });
        expect(lines).toEqual([]);
        expect(cli.calls()).toHaveLength(2);
    });

    it('rebuilds, without generating again, when a source is newer than the bundle, and names the newest', async () => {
        const cli = fakeNango(tmp.dir, BUILDING_CLI);
        await ensureBundle({ log, projectDir, nangoBin: cli.bin });
        ageSources(projectDir, T0);
        fs.utimesSync(bundlePath(projectDir), seconds(5), seconds(5));
        fs.utimesSync(path.join(projectDir, 'clari-copilot/plan.ts'), seconds(20), seconds(20));
        fs.utimesSync(path.join(projectDir, 'nango.yaml'), seconds(10), seconds(10));
        lines = [];

        expect(staleReason(projectDir)).toBe('older than clari-copilot/plan.ts');
        expect(await ensureBundle({ log, projectDir, nangoBin: cli.bin })).toEqual({
            built: true,
            reason: 'older than clari-copilot/plan.ts'
        });
        expect(
            cli
                .calls()
                .slice(2)
                .map((call) => call.split(' ')[0])
        ).toEqual(['compile']);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/is older than clari-copilot\/plan\.ts\.$/);
        expect(staleReason(projectDir)).toBeUndefined();
    });

    it('watches nango.yaml and nested sources too', () => {
        fs.mkdirSync(path.join(projectDir, 'dist'));
        fs.writeFileSync(bundlePath(projectDir), '');
        ageSources(projectDir, T0);
        fs.utimesSync(bundlePath(projectDir), seconds(5), seconds(5));
        fs.utimesSync(path.join(projectDir, 'nango.yaml'), seconds(10), seconds(10));
        expect(staleReason(projectDir)).toBe('older than nango.yaml');
        fs.utimesSync(path.join(projectDir, 'clari-copilot/syncs/calls.ts'), seconds(30), seconds(30));
        expect(staleReason(projectDir)).toBe('older than clari-copilot/syncs/calls.ts');
    });

    it('fails in one line that quotes the last lines of the CLI output', async () => {
        const cli = fakeNango(
            tmp.dir,
            [
                'echo "Compiled \\"plan.ts\\" successfully"',
                'printf \'\\033[31mError compiling "syncs/calls.ts":\\033[0m\\n\'',
                'echo "plan.ts(63,14): error TS2322: Type string is not assignable to type number." >&2',
                'echo',
                'echo "Compilation was not fully successful."',
                'exit 1'
            ].join('\n')
        );
        fs.mkdirSync(path.join(projectDir, '.nango'));
        const failure = ensureBundle({ log, projectDir, nangoBin: cli.bin });

        await expect(failure).rejects.toThrow(
            /^`nango compile` failed \(exit code 1\) in .*: Error compiling "syncs\/calls\.ts": \| plan\.ts\(63,14\): error TS2322: .* \| Compilation was not fully successful\.$/
        );
        await failure.catch((error: unknown) => {
            expect(error).toMatchObject({ name: 'BundleBuildError' });
            expect(String(error)).not.toContain('\n');
        });
    });

    it('says which CLI it could not start', async () => {
        const missing = path.join(tmp.dir, 'no-such-nango');
        await expect(ensureBundle({ log, projectDir, nangoBin: missing })).rejects.toThrow(
            `could not start \`nango generate\` (${missing})`
        );
    });
});

describe('ensureBundle with the pinned nango CLI', () => {
    beforeAll(async () => {
        // The real project's .nango and bundle are the reference; built here on a clean checkout.
        await ensureBundle({ log: () => undefined });
    }, 180_000);

    it('compiles a copy of the project into a bundle the sandbox loads', async () => {
        const tmp = makeTempDir('bundle-real');
        try {
            const projectDir = copyProject(tmp.dir);
            // The compiler type-checks against the repository's packages (zod, the SDK types).
            fs.symlinkSync(REPO_NODE_MODULES, path.join(tmp.dir, 'node_modules'));
            // Generated already: this test is about compile; the stand-in tests cover generate.
            fs.cpSync(path.join(NANGO_INTEGRATIONS_DIR, '.nango'), path.join(projectDir, '.nango'), { recursive: true });
            const lines: string[] = [];

            const result = await ensureBundle({ log: (line) => lines.push(line), projectDir });

            expect(result).toEqual({ built: true, reason: 'missing' });
            expect(lines).toHaveLength(1);
            expect(fs.readFileSync(bundlePath(projectDir), 'utf8')).toBe(fs.readFileSync(bundlePath(), 'utf8'));
            expect(fetchDataFromBundle(bundlePath(projectDir))).toBeTypeOf('function');
        } finally {
            tmp.cleanup();
        }
    }, 180_000);
});
