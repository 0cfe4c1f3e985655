"""Declare a queue the user may not configure, through pika, and print
the channel error the broker answers.

Usage: refused.py AMQP_URL QUEUE

Prints one line: "REFUSED <code> <text>" when the declare is refused,
"ALLOWED" when it is not (exit status 1). Run by e2e/access_test.go.
"""
import sys

import pika


def main():
    url, queue = sys.argv[1], sys.argv[2]
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    try:
        ch.queue_declare(queue=queue, auto_delete=True)
    except pika.exceptions.ChannelClosedByBroker as e:
        print("REFUSED %d %s" % (e.reply_code, e.reply_text))
        conn.close()
        return 0
    print("ALLOWED")
    conn.close()
    return 1


if __name__ == "__main__":
    sys.exit(main())
