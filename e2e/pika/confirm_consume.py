"""Publish N messages with publisher confirms through pika, consume them
with manual acks, and check bodies and order.

Usage: confirm_consume.py AMQP_URL QUEUE N [QUEUE_TYPE]

With QUEUE_TYPE (such as quorum) the queue is declared durable with that
x-queue-type; without it, as a plain non-durable queue.

Prints one line: "OK published=N confirmed=N consumed=N" on success, or
"FAIL <reason>" (exit status 1). Run by e2e/pika_test.go and e2e/quorum_test.go.
"""
import sys

import pika


def main():
    url, queue, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    if len(sys.argv) > 4:
        ch.queue_declare(queue=queue, durable=True, arguments={"x-queue-type": sys.argv[4]})
    else:
        ch.queue_declare(queue=queue, auto_delete=False)
    ch.confirm_delivery()
    confirmed = 0
    for i in range(n):
        # With confirms on, basic_publish waits for the broker's ack and
        # raises on a nack (or, being mandatory, on a basic.return).
        ch.basic_publish(
            exchange="",
            routing_key=queue,
            body=("msg-%d" % i).encode(),
            properties=pika.BasicProperties(
                content_type="text/plain", delivery_mode=2, headers={"seq": i}
            ),
            mandatory=True,
        )
        confirmed += 1

    got = []
    ch.basic_qos(prefetch_count=10)
    for method, props, body in ch.consume(queue, auto_ack=False, inactivity_timeout=5):
        if method is None:
            print("FAIL timed out after %d of %d deliveries" % (len(got), n))
            return 1
        want = "msg-%d" % len(got)
        if body.decode() != want or props.headers.get("seq") != len(got):
            print("FAIL delivery %d: body %r seq %r, want %r" % (len(got), body, props.headers, want))
            return 1
        if method.redelivered:
            print("FAIL delivery %d flagged redelivered" % len(got))
            return 1
        ch.basic_ack(method.delivery_tag)
        got.append(body)
        if len(got) == n:
            break
    ch.cancel()
    left = ch.queue_declare(queue=queue, passive=True).method.message_count
    ch.queue_delete(queue=queue)
    conn.close()
    if left != 0:
        print("FAIL %d messages left after acking all" % left)
        return 1
    print("OK published=%d confirmed=%d consumed=%d" % (n, confirmed, len(got)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
