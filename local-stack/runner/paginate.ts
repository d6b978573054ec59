import type { ProxyConfiguration } from '../../nango-integrations/models.js';

export interface ProxyResult {
    data: unknown;
    headers: Record<string, string>;
}

type Proxy = (config: ProxyConfiguration) => Promise<ProxyResult>;

function getPath(value: unknown, path: string | undefined): unknown {
    if (path === undefined || path === '') {
        return value;
    }
    let current = value;
    for (const key of path.split('.')) {
        if (current === null || typeof current !== 'object') {
            return undefined;
        }
        current = (current as Record<string, unknown>)[key];
    }
    return current;
}

function pageItems(data: unknown, responsePath: string | undefined): unknown[] | undefined {
    const items = getPath(data, responsePath);
    return Array.isArray(items) && items.length > 0 ? items : undefined;
}

function nextLink(result: ProxyResult, rel: string | undefined, bodyPath: string | undefined): string | undefined {
    if (rel) {
        for (const part of (result.headers['link'] ?? '').split(',')) {
            const match = /<([^>]+)>\s*;\s*rel="?([^";]+)"?/.exec(part.trim());
            if (match?.[2] === rel && match[1]) {
                return match[1];
            }
        }
    }
    const fromBody = getPath(result.data, bodyPath);
    return bodyPath && typeof fromBody === 'string' && fromBody !== '' ? fromBody : undefined;
}

/**
 * `nango.paginate` for the cursor, offset and link strategies, with Nango's stop rules: an empty page
 * ends every strategy, a page shorter than `limit` ends offset paging, a missing cursor/link ends the others.
 */
export async function* paginate<T>(config: ProxyConfiguration, proxy: Proxy): AsyncGenerator<T[], undefined, void> {
    const pagination = config.paginate;
    if (!pagination?.type) {
        throw new Error('There was no pagination configuration for this integration or configuration passed in.');
    }
    const method = (config.method ?? 'GET').toUpperCase();
    const inBody = pagination.in_body ?? ['POST', 'PUT', 'PATCH'].includes(method);
    const carrier: Record<string, unknown> = { ...((inBody ? config.data : config.params) as Record<string, unknown> | undefined) };
    if (pagination.limit !== undefined && pagination.limit_name_in_request) {
        carrier[pagination.limit_name_in_request] = pagination.limit;
    }
    const request = (): ProxyConfiguration =>
        inBody
            ? { ...config, method: config.method ?? 'GET', data: { ...carrier } }
            : { ...config, params: { ...carrier } as Record<string, string | number> };

    if (pagination.type === 'offset' && 'offset_name_in_request' in pagination && pagination.offset_name_in_request) {
        const name = pagination.offset_name_in_request;
        let offset = pagination.offset_start_value ?? 0;
        for (;;) {
            carrier[name] = inBody ? offset : String(offset);
            const items = pageItems((await proxy(request())).data, pagination.response_path);
            if (!items) {
                return undefined;
            }
            yield items as T[];
            if (pagination.limit !== undefined && items.length < Number(pagination.limit)) {
                return undefined;
            }
            offset += pagination.offset_calculation_method === 'per-page' ? 1 : items.length;
        }
    }

    if (
        pagination.type === 'cursor' &&
        'cursor_name_in_request' in pagination &&
        pagination.cursor_name_in_request &&
        pagination.cursor_path_in_response
    ) {
        for (;;) {
            const result = await proxy(request());
            const items = pageItems(result.data, pagination.response_path);
            if (!items) {
                return undefined;
            }
            yield items as T[];
            const next = getPath(result.data, pagination.cursor_path_in_response);
            if ((typeof next !== 'string' || next.trim() === '') && typeof next !== 'number') {
                return undefined;
            }
            carrier[pagination.cursor_name_in_request] = typeof next === 'string' ? next.trim() : next;
        }
    }

    if (pagination.type === 'link') {
        const rel = 'link_rel_in_response_header' in pagination ? pagination.link_rel_in_response_header : undefined;
        const bodyPath = 'link_path_in_response_body' in pagination ? pagination.link_path_in_response_body : undefined;
        let current = request();
        let previous: string | undefined;
        for (;;) {
            const result = await proxy(current);
            yield (getPath(result.data, pagination.response_path) ?? []) as T[];
            const link = nextLink(result, rel, bodyPath);
            if (!link || link === previous) {
                return undefined;
            }
            previous = link;
            const { params: _dropped, ...rest } = current;
            if (URL.canParse(link)) {
                const url = new URL(link);
                current = { ...rest, baseUrlOverride: url.origin, endpoint: url.pathname + url.search };
            } else {
                current = { ...rest, endpoint: link };
            }
        }
    }

    throw new Error(`'${pagination.type}' pagination is not supported or is missing its parameters`);
}
