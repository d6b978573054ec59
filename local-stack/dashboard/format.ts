/** How the dashboard writes times, durations and counts; the templates only print what these return. */

/**
 * Every time on the pages is UTC and says so: the sync's windows, Clari's budget week (from Sunday 00:00 UTC) and the
 * log lines count in UTC, so a time in a notice compares at a glance with one in a log line. The page's script adds
 * the viewer's own time, with its zone's name, as the tooltip.
 */
export interface TimeText {
    /** ISO 8601, for `<time datetime>`. */
    iso: string;
    /** 2026-03-04 15:00:09 UTC; the no-break space keeps the zone with its time when a narrow column wraps. */
    text: string;
}

export function timeText(value: Date | string): TimeText | null {
    const date = typeof value === 'string' ? new Date(value) : value;
    if (Number.isNaN(date.getTime())) {
        return null;
    }
    const iso = date.toISOString();
    return { iso, text: `${iso.slice(0, 10)} ${iso.slice(11, 19)}\u00a0UTC` };
}

/** 0.4 s, 12.3 s, 4 min 05 s, 2 h 03 min. */
export function durationText(ms: number): string {
    const seconds = Math.max(0, ms) / 1000;
    if (seconds < 60) {
        return `${seconds.toFixed(1)} s`;
    }
    const whole = Math.round(seconds);
    if (whole < 3600) {
        return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
    }
    return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')} min`;
}

/** A position in a call, from seconds: 4:07, or 1:02:07 past the hour. */
export function offsetText(seconds: number | null): string | null {
    if (seconds === null || !Number.isFinite(seconds) || seconds < 0) {
        return null;
    }
    const whole = Math.floor(seconds);
    const mm = String(Math.floor((whole % 3600) / 60));
    const ss = String(whole % 60).padStart(2, '0');
    return whole >= 3600 ? `${Math.floor(whole / 3600)}:${mm.padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** An href only for http(s) URLs: a record's `javascript:` or `data:` URL must never become a link. */
export function safeHref(value: string | null): string | null {
    if (value === null) {
        return null;
    }
    try {
        const url = new URL(value);
        return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
    } catch {
        return null;
    }
}
