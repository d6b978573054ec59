/**
 * Small seeded PRNG helpers. Everything the emulator generates is a pure function of (seed, call sequence number,
 * content version), so a 20,000-call dataset never has to hold transcripts in memory and two emulators with the
 * same options serve byte-identical data.
 */

/** Mixes any number of integers into one 32-bit hash (murmur3 finaliser per step). */
export function hashInts(...values: number[]): number {
    let h = 0x811c9dc5;
    for (const value of values) {
        h = Math.imul(h ^ (value | 0), 0x85ebca6b);
        h ^= h >>> 13;
        h = Math.imul(h, 0xc2b2ae35);
        h ^= h >>> 16;
    }
    return h >>> 0;
}

export class Rng {
    private state: number;

    constructor(...seedParts: number[]) {
        this.state = hashInts(...seedParts) || 1;
    }

    /** mulberry32: fast, good enough for test data, and stable across Node versions. */
    next(): number {
        this.state = (this.state + 0x6d2b79f5) | 0;
        let t = this.state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }

    int(min: number, max: number): number {
        return min + Math.floor(this.next() * (max - min + 1));
    }

    float(min: number, max: number): number {
        return min + this.next() * (max - min);
    }

    chance(probability: number): boolean {
        return this.next() < probability;
    }

    pick<T>(items: readonly T[]): T {
        const item = items[Math.floor(this.next() * items.length)];
        if (item === undefined) {
            throw new Error('pick() from an empty list');
        }
        return item;
    }

    /** Picks `count` distinct items (fewer if the list is shorter), keeping the list's order. */
    sample<T>(items: readonly T[], count: number): T[] {
        const chosen = new Set<number>();
        const wanted = Math.min(count, items.length);
        while (chosen.size < wanted) {
            chosen.add(Math.floor(this.next() * items.length));
        }
        return [...chosen].sort((a, b) => a - b).map((index) => items[index] as T);
    }

    weighted<T>(entries: readonly (readonly [T, number])[]): T {
        const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
        let roll = this.next() * total;
        for (const [value, weight] of entries) {
            roll -= weight;
            if (roll < 0) {
                return value;
            }
        }
        const last = entries[entries.length - 1];
        if (last === undefined) {
            throw new Error('weighted() from an empty list');
        }
        return last[0];
    }

    hex(length: number): string {
        let out = '';
        while (out.length < length) {
            out += Math.floor(this.next() * 0x100000000)
                .toString(16)
                .padStart(8, '0');
        }
        return out.slice(0, length);
    }
}

export function hex8(value: number): string {
    return (value >>> 0).toString(16).padStart(8, '0');
}
