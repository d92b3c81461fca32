/**
 * A response body read from an async generator of text, one piece per pull: the next piece is
 * only made when the client has taken the last one (backpressure), and a client that goes away
 * stops the generator (its `finally` runs). Works alike on Node (@hono/node-server) and Workers.
 */
export function textStream(pieces: AsyncGenerator<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const { value, done } = await pieces.next();
        if (done) {
          controller.close();
          return;
        }
        // an empty piece (no rows in a chunk) is not a chunk of the body
        if (value !== '') {
          controller.enqueue(encoder.encode(value));
          return;
        }
      }
    },
    async cancel() {
      await pieces.return(undefined);
    },
  });
}
