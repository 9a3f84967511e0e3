"""Interop check: two Debian python3-slixmpp clients against hearth.

Usage: slixmpp_interop.py HOST PORT DOMAIN

alice and bob (password "pw-<name>-123") log in over STARTTLS, fetch their
rosters, subscribe to each other (slixmpp answers subscription requests
itself), see each other's presence, exchange messages both ways, and ping
and disco the server. Prints OK and exits 0 when all of that worked.
"""
import asyncio
import logging
import ssl
import sys

import slixmpp


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


async def wait_until(pred, what, timeout=15.0):
    loop = asyncio.get_event_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            fail("timed out waiting for " + what)
        await asyncio.sleep(0.05)


async def main(host, port, domain):
    clients = {}
    ready = {}
    inbox = {}
    for name in ("alice", "bob"):
        c = slixmpp.ClientXMPP("%s@%s/py" % (name, domain), "pw-%s-123" % name)
        c.ssl_context.check_hostname = False
        c.ssl_context.verify_mode = ssl.CERT_NONE
        c.register_plugin("xep_0030")
        c.register_plugin("xep_0199")
        c.auto_authorize = True
        c.auto_subscribe = True
        ev = asyncio.Event()
        ready[name] = ev
        inbox[name] = []

        async def start(_event, c=c, ev=ev):
            await c.get_roster()
            c.send_presence()
            ev.set()

        def on_message(msg, name=name):
            if msg["type"] in ("chat", "normal") and msg["body"]:
                inbox[name].append((str(msg["from"]), msg["body"]))

        c.add_event_handler("session_start", start)
        c.add_event_handler("message", on_message)
        # failed_auth fires for each mechanism tried; no_auth when all failed.
        c.add_event_handler("no_auth", lambda _e, name=name: fail(name + ": authentication failed"))
        c.connect(address=(host, port), force_starttls=True)
        clients[name] = c
    for name, ev in ready.items():
        try:
            await asyncio.wait_for(ev.wait(), 20)
        except asyncio.TimeoutError:
            fail(name + " did not start a session")
    alice, bob = clients["alice"], clients["bob"]
    alice_bare, bob_bare = "alice@" + domain, "bob@" + domain

    alice.send_presence_subscription(pto=bob_bare)

    def sub(c, other):
        return c.client_roster[other]["subscription"] if other in c.client_roster else None

    await wait_until(lambda: sub(alice, bob_bare) == "both" and sub(bob, alice_bare) == "both",
                     "mutual subscription (alice sees %r)" % (sub(alice, bob_bare),))
    await wait_until(lambda: len(alice.client_roster[bob_bare].resources) > 0, "bob's presence at alice")
    await wait_until(lambda: len(bob.client_roster[alice_bare].resources) > 0, "alice's presence at bob")

    alice.send_message(mto=bob_bare, mbody="hello bob, from slixmpp", mtype="chat")
    await wait_until(lambda: any(b == "hello bob, from slixmpp" for _, b in inbox["bob"]), "message at bob")
    frm = [f for f, b in inbox["bob"] if b == "hello bob, from slixmpp"][0]
    if not frm.startswith(alice_bare + "/"):
        fail("message from %r, want alice's full JID" % frm)
    bob.send_message(mto=alice_bare + "/py", mbody="hi alice", mtype="chat")
    await wait_until(lambda: any(b == "hi alice" for _, b in inbox["alice"]), "reply at alice")

    rtt = await alice.plugin["xep_0199"].ping(jid=domain, timeout=10)
    if rtt is None:
        fail("server ping failed")
    info = await alice.plugin["xep_0030"].get_info(jid=domain, timeout=10)
    feats = info["disco_info"]["features"]
    if "urn:xmpp:ping" not in feats:
        fail("disco#info lacks urn:xmpp:ping: %r" % (feats,))

    # Going offline is seen by the contact.
    bob.disconnect()
    await wait_until(lambda: len(alice.client_roster[bob_bare].resources) == 0, "bob's unavailable at alice")
    alice.disconnect()
    await asyncio.sleep(0.2)
    print("OK", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    host, port, domain = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    asyncio.get_event_loop().run_until_complete(asyncio.wait_for(main(host, port, domain), 90))
