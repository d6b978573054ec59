import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { asJsonObject, canonicalJson, type JsonObject, type JsonValue } from './record-codec.js';

/** The JSON with every object's keys sorted, built the plain way. */
function referenceJson(data: JsonObject): string {
    const sorted = (value: JsonValue): string => {
        if (Array.isArray(value)) {
            return `[${value.map(sorted).join(',')}]`;
        }
        if (typeof value === 'object' && value !== null) {
            return `{${Object.keys(value)
                .sort()
                .map((key) => `${JSON.stringify(key)}:${sorted(value[key] ?? null)}`)
                .join(',')}}`;
        }
        return JSON.stringify(value);
    };
    return sorted(data);
}

/** The hash as stores have always computed it: SHA-256 of that one string. */
function referenceHash(data: JsonObject): string {
    return createHash('sha256').update(referenceJson(data)).digest('hex');
}

const dataHash = (data: JsonObject): string => canonicalJson(data).hash;

describe('canonicalJson', () => {
    const sample: JsonObject = {
        id: 'c1',
        title: 'Renewal — “Q3” ✓ 😀',
        n: 1.5,
        z: null,
        b: false,
        nested: { y: [1, 'two', { k: 'v', a: [] }], x: {} },
        emptyArr: []
    };

    it('gives the hash stores have always saved, so existing stores see no change', () => {
        expect(dataHash(sample)).toBe('5b870b6fe9d088ff386d94892649e5370fba43e0e2572815878a07892a708106');
        expect(dataHash(sample)).toBe(referenceHash(sample));
    });

    it('matches the one-string hash on records larger than one piece of input, and ignores key order', () => {
        const transcript = Array.from({ length: 1000 }, (_, i) => ({ text: `segment ${i} ${'wörd '.repeat(40)}`, start: i, end: i + 0.5 }));
        const large: JsonObject = { id: 'big', transcript, summary: { full_summary: 'x'.repeat(70_000) } };
        expect(JSON.stringify(large).length).toBeGreaterThan(4 * 64 * 1024);
        expect(dataHash(large)).toBe(referenceHash(large));
        const reordered: JsonObject = { summary: { full_summary: 'x'.repeat(70_000) }, transcript, id: 'big' };
        expect(dataHash(reordered)).toBe(dataHash(large));
        expect(dataHash({ ...large, id: 'other' })).not.toBe(dataHash(large));
    });

    it('hands back the hashed text itself: the record with sorted keys, as the store saves it', () => {
        const { json, hash } = canonicalJson(sample);
        expect(json).toBe(referenceJson(sample));
        expect(JSON.parse(json)).toEqual(sample);
        expect(createHash('sha256').update(json).digest('hex')).toBe(hash);
        expect(Object.keys(JSON.parse(json) as object)).toEqual(Object.keys(sample).sort());
    });
});

describe('asJsonObject', () => {
    it('keeps a record that is already plain JSON as it is', () => {
        const record = JSON.parse('{"id":"a","list":[1,null,{"x":"y"}],"flag":true}') as object;
        expect(asJsonObject(record)).toBe(record);
    });

    it.each([
        { what: 'a Date', record: { id: 'a', at: new Date('2026-01-02T03:04:05.000Z') } },
        { what: 'an undefined field', record: { id: 'a', gone: undefined } },
        { what: 'an undefined item', record: { id: 'a', list: [1, undefined] } },
        { what: 'a hole', record: { id: 'a', list: Object.assign(new Array<unknown>(3), { 1: 'only' }) } },
        { what: 'a non-finite number', record: { id: 'a', n: Number.NaN } },
        { what: 'a class instance', record: { id: 'a', value: new URL('https://example.com/x') } }
    ])('copies a record with $what into what JSON.stringify would send', ({ record }) => {
        const stored = asJsonObject(record);
        expect(stored).not.toBe(record);
        expect(stored).toEqual(JSON.parse(JSON.stringify(record)));
    });
});
