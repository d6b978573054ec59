import { describe, expect, it } from 'vitest';
import { OUTPUT_DIRS, UsageError, commandLine, parseBenchArgs } from './args.js';

describe('npm run bench flags', () => {
    it('writes to the ignored scratch folder unless --publish is given', () => {
        expect(parseBenchArgs([])).toMatchObject({ kind: 'run', outDir: 'bench/out' });
        expect(parseBenchArgs(['--sizes', '1000,5000', '--publish'])).toMatchObject({
            kind: 'run',
            outDir: 'bench/results',
            args: { sizes: [1000, 5000] }
        });
        expect(OUTPUT_DIRS.published).toBe('bench/results');
    });

    it('redraws from the folder it would write to', () => {
        expect(parseBenchArgs(['--render'])).toEqual({ kind: 'render', outDir: 'bench/out' });
        expect(parseBenchArgs(['--render', '--publish'])).toEqual({ kind: 'render', outDir: 'bench/results' });
    });

    it('leaves --publish out of the reproduce command: where the files go does not change the figures', () => {
        const command = parseBenchArgs(['--publish', '--speed', '10', '--seed', '7']);
        expect(command.kind).toBe('run');
        if (command.kind === 'run') {
            expect(commandLine(command.args)).toBe(
                'npm run bench -- --sizes 1000 --speed 10 --baseline-max 5000 --baseline-speed 10 --seed 7'
            );
        }
    });

    it('measures npm start unless --skip-npm-start is given, and says so in the reproduce command', () => {
        const measured = parseBenchArgs(['--sizes', '1000']);
        const skipped = parseBenchArgs(['--sizes', '1000', '--skip-npm-start']);
        expect(measured).toMatchObject({ kind: 'run', args: { npmStart: true } });
        expect(skipped).toMatchObject({ kind: 'run', args: { npmStart: false } });
        if (skipped.kind === 'run') {
            expect(commandLine(skipped.args)).toMatch(/ --skip-npm-start$/);
        }
    });

    it.each([[['--publish=yes']], [['--publsh']], [['--sizes', '50']]])('refuses %j as a usage error', (argv) => {
        expect(() => parseBenchArgs(argv)).toThrow(UsageError);
    });
});
