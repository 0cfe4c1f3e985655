"""Check every permission rule and limit through pika, against a broker that
loaded the users, vhosts and permissions of e2e/access_test.go
(accessDefinitions): each case is an AMQP operation that must either be
allowed or be refused with a given reply code and reply text.

Usage: permissions.py HOST PORT < EXPECTATIONS

EXPECTATIONS is a JSON object from case name to its expected outcome: null
when the operation is allowed, {"code": N, "text": T} when it is refused
with reply code N and reply text T, or {"code": N, "match": R} when the
reply text must match the regular expression R in full. Every case below
must have an expectation, and every expectation a case.

Prints one line per case, in order, its fields separated by tabs:
"ok<TAB><case><TAB><outcome>" when pika saw what was expected, else
"FAIL<TAB><case><TAB>got <outcome>, want <outcome>" (or "not run" for an
expectation without a case); then "DONE <n> ok, <m> failed". Exits 1 on
any failure. An outcome is "allowed" or "<code> <text>". Run by
e2e/access_pika_test.go.
"""
import ast
import json
import re
import sys
import time

import pika
from pika.exceptions import (
    ChannelClosedByBroker,
    ConnectionClosedByBroker,
    ProbableAccessDeniedError,
    ProbableAuthenticationError,
)

# The users of accessDefinitions and their passwords.
PASSWORDS = {"admin": "admin-pw", "app": "app-pw", "nohost": "nohost-pw", "lim": "lim-pw"}

# How long a case waits for the broker to notice a closed connection.
WAIT = 5.0


def refusal(e):
    """The (reply code, reply text) a pika exception reports, or None.

    pika raises ChannelClosedByBroker or ConnectionClosedByBroker for a
    channel.close or connection.close. A connection.close received while
    the connection opens is raised instead as ProbableAuthenticationError
    (before connection.tune) or ProbableAccessDeniedError (after it), whose
    argument is the repr of the ConnectionClosedByBroker.
    """
    if isinstance(e, (ChannelClosedByBroker, ConnectionClosedByBroker)):
        return e.reply_code, e.reply_text
    if isinstance(e, (ProbableAuthenticationError, ProbableAccessDeniedError)) and e.args:
        m = re.fullmatch(r"ConnectionClosedByBroker: \((\d+)\) (.*)", str(e.args[0]), re.S)
        if m:
            return int(m.group(1)), ast.literal_eval(m.group(2))
    return None


class Broker:
    """Opens connections to the broker under test and keeps them to close."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conns = []

    def connect(self, user, vhost, password=None):
        params = pika.ConnectionParameters(
            host=self.host, port=self.port, virtual_host=vhost,
            credentials=pika.PlainCredentials(user, password or PASSWORDS[user]),
            connection_attempts=1, socket_timeout=WAIT)
        conn = pika.BlockingConnection(params)
        self.conns.append(conn)
        return conn

    def close(self):
        for conn in self.conns:
            if conn.is_open:
                conn.close()


def on_channel(conn, op):
    """A case that runs op on a fresh channel of conn; when op is allowed
    the channel must still be open (app may passively declare amq.topic)."""

    def case():
        ch = conn.channel()
        op(ch)
        ch.exchange_declare("amq.topic", "topic", passive=True)
        ch.close()

    return case


def publish(conn, exchange, key):
    """A case that publishes one message with confirms on a fresh channel:
    allowed when the broker acks it."""

    def case():
        ch = conn.channel()
        ch.confirm_delivery()
        # With confirms, basic_publish waits for the ack and raises
        # ChannelClosedByBroker when the channel is closed instead.
        ch.basic_publish(exchange=exchange, routing_key=key, body=b"m")
        ch.close()

    return case


def cases(b):
    """The cases, in the order they run: (name, function). A function
    returns normally when the operation is allowed and raises what pika
    raises when it is refused."""
    admin = b.connect("admin", "shop").channel()
    admin.exchange_declare("app.x", "direct")
    admin.exchange_declare("other.topic", "topic", auto_delete=True)
    app = b.connect("app", "shop")

    def declare_q(name, **kw):
        return lambda ch: ch.queue_declare(name, **kw)

    def delete_own_queue(ch):
        ch.queue_declare("app.gone")
        ch.queue_delete("app.gone")

    def consume(queue):
        return lambda ch: ch.basic_consume(queue, lambda *a: None, auto_ack=True)

    yield "connection.open shop as app", lambda: b.connect("app", "shop").close()
    yield "connection.open shop without permissions", lambda: b.connect("nohost", "shop")
    yield "connection.open with a wrong password", lambda: b.connect("app", "shop", "wrong")

    yield "exchange.declare app.*", on_channel(app, lambda ch: ch.exchange_declare("app.mine", "fanout"))
    yield "exchange.declare elsewhere", on_channel(app, lambda ch: ch.exchange_declare("other.mine", "fanout"))
    yield "exchange.declare passive with read", on_channel(
        app, lambda ch: ch.exchange_declare("amq.topic", "topic", passive=True))
    yield "exchange.declare passive without any", on_channel(
        app, lambda ch: ch.exchange_declare("other.x", "direct", passive=True))

    yield "queue.declare app.*", on_channel(app, declare_q("app.q"))
    yield "queue.declare exclusive app.*", on_channel(app, declare_q("app.excl", exclusive=True))
    yield "queue.declare elsewhere", on_channel(app, declare_q("other.mine"))
    yield "queue.declare passive app.*", on_channel(app, declare_q("app.q", passive=True))
    yield "queue.declare passive without any", on_channel(app, declare_q("other.q", passive=True))
    yield "queue.declare server-named", on_channel(app, declare_q("", exclusive=True))
    yield "queue.delete app.*", on_channel(app, delete_own_queue)
    yield "queue.delete elsewhere", on_channel(app, lambda ch: ch.queue_delete("other.q"))
    yield "queue.purge app.*", on_channel(app, lambda ch: ch.queue_purge("app.q"))
    yield "queue.purge elsewhere", on_channel(app, lambda ch: ch.queue_purge("other.q"))

    yield "queue.bind app.q to app.x", on_channel(app, lambda ch: ch.queue_bind("app.q", "app.x", "k"))
    yield "queue.bind from an exchange not readable", on_channel(
        app, lambda ch: ch.queue_bind("app.q", "amq.direct", "k"))
    yield "queue.bind a queue not writable", on_channel(app, lambda ch: ch.queue_bind("other.q", "app.x", "k"))
    yield "queue.unbind app.q from app.x", on_channel(app, lambda ch: ch.queue_unbind("app.q", "app.x", "k"))
    yield "queue.unbind a queue not writable", on_channel(
        app, lambda ch: ch.queue_unbind("other.q", "app.x", "k"))
    yield "exchange.bind app.mine to app.x", on_channel(
        app, lambda ch: ch.exchange_bind("app.mine", "app.x", "k"))
    yield "exchange.bind to a destination not writable", on_channel(
        app, lambda ch: ch.exchange_bind("other.x", "app.x", "k"))
    yield "exchange.bind from a source not readable", on_channel(
        app, lambda ch: ch.exchange_bind("app.mine", "amq.direct", "k"))
    yield "exchange.delete app.*", on_channel(app, lambda ch: ch.exchange_delete("app.mine"))
    yield "exchange.delete elsewhere", on_channel(app, lambda ch: ch.exchange_delete("other.x"))

    yield "topic bind with a key of the vhost", on_channel(app, lambda ch: ch.queue_bind("app.q", "amq.topic", "shop.#"))
    yield "topic bind with another key", on_channel(app, lambda ch: ch.queue_bind("app.q", "amq.topic", "x.#"))

    yield "basic.consume app.q", on_channel(app, consume("app.q"))
    yield "basic.consume elsewhere", on_channel(app, consume("other.q"))
    yield "basic.get app.q", on_channel(app, lambda ch: ch.basic_get("app.q", auto_ack=True))
    yield "basic.get elsewhere", on_channel(app, lambda ch: ch.basic_get("other.q", auto_ack=True))

    yield "basic.publish to the default exchange", publish(app, "", "app.q")
    yield "basic.publish to amq.topic with a key of the user", publish(app, "amq.topic", "app.orders")
    yield "basic.publish to amq.topic with a key of another user", publish(app, "amq.topic", "eve.orders")
    yield "basic.publish to an exchange not writable", publish(app, "amq.fanout", "")
    yield "basic.publish to a missing exchange not writable", publish(app, "nowhere", "")

    tiny = {}

    def tiny_first():
        tiny["conn"] = b.connect("admin", "tiny")
        tiny["ch"] = tiny["conn"].channel()

    def tiny_again():
        tiny["conn"].close()
        connect_within(b, "admin", "tiny")

    yield "vhost max-connections: the first", tiny_first
    yield "vhost max-connections: one more", lambda: b.connect("admin", "tiny")
    yield "vhost max-queues: the first", lambda: tiny["ch"].queue_declare("q1")
    yield "vhost max-queues: one more", lambda: tiny["ch"].queue_declare("q2")
    yield "vhost max-connections: once the first is closed", tiny_again

    lim = {}

    def lim_first():
        lim["conn"] = b.connect("lim", "shop")

    def lim_two_channels():
        lim["conn"].channel()
        lim["conn"].channel()

    yield "user max-connections: the first", lim_first
    yield "user max-connections: one more", lambda: b.connect("lim", "shop")
    yield "user max-channels: two", lim_two_channels
    yield "user max-channels: one more", lambda: lim["conn"].channel()

def connect_within(b, user, vhost):
    """Connects as user to vhost, retrying while the broker refuses for up
    to WAIT seconds (until it has counted a closed connection out)."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            return b.connect(user, vhost)
        except ProbableAccessDeniedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def outcome(fn):
    """Runs a case: "allowed", or "<code> <text>" of its refusal."""
    try:
        fn()
    except Exception as e:  # pylint: disable=broad-except
        r = refusal(e)
        if r is None:
            return "error %s: %r" % (type(e).__name__, e)
        return "%d %s" % r
    return "allowed"


def wanted(want, got):
    """Whether outcome got is the expectation want."""
    if want is None:
        return got == "allowed"
    code, _, text = got.partition(" ")
    if code != str(want["code"]):
        return False
    if "match" in want:
        return re.fullmatch(want["match"], text) is not None
    return text == want["text"]


def describe(want):
    if want is None:
        return "allowed"
    if "match" in want:
        return "%d /%s/" % (want["code"], want["match"])
    return "%d %s" % (want["code"], want["text"])


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    expect = json.load(sys.stdin)
    b = Broker(host, port)
    ok = failed = 0
    try:
        for name, fn in cases(b):
            got = outcome(fn)
            if name not in expect:
                print("FAIL\t%s\tgot %s, want no such case" % (name, got))
                failed += 1
                continue
            want = expect.pop(name)
            if wanted(want, got):
                print("ok\t%s\t%s" % (name, got))
                ok += 1
            else:
                print("FAIL\t%s\tgot %s, want %s" % (name, got, describe(want)))
                failed += 1
    except Exception as e:  # pylint: disable=broad-except
        # The setup of the cases failed: report it on one line.
        print("FAIL\tsetup\t%s: %r" % (type(e).__name__, e))
        failed += 1
    finally:
        b.close()
    for name in expect:
        print("FAIL\t%s\tnot run" % name)
        failed += 1
    print("DONE %d ok, %d failed" % (ok, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
