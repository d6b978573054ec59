import { STATUS_CODES } from 'node:http';

/** The request as the error reports it: enough to debug, never the auth headers. */
export interface RequestSummary {
    method: string;
    url: string;
}

export interface ErrorResponse {
    status: number;
    statusText: string;
    headers: Record<string, string>;
    data: unknown;
    config: RequestSummary;
}

/**
 * What the Nango SDK throws for a non-2xx proxy response: an AxiosError. Syncs read
 * `error.response.status` and `error.response.headers['retry-after']`, so this keeps that shape
 * (including axios' `isAxiosError`, `code` and message) without depending on axios.
 */
export class ProxyHttpError extends Error {
    override readonly name = 'AxiosError';
    readonly isAxiosError = true;
    readonly code: 'ERR_BAD_REQUEST' | 'ERR_BAD_RESPONSE';
    readonly status: number;
    readonly config: RequestSummary;
    readonly response: ErrorResponse;

    constructor(response: Omit<ErrorResponse, 'statusText'>) {
        super(`Request failed with status code ${response.status}`);
        this.code = response.status >= 500 ? 'ERR_BAD_RESPONSE' : 'ERR_BAD_REQUEST';
        this.status = response.status;
        this.config = response.config;
        this.response = { ...response, statusText: STATUS_CODES[response.status] ?? '' };
    }
}

/** A proxy request that never got a response: like an axios network error, a `code` and no `response`. */
export class ProxyRequestError extends Error {
    override readonly name = 'AxiosError';
    readonly isAxiosError = true;
    readonly response = undefined;

    constructor(
        readonly code: string,
        message: string,
        readonly config: RequestSummary
    ) {
        super(message);
    }
}
