import type { ClariEmulator } from './server.js';
import { DEFAULT_CREDENTIALS } from './runtime.js';

/** Shared by the emulator's tests: authenticated requests through app.inject (no sockets, no ports). */

export const AUTH = { 'x-api-key': DEFAULT_CREDENTIALS.apiKey, 'x-api-password': DEFAULT_CREDENTIALS.apiPassword };

export interface JsonResponse<T> {
    status: number;
    headers: Record<string, string | string[] | number | undefined>;
    body: T;
    raw: string;
}

export async function request<T = Record<string, unknown>>(
    emulator: ClariEmulator,
    url: string,
    options: { method?: 'GET' | 'POST' | 'PUT'; headers?: Record<string, string>; body?: unknown } = {}
): Promise<JsonResponse<T>> {
    const headers: Record<string, string> = { ...(options.headers ?? (url.startsWith('/_control') ? {} : AUTH)) };
    if (options.body !== undefined) {
        headers['content-type'] = 'application/json';
    }
    const response = await emulator.app.inject({
        method: options.method ?? 'GET',
        url,
        headers,
        ...(options.body === undefined ? {} : { payload: JSON.stringify(options.body) })
    });
    return {
        status: response.statusCode,
        headers: response.headers,
        body: (response.body === '' ? {} : JSON.parse(response.body)) as T,
        raw: response.body
    };
}

export interface ListedCall {
    id: string;
    time: string;
    last_modified_time: string;
    status: string;
    type: string;
    title: string;
    users: { userEmail: string; personId: number | string }[] | string;
    externalParticipants: { email?: string }[];
    source_id?: string;
    audio_url?: string | null;
    video_url?: string;
    metrics?: { call_duration: number };
    transcript?: { text: string; start: number; end: number; personId: number | string }[];
    summary?: { topics_discussed: { name: string; start_timestamp: number | string }[] };
    competitor_sentiments?: unknown[];
    deal_stage_live?: string;
    private?: boolean;
}

export interface CallsPage {
    calls: ListedCall[];
    pagination?: { matched: number; hasMore: boolean; nextPageSkip?: number };
}

/** Pages through /calls with the given extra query until the last page. */
export async function listAll(emulator: ClariEmulator, query = '', limit = 100): Promise<{ calls: ListedCall[]; pages: CallsPage[] }> {
    const pages: CallsPage[] = [];
    let skip: number | undefined = 0;
    while (skip !== undefined) {
        const response: JsonResponse<CallsPage> = await request<CallsPage>(emulator, `/calls?limit=${limit}&skip=${skip}${query}`);
        if (response.status !== 200) {
            throw new Error(`GET /calls answered ${response.status}: ${response.raw}`);
        }
        pages.push(response.body);
        if (pages.length > 1000) {
            throw new Error('paging never reaches a last page');
        }
        skip = response.body.pagination?.hasMore ? response.body.pagination.nextPageSkip : undefined;
    }
    return { calls: pages.flatMap((page) => page.calls), pages };
}

export async function truth(emulator: ClariEmulator, query = ''): Promise<ListedCall[]> {
    const calls: ListedCall[] = [];
    let offset: number | undefined = 0;
    while (offset !== undefined) {
        const response: JsonResponse<{ calls: ListedCall[]; nextOffset?: number }> = await request(
            emulator,
            `/_control/calls?offset=${offset}&limit=2000${query}`
        );
        calls.push(...response.body.calls);
        offset = response.body.nextOffset;
    }
    return calls;
}
