"""Connect to an AMQPS listener through pika with a client certificate and
log in with the EXTERNAL mechanism, then publish and get one message.

Usage: tls_external.py HOST PORT CA_FILE CERT_FILE KEY_FILE QUEUE

Prints one line: "OK" on success, or "FAIL <reason>" (exit status 1). Run
by e2e/tls_test.go.
"""
import ssl
import sys

import pika
from pika.credentials import ExternalCredentials


def main():
    host, port, ca, cert, key, queue = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    params = pika.ConnectionParameters(
        host=host, port=port, ssl_options=pika.SSLOptions(context, "localhost"),
        credentials=ExternalCredentials())
    conn = pika.BlockingConnection(params)
    ch = conn.channel()
    ch.queue_declare(queue=queue, auto_delete=True)
    ch.basic_publish(exchange="", routing_key=queue, body=b"over TLS")
    for _ in range(100):
        method, _, body = ch.basic_get(queue=queue, auto_ack=True)
        if method is not None:
            break
        conn.sleep(0.05)
    else:
        print("FAIL no message")
        sys.exit(1)
    if body != b"over TLS":
        print("FAIL body %r" % body)
        sys.exit(1)
    conn.close()
    print("OK")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report any failure on one line
        print("FAIL %s: %s" % (type(e).__name__, e))
        sys.exit(1)
