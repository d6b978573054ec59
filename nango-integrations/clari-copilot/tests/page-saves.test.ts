import { describe, expect, it, vi } from 'vitest';

import type { NangoSync } from '../../models.js';
import { PageSaves, SAVE_PART_SIZE } from '../page-saves.js';

function records(from: number, count: number): { id: string }[] {
    return Array.from({ length: count }, (_, index) => ({ id: `call-${from + index}` }));
}

function fakeNango(batchSave: (records: { id: string }[]) => Promise<void>): NangoSync {
    return { batchSave: vi.fn(batchSave) } as unknown as NangoSync;
}

describe('PageSaves', () => {
    it('sends a part once SAVE_PART_SIZE records wait, one save at a time, and the rest on finish', async () => {
        const sent: string[][] = [];
        let inFlight = 0;
        let mostInFlight = 0;
        const saves = new PageSaves(
            fakeNango(async (part) => {
                inFlight++;
                mostInFlight = Math.max(mostInFlight, inFlight);
                await new Promise((resolve) => setTimeout(resolve, 5));
                sent.push(part.map((record) => record.id));
                inFlight--;
            })
        );
        records(0, 2 * SAVE_PART_SIZE + 3).forEach((record) => {
            saves.add(record);
        });
        expect(saves.has('call-0')).toBe(true);
        expect(saves.has('elsewhere')).toBe(false);
        expect(await saves.finish()).toBe(2 * SAVE_PART_SIZE + 3);
        expect(sent.map((part) => part.length)).toEqual([SAVE_PART_SIZE, SAVE_PART_SIZE, 3]);
        expect(sent.flat()).toEqual(records(0, 2 * SAVE_PART_SIZE + 3).map((record) => record.id));
        expect(mostInFlight).toBe(1);
    });

    it('stops at a failed save and throws its error from finish', async () => {
        const sent: number[] = [];
        const saves = new PageSaves(
            fakeNango((part) => {
                sent.push(part.length);
                return sent.length === 1 ? Promise.reject(new Error('persist refused the batch')) : Promise.resolve();
            })
        );
        records(0, 3 * SAVE_PART_SIZE).forEach((record) => {
            saves.add(record);
        });
        await expect(saves.finish()).rejects.toThrow('persist refused the batch');
        expect(sent).toEqual([SAVE_PART_SIZE]);
    });

    it('on abandon sends nothing more and waits for the save in flight', async () => {
        let finishSave: () => void = () => undefined;
        const sent: number[] = [];
        const saves = new PageSaves(
            fakeNango(
                (part) =>
                    new Promise<void>((resolve) => {
                        finishSave = () => {
                            sent.push(part.length);
                            resolve();
                        };
                    })
            )
        );
        records(0, SAVE_PART_SIZE + 5).forEach((record) => {
            saves.add(record);
        });
        let abandoned = false;
        const abandoning = saves.abandon().then(() => {
            abandoned = true;
        });
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect(abandoned).toBe(false);
        finishSave();
        await abandoning;
        expect(sent).toEqual([SAVE_PART_SIZE]);
    });
});
