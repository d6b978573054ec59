// The dashboard's only script. It adds each time in the viewer's own zone as its tooltip and, on a page with `data-live`,
// asks /ui/live.json every few seconds how the running runs progress: their bars move in place, and the
// page reloads when one of them ends (or, on the runs page, when a new run starts) to show the final figures.
// Without it the pages still work; a live page then refreshes itself every few seconds (noscript).

// The text stays UTC, as every time the pages write; the tooltip names the viewer's zone, e.g. "16:00:09 CET".
const localTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'long' });
for (const time of document.querySelectorAll('time[datetime]')) {
    const date = new Date(time.dateTime);
    if (!Number.isNaN(date.getTime())) {
        time.title = `Your time: ${localTime.format(date)}`;
    }
}

const body = document.body;
if (body.dataset.live !== undefined) {
    const pollMs = Number(body.dataset.pollMs) || 2000;
    const latestShown = body.dataset.latestRun === undefined ? null : Number(body.dataset.latestRun);
    const watched = [...document.querySelectorAll('[data-running-run]')].map((element) => Number(element.dataset.runningRun));

    const show = (progress) => {
        for (const element of document.querySelectorAll(`[data-progress="${progress.runId}"]`)) {
            const bar = element.querySelector('progress');
            if (bar && progress.matched !== null) {
                bar.max = progress.matched;
                bar.value = progress.listed;
            }
            const text = element.querySelector('[data-progress-text]');
            if (text) {
                text.textContent = progress.text;
            }
        }
    };

    const poll = async () => {
        try {
            const response = await fetch('/ui/live.json', { cache: 'no-store' });
            if (response.ok) {
                const live = await response.json();
                const running = new Map(live.running.map((progress) => [progress.runId, progress]));
                const newRun = latestShown !== null && (live.latestRunId ?? 0) !== latestShown;
                if (newRun || watched.some((runId) => !running.has(runId))) {
                    // Run now's "queued" notice has served its purpose once the run is on the page.
                    const url = new URL(location.href);
                    url.searchParams.delete('requested');
                    location.replace(url.href);
                    return;
                }
                running.forEach(show);
            }
        } catch {
            // The server may be restarting; the next poll tries again.
        }
        setTimeout(poll, pollMs);
    };
    setTimeout(poll, pollMs);
}
