import type { NangoSync } from '../models.js';
import { WeeklyBudget, weeklyReserve } from './budget.js';
import type { SyncOptions } from './options.js';
import { planRun, RECONCILE_BUDGET_SHARE, type RunPlan } from './plan.js';
import type { SyncMemory } from './sync-memory.js';

const HOUR_MS = 60 * 60 * 1000;

/**
 * The week's budget for this run: what the checkpoint says the week has cost, and the reserve the backfill
 * leaves to the runs still to come. Every count is persisted through the run's memory.
 */
export function weeklyBudgetFor(nango: NangoSync, options: SyncOptions, memory: SyncMemory, runStartedAt: Date): WeeklyBudget {
    const sinceLastRunMs = nango.lastSyncDate ? runStartedAt.getTime() - nango.lastSyncDate.getTime() : HOUR_MS;
    return new WeeklyBudget({
        budget: options.weeklyRequestBudget,
        nowMs: () => Date.now(),
        saved: memory.budgetSpent,
        reserve: weeklyReserve({
            budget: options.weeklyRequestBudget,
            nowMs: runStartedAt.getTime(),
            // Interrupted runs hand over within seconds; the schedule itself is hourly.
            runEveryMs: Math.min(24 * HOUR_MS, Math.max(HOUR_MS / 4, sinceLastRunMs)),
            changesCostPerRun: memory.changesCost ?? 2
        }),
        persist: async (weekStartMs, spentUpTo) => {
            memory.budgetSpent = { weekStartMs, spent: spentUpTo };
            await memory.save();
        }
    });
}

/**
 * Plans the run from what the checkpoint remembers, and records a backfill or reconciliation it begins. A due
 * reconciliation starts only when the week can pay for a whole listing: one the budget cuts off deletes nothing.
 */
export async function planWithinBudget(
    nango: NangoSync,
    runStartedAt: Date,
    options: SyncOptions,
    memory: SyncMemory,
    budget: WeeklyBudget
): Promise<RunPlan> {
    const listingCost = memory.listingPages === null ? 0 : Math.ceil(memory.listingPages * 1.1);
    const remembered = {
        hasCheckpoints: memory.hasCheckpoints,
        backfill: memory.backfill,
        changesListedUntil: memory.changesListedUntil,
        listingPages: memory.listingPages,
        reconciliation: memory.reconciliation
    };
    const plan = planRun(runStartedAt, nango.lastSyncDate, options, {
        ...remembered,
        postponeReconciliation: listingCost > budget.availableTo('backfill')
    });
    if (plan.kind !== 'reconcile' && planRun(runStartedAt, nango.lastSyncDate, options, remembered).beginsReconciliation) {
        await nango.log(
            `Postponing the reconciliation: a whole listing takes about ${listingCost} requests and this Clari week has ` +
                `${budget.availableTo('backfill')} left beyond the reserve for incremental runs. A later run reconciles.`
        );
    }
    if (plan.reconcileCadence.derived && plan.reconcileCadence.hours > 24) {
        await nango.log(
            `Reconciling every ${plan.reconcileCadence.hours} hours: a whole listing takes ${memory.listingPages ?? '?'} pages, and ` +
                `reconciliations may spend ${RECONCILE_BUDGET_SHARE * 100}% of the ${options.weeklyRequestBudget}-request weekly budget.`
        );
    }
    if (plan.beginsBackfill) {
        memory.backfill = plan.beginsBackfill;
        memory.changesListedUntil = runStartedAt;
    }
    if (plan.beginsReconciliation) {
        memory.reconciliation = plan.beginsReconciliation;
    }
    return plan;
}
