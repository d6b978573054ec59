import { Faker, en } from '@faker-js/faker';
import { Rng } from './random.js';

/**
 * The people and CRM objects calls refer to. Generated once per emulator with faker (realistic names), then
 * referenced from calls by index so a call record stays a few hundred bytes.
 */

export interface WorkspaceUser {
    userId: string;
    name: string;
    email: string;
    personId: number;
}

export interface Contact {
    name: string;
    email?: string;
    phone: string;
    personId: number;
    crmId: string;
}

export interface Deal {
    crmId: string;
    name: string;
    value: string;
    closeDateMs: number;
    stageBefore: string;
    stageLive: string;
}

export interface Account {
    name: string;
    domain: string;
    crmId: string;
    contacts: Contact[];
    deal?: Deal;
}

export interface Workspace {
    companyName: string;
    crm: string;
    users: WorkspaceUser[];
    accounts: Account[];
}

export const DEAL_STAGES = ['Discovery', 'Qualification', 'Demo', 'Proposal', 'Negotiation', 'Closed Won', 'Closed Lost'] as const;
const DAY_MS = 86_400_000;

function slug(text: string): string {
    return text
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '')
        .slice(0, 20);
}

export function createWorkspace(seed: number, callCount: number, nowMs: number): Workspace {
    const faker = new Faker({ locale: [en] });
    faker.seed(seed);
    const rng = new Rng(seed, 0x5eed);
    const companyName = faker.company.name().split(/[ ,-]/)[0] ?? 'Acme';
    const companyDomain = `${slug(companyName)}.io`;

    const userCount = Math.min(60, Math.max(8, Math.round(8 + callCount / 100)));
    const users = Array.from({ length: userCount }, (_, index): WorkspaceUser => {
        const first = faker.person.firstName();
        const last = faker.person.lastName();
        return {
            userId: rng.hex(24),
            name: `${first} ${last}`,
            email: `${slug(first)}.${slug(last)}@${companyDomain}`,
            personId: 100_000 + index * 7
        };
    });

    const accountCount = Math.min(800, Math.max(20, Math.round(callCount / 6)));
    let personSeq = 0;
    const accounts = Array.from({ length: accountCount }, (): Account => {
        const name = faker.company.name();
        const domain = `${slug(name)}.com`;
        const contacts = Array.from({ length: rng.int(1, 4) }, (): Contact => {
            const first = faker.person.firstName();
            const last = faker.person.lastName();
            personSeq += 1;
            const contact: Contact = {
                name: `${first} ${last}`,
                phone: faker.phone.number({ style: 'international' }),
                personId: 500_000 + personSeq * 3,
                crmId: `003${rng.hex(15).toUpperCase()}`
            };
            if (rng.chance(0.9)) {
                contact.email = `${slug(first)}.${slug(last)}@${domain}`;
            }
            return contact;
        });
        const account: Account = { name, domain, crmId: `001${rng.hex(15).toUpperCase()}`, contacts };
        if (rng.chance(0.7)) {
            const stageIndex = rng.int(0, 4);
            account.deal = {
                crmId: `006${rng.hex(15).toUpperCase()}`,
                name: `${name} - ${rng.pick(['New Business', 'Expansion', 'Renewal', 'Pilot'])}`,
                value: String(rng.int(5, 400) * 1000),
                closeDateMs: nowMs + rng.int(-180, 180) * DAY_MS,
                stageBefore: DEAL_STAGES[stageIndex] ?? 'Discovery',
                stageLive: DEAL_STAGES[Math.min(stageIndex + rng.int(0, 2), DEAL_STAGES.length - 1)] ?? 'Discovery'
            };
        }
        return account;
    });

    return { companyName, crm: rng.pick(['SALESFORCE', 'HUBSPOT']), users, accounts };
}
