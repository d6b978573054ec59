import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

import type { BenchResults } from './report.js';

/** Time vs N and peak memory vs N, ours and baseline, rendered to SVG headless (vega's 'none' renderer, no browser). */

interface Point {
    n: number;
    series: string;
    value: number;
}

const MB = 1048576;

function lineChart(options: { title: string; subtitle: string[]; yTitle: string; points: Point[]; logY: boolean }): TopLevelSpec {
    const ns = [...new Set(options.points.map((point) => point.n))].sort((a, b) => a - b);
    const logX = ns.length > 1;
    return {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: { text: options.title, subtitle: options.subtitle, anchor: 'start' },
        width: 560,
        height: 320,
        background: 'white',
        padding: 12,
        data: { values: options.points },
        mark: { type: 'line', point: { size: 60 }, strokeWidth: 2 },
        encoding: {
            x: {
                field: 'n',
                type: 'quantitative',
                title: 'calls in the first sync (N)',
                scale: logX ? { type: 'log' } : { zero: false, padding: 40 },
                axis: { values: ns, format: ',d' }
            },
            y: {
                field: 'value',
                type: 'quantitative',
                title: options.yTitle,
                scale: options.logY && ns.length > 1 ? { type: 'log' } : { zero: true },
                axis: { format: ',~r' }
            },
            color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 320 } },
            tooltip: [
                { field: 'series', type: 'nominal' },
                { field: 'n', type: 'quantitative' },
                { field: 'value', type: 'quantitative', format: ',.1f' }
            ]
        }
    };
}

async function render(spec: TopLevelSpec): Promise<string> {
    const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
    try {
        return await view.toSVG();
    } finally {
        view.finalize();
    }
}

export async function renderCharts(results: BenchResults): Promise<{ time: string; memory: string }> {
    const { speed, baselineSpeed } = results.args;
    const time: Point[] = [];
    const memory: Point[] = [];
    for (const size of results.sizes) {
        const { n, first, baseline } = size;
        time.push({ n, series: 'ours, first sync (details 150-400 ms)', value: first.wallS * speed });
        time.push({ n, series: 'rate-limit bound at 10 req/s', value: first.boundS * speed });
        memory.push({ n, series: 'ours: peak RSS', value: first.peakRssBytes / MB });
        if (first.server) {
            memory.push({ n, series: 'ours: local Nango (store) peak RSS', value: first.server.peakRssBytes / MB });
        }
        memory.push({ n, series: 'ours: peak JS heap', value: first.peakHeapBytes / MB });
        if (baseline) {
            time.push({ n, series: 'ours, details 300 ms', value: baseline.ours.wallS * baseline.speed });
            time.push({ n, series: 'naive baseline, details 300 ms', value: baseline.naive.wallS * baseline.speed });
            memory.push({ n, series: 'naive baseline: peak RSS', value: baseline.naive.peakRssBytes / MB });
            memory.push({ n, series: 'naive baseline: peak JS heap', value: baseline.naive.peakHeapBytes / MB });
        }
    }
    const scaled =
        speed === 1 && baselineSpeed === 1
            ? []
            : [
                  `Measured at --speed ${speed} (baseline comparison at ${baselineSpeed}); times shown x speed = real-time equivalent.`,
                  ...(baselineSpeed > 1 ? ["The naive run's own per-call work does not shrink with speed, so its line is overstated."] : [])
              ];
    return {
        time: await render(
            lineChart({
                title: 'Clari Copilot first sync: wall time vs N',
                subtitle: ["Emulator at Clari's 10 req/s with realistic latency and transcript sizes.", ...scaled],
                yTitle: 'wall time (s, real-time equivalent)',
                points: time,
                logY: true
            })
        ),
        memory: await render(
            lineChart({
                title: 'Clari Copilot first sync: peak memory of the runner process vs N',
                subtitle: [
                    'Peak RSS (process.resourceUsage().maxRSS) and peak V8 heap, one child process per run;',
                    'the PGlite store lives in a local Nango process of its own, whose peak RSS is shown apart (older runs: in the runner).'
                ],
                yTitle: 'MB',
                points: memory,
                logY: false
            })
        )
    };
}
