import type { AddressInfo } from 'node:net';

import type { FastifyInstance } from 'fastify';

/** The address a listening server answers on, with an IPv6 host in brackets. */
export function listeningUrl(app: FastifyInstance, host: string): string {
    const { port } = app.server.address() as AddressInfo;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
