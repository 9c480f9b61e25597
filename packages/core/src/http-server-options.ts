/**
 * node:http limits of the HTTP/1.1 listeners (the Resources API's Connect port, the auth server):
 * a request must arrive whole within 30 s and its headers within 15 s (Node's defaults are 300 s
 * and 60 s), so a client trickling bytes cannot hold an in-flight slot for minutes; idle
 * keep-alive connections close after 5 s. They bound receiving the request, not answering it.
 */
export const HTTP1_SERVER_OPTIONS = {
  requestTimeout: 30_000,
  headersTimeout: 15_000,
  keepAliveTimeout: 5_000,
  maxHeaderSize: 16 * 1024,
} as const;
