/**
 * Resolves on the first Ctrl-C (SIGINT) or SIGTERM; a second one exits at once. `beforeMessage` runs first, so
 * that a progress bar drawn in place gives its line (and the cursor) back before the message is printed.
 */
export function untilInterrupted(beforeMessage?: () => void): Promise<string> {
    return new Promise((resolve) => {
        const onSignal = (signal: string): void => {
            process.removeListener('SIGINT', onSignal);
            process.removeListener('SIGTERM', onSignal);
            beforeMessage?.();
            console.log(`\n${signal}: stopping…`);
            process.once('SIGINT', () => process.exit(130));
            resolve(signal);
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
    });
}
