/** Resolves on the first Ctrl-C (SIGINT) or SIGTERM; a second one exits at once. */
export function untilInterrupted(): Promise<string> {
    return new Promise((resolve) => {
        const onSignal = (signal: string): void => {
            console.log(`\n${signal}: stopping…`);
            process.once('SIGINT', () => process.exit(130));
            resolve(signal);
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
    });
}
