"""Interop check: slixmpp's "mobile" plugins against hearth.

Usage: slixmpp_mobile.py HOST PORT DOMAIN

Users alice ("pw-alice-123") and bob ("pw-bob-123") must exist.

1. XEP-0198: alice/res1 registers xep_0198, which enables resumable stream
   management after bind. bob sends messages to alice/res1; alice stops
   reading while bob sends two more (in flight, never handled by alice);
   alice's TCP connection is then aborted (no </stream:stream>, no TLS
   close_notify) while bob sends more; alice reconnects and resumes. Every message must
   arrive exactly once, in order, and the stream must be resumed (no new
   session).
2. XEP-0280: alice/res2 logs in; both alice resources enable carbons. bob
   writes to alice/res1: res2 gets a received carbon. alice/res1 writes to
   bob: res2 gets a sent carbon.
3. XEP-0313: alice pages through her archive with bob two messages at a
   time (RSM); every exchanged body must be there exactly once, in order.

Prints OK and exits 0 when all passed, "FAIL: reason" and exits 1 otherwise.
Set SLIXMPP_DEBUG=1 for slixmpp's DEBUG log (the XML on the wire) on stderr.
"""
import asyncio
import logging
import os
import ssl
import sys

import slixmpp
from slixmpp import JID


class Failure(Exception):
    pass


# Failures seen in event handlers, where raising would be swallowed.
handler_failures = []


def check(cond, msg):
    if not cond:
        raise Failure(msg)


async def wait_until(pred, what, timeout=15.0):
    loop = asyncio.get_event_loop()
    end = loop.time() + timeout
    while not pred():
        if handler_failures:
            raise Failure(handler_failures[0])
        if loop.time() > end:
            raise Failure("timed out waiting for " + what)
        await asyncio.sleep(0.05)


class Client:
    """One slixmpp ClientXMPP plus what the checks look at."""

    def __init__(self, name, resource, domain, plugins):
        self.name = "%s/%s" % (name, resource)
        self.x = slixmpp.ClientXMPP("%s@%s/%s" % (name, domain, resource), "pw-%s-123" % name)
        self.x.ssl_context.check_hostname = False
        self.x.ssl_context.verify_mode = ssl.CERT_NONE
        for p in plugins:
            self.x.register_plugin(p)
        self.inbox = []  # (from, body) of chat messages with a body
        self.carbons_received = []  # (from, to, body) of the forwarded message
        self.carbons_sent = []
        self.events = []  # event names, in order
        self.session_starts = 0
        self.started = asyncio.Event()
        self.sm_enabled = None  # the <enabled/> stanza

        x = self.x
        x.add_event_handler("session_start", self._on_start)
        x.add_event_handler("message", self._on_message)
        # failed_auth fires for each mechanism tried; no_auth when all failed.
        x.add_event_handler("no_auth", lambda _e: handler_failures.append(self.name + ": authentication failed"))
        for ev in ("sm_enabled", "sm_failed", "sm_disabled", "session_resumed", "session_end",
                   "disconnected", "connected", "carbon_received", "carbon_sent"):
            x.add_event_handler(ev, lambda _e, ev=ev: self.events.append(ev))
        x.add_event_handler("sm_enabled", self._on_sm_enabled)
        x.add_event_handler("carbon_received", self._on_carbon_received)
        x.add_event_handler("carbon_sent", self._on_carbon_sent)

    async def _on_start(self, _event):
        self.session_starts += 1
        if self.session_starts > 1:
            # A second session_start means the stream was not resumed.
            return
        await self.x.get_roster()
        self.x.send_presence()
        self.started.set()

    def _on_message(self, msg):
        if msg["type"] in ("chat", "normal") and msg["body"]:
            self.inbox.append((str(msg["from"]), msg["body"]))

    def _on_sm_enabled(self, enabled):
        self.sm_enabled = enabled

    def _on_carbon_received(self, msg):
        f = msg["carbon_received"]
        self.carbons_received.append((str(f["from"]), str(f["to"]), f["body"]))

    def _on_carbon_sent(self, msg):
        f = msg["carbon_sent"]
        self.carbons_sent.append((str(f["from"]), str(f["to"]), f["body"]))

    def bodies(self):
        return [b for _, b in self.inbox]

    async def start(self, addr):
        self.x.connect(address=addr, force_starttls=True)
        try:
            await asyncio.wait_for(self.started.wait(), 20)
        except asyncio.TimeoutError:
            raise Failure(self.name + " did not start a session (events %r)" % (self.events,))


async def test_sm(host, port, domain, alice, bob):
    """XEP-0198: enable, drop the TCP connection, resume, nothing lost or doubled."""
    sm = alice.x.plugin["xep_0198"]
    await wait_until(lambda: alice.sm_enabled is not None or "sm_failed" in alice.events,
                     "<enabled/> at alice")
    check("sm_failed" not in alice.events, "server answered <enable/> with <failed/>")
    en = alice.sm_enabled
    check(en.xml.get("resume") in ("true", "1"), "<enabled/> without resume='true': %s" % en)
    check(sm.sm_id and sm.sm_id == en["id"], "no resumption id in <enabled/>: %s" % en)
    check(sm.enabled_in and sm.enabled_out, "xep_0198 plugin not enabled")

    alice_res1 = "alice@%s/res1" % domain
    sent = []

    def send(n):
        for _ in range(n):
            body = "sm-%d" % (len(sent) + 1)
            bob.x.send_message(mto=alice_res1, mbody=body, mtype="chat")
            sent.append(body)

    send(3)
    await wait_until(lambda: len(alice.inbox) >= 3, "the first 3 messages at alice (got %r)" % alice.bodies())
    old_sm_id = sm.sm_id

    # Messages in flight when the network goes: alice stops reading, so what
    # hearth writes now is never handled (nor acked) by alice and must be
    # sent again after resumption.
    check(alice.x.transport is not None, "alice not connected before the drop")
    alice.x.transport.pause_reading()
    send(2)
    await asyncio.sleep(0.5)
    check(len(alice.inbox) == 3, "alice read while paused: %r" % alice.bodies())

    # Drop the connection: no </stream:stream>, no TLS close_notify; the
    # transport is aborted (RST).
    n_disc = alice.events.count("disconnected")
    alice.x.transport.abort()
    await wait_until(lambda: alice.events.count("disconnected") > n_disc, "alice's disconnected event")
    check("session_end" not in alice.events, "slixmpp ended the session on the drop: %r" % alice.events)

    # bob writes while alice is away; give hearth time to notice the drop.
    send(2)
    await asyncio.sleep(0.5)
    send(2)
    await asyncio.sleep(0.3)

    n_res = alice.events.count("session_resumed")
    alice.x.connect(address=(host, port), force_starttls=True)
    await wait_until(lambda: alice.events.count("session_resumed") > n_res
                     or "sm_failed" in alice.events or "session_end" in alice.events
                     or alice.session_starts > 1,
                     "session_resumed at alice (events %r)" % alice.events, timeout=20)
    check("sm_failed" not in alice.events and "session_end" not in alice.events,
          "resumption failed (events %r)" % alice.events)
    check(alice.session_starts == 1, "a new session was started instead of resuming")
    check(sm.sm_id == old_sm_id, "resumption id changed")

    # And the resumed stream carries traffic both ways.
    send(2)
    await wait_until(lambda: len(alice.inbox) >= len(sent),
                     "all %d messages at alice (got %r)" % (len(sent), alice.bodies()))
    await asyncio.sleep(1.0)  # anything duplicated would arrive by now
    got = alice.bodies()
    check(got == sent, "alice got %r, bob sent %r" % (got, sent))
    for frm, _ in alice.inbox:
        check(JID(frm).bare == "bob@" + domain, "message from %r" % frm)
    rtt = await alice.x.plugin["xep_0199"].ping(jid=domain, timeout=10)
    check(rtt is not None, "ping after resumption failed")
    return sent


async def test_carbons(domain, alice1, alice2, bob):
    """XEP-0280: received and sent carbons at the other resource."""
    alice_bare, bob_bare = "alice@" + domain, "bob@" + domain
    for c in (alice1, alice2):
        res = await c.x.plugin["xep_0280"].enable(timeout=10)
        check(res["type"] == "result", "%s: carbons enable: %s" % (c.name, res))

    n1, n2 = len(alice1.inbox), len(alice2.inbox)
    bob.x.send_message(mto=alice_bare + "/res1", mbody="carbon-in", mtype="chat")
    await wait_until(lambda: "carbon-in" in alice1.bodies()[n1:], "carbon-in at alice/res1")
    await wait_until(lambda: alice2.carbons_received, "a received carbon at alice/res2")
    frm, to, body = alice2.carbons_received[0]
    check(body == "carbon-in" and JID(frm).bare == bob_bare and to == alice_bare + "/res1",
          "received carbon forwards from=%r to=%r body=%r" % (frm, to, body))

    nb = len(bob.inbox)
    alice1.x.send_message(mto=bob_bare, mbody="carbon-out", mtype="chat")
    await wait_until(lambda: "carbon-out" in bob.bodies()[nb:], "carbon-out at bob")
    await wait_until(lambda: alice2.carbons_sent, "a sent carbon at alice/res2")
    frm, to, body = alice2.carbons_sent[0]
    check(body == "carbon-out" and frm == alice_bare + "/res1" and JID(to).bare == bob_bare,
          "sent carbon forwards from=%r to=%r body=%r" % (frm, to, body))

    await asyncio.sleep(0.5)
    check(len(alice2.carbons_received) == 1 and len(alice2.carbons_sent) == 1,
          "alice/res2 carbons: received %r sent %r" % (alice2.carbons_received, alice2.carbons_sent))
    check(alice2.bodies()[n2:] == [], "alice/res2 got the messages themselves: %r" % alice2.inbox[n2:])
    check(alice1.carbons_received == [] and alice1.carbons_sent == [],
          "alice/res1 got carbons of its own traffic: %r %r" % (alice1.carbons_received, alice1.carbons_sent))
    return [("bob", "carbon-in"), ("alice", "carbon-out")]


async def test_mam(domain, alice, expected):
    """XEP-0313: page through alice's archive with bob, 2 per page."""
    bob_bare = JID("bob@" + domain)
    it = alice.x.plugin["xep_0313"].retrieve(with_jid=bob_bare, iterator=True, rsm={"max": 2})
    got, pages, ids = [], 0, []
    async for page in it:
        pages += 1
        check(pages <= 20, "too many pages")
        results = page["mam"]["results"]
        check(len(results) <= 2, "page %d has %d results with max=2" % (pages, len(results)))
        for m in results:
            fwd = m["mam_result"]["forwarded"]["stanza"]
            ids.append(m["mam_result"]["id"])
            got.append((JID(fwd["from"]).user, fwd["body"]))
    check(got == expected, "archive with bob (%d pages): %r, want %r" % (pages, got, expected))
    check(len(set(ids)) == len(ids) and all(ids), "archive ids not unique: %r" % ids)
    want_pages = (len(expected) + 1) // 2
    check(pages >= want_pages, "%d pages for %d messages with max=2" % (pages, len(expected)))


async def main(host, port, domain):
    addr = (host, port)
    bob = Client("bob", "desk", domain, ["xep_0030", "xep_0199"])
    alice1 = Client("alice", "res1", domain,
                    ["xep_0030", "xep_0199", "xep_0198", "xep_0280", "xep_0313"])
    await bob.start(addr)
    await alice1.start(addr)

    sm_bodies = await test_sm(host, port, domain, alice1, bob)

    alice2 = Client("alice", "res2", domain, ["xep_0030", "xep_0199", "xep_0280", "xep_0313"])
    await alice2.start(addr)
    carbon_msgs = await test_carbons(domain, alice1, alice2, bob)

    expected = [("bob", b) for b in sm_bodies] + carbon_msgs
    await test_mam(domain, alice1, expected)

    if handler_failures:
        raise Failure(handler_failures[0])
    for c in (alice2, alice1, bob):
        c.x.disconnect()
    await asyncio.sleep(0.3)


if __name__ == "__main__":
    logging.basicConfig(level=logging.DEBUG if os.environ.get("SLIXMPP_DEBUG") else logging.ERROR)
    host, port, domain = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    loop = asyncio.get_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(main(host, port, domain), 80))
    except Failure as e:
        print("FAIL:", e, flush=True)
        sys.exit(1)
    except asyncio.TimeoutError:
        print("FAIL: overall timeout", flush=True)
        sys.exit(1)
    print("OK", flush=True)
