/**
 * Small sync scripts of the e2e suite's own, as CommonJS bundles like those `nango compile` writes, so they
 * run in the runner's sandbox exactly as a deployed script does. They stand for a long backfill: a step
 * takes a while, and only the checkpoint says how far the work got.
 */

export const STEP_MODEL = 'Step';

/** Does steps 1..`steps`, each `stepMs` long; saves the step's record, then a checkpoint naming it. */
export function steppingSync(steps: number, stepMs: number): string {
    return `
module.exports.default = async function (nango) {
    const saved = await nango.getCheckpoint();
    const from = saved === null ? 0 : saved.step;
    await nango.log('resuming after step ' + from);
    for (let step = from + 1; step <= ${steps}; step++) {
        await new Promise((resolve) => setTimeout(resolve, ${stepMs}));
        await nango.batchSave([{ id: 'step-' + step, step: step, after: from }], '${STEP_MODEL}');
        await nango.saveCheckpoint({ step: step, at: new Date() });
    }
};`;
}

/** Works for `totalMs` in small steps and never saves a checkpoint. */
export function silentSync(totalMs: number): string {
    return `
module.exports.default = async function (nango) {
    for (let spent = 0; spent < ${totalMs}; spent += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await nango.batchSave([{ id: 'finished' }], '${STEP_MODEL}');
};`;
}
