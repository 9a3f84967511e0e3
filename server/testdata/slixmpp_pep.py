"""PEP interop check: Debian python3-slixmpp's xep_0060/0163/0084 plugins against hearth.

Usage: slixmpp_pep.py HOST PORT DOMAIN

alice, bob and carol (password "pw-<name>-123") log in; alice and bob
subscribe to each other. bob's client asks for OMEMO device list and avatar
metadata notifications (+notify in its entity capabilities). alice publishes
her OMEMO device list and a bundle with publish-options (open access), then
an avatar (data and metadata). bob must get both notifications and fetch the
avatar data; carol, a stranger, must fetch the device list and the bundle.
Prints OK and exits 0 when all of that worked.
"""
import asyncio
import hashlib
import logging
import ssl
import sys
import xml.etree.ElementTree as ET

import slixmpp

DEVICES = "eu.siacs.conversations.axolotl.devicelist"
BUNDLES = "eu.siacs.conversations.axolotl.bundles:4223"
AXOLOTL = "eu.siacs.conversations.axolotl"
AVATAR = b"\x89PNG\r\n\x1a\nhearth-test-avatar"


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


def open_options(c):
    form = c["xep_0004"].make_form(ftype="submit")
    form.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/pubsub#publish-options")
    form.add_field(var="pubsub#access_model", value="open")
    return form


async def main(host, port, domain):
    clients, ready = {}, {}
    events = {"devices": [], "avatar": []}
    for name in ("alice", "bob", "carol"):
        c = slixmpp.ClientXMPP("%s@%s/py" % (name, domain), "pw-%s-123" % name)
        c.ssl_context.check_hostname = False
        c.ssl_context.verify_mode = ssl.CERT_NONE
        for p in ("xep_0004", "xep_0030", "xep_0060", "xep_0115", "xep_0163", "xep_0084"):
            c.register_plugin(p)
        c.auto_authorize = True
        c.auto_subscribe = True
        if name == "bob":
            c["xep_0163"].add_interest(DEVICES)
        ev = asyncio.Event()
        ready[name] = ev

        async def start(_event, c=c, ev=ev):
            await c.get_roster()
            c.send_presence()
            ev.set()

        c.add_event_handler("session_start", start)
        c.add_event_handler("no_auth", lambda _e, name=name: fail(name + ": authentication failed"))
        c.connect(address=(host, port), force_starttls=True)
        clients[name] = c
    for name, ev in ready.items():
        try:
            await asyncio.wait_for(ev.wait(), 20)
        except asyncio.TimeoutError:
            fail(name + " did not start a session")
    alice, bob, carol = clients["alice"], clients["bob"], clients["carol"]
    alice_bare, bob_bare = "alice@" + domain, "bob@" + domain

    def on_publish(msg):
        if str(msg["from"]) != alice_bare:
            return
        if msg["pubsub_event"]["items"]["node"] == DEVICES:
            # .iterables, not iteration: slixmpp is iterating these items
            # itself while it calls us, and iteration state is shared.
            for item in msg["pubsub_event"]["items"].iterables:
                events["devices"].append(item["id"])

    bob.add_event_handler("pubsub_publish", on_publish)
    bob.add_event_handler("avatar_metadata_publish",
                          lambda msg: events["avatar"].append(str(msg["from"])) if str(msg["from"]) == alice_bare else None)

    alice.send_presence_subscription(pto=bob_bare)
    await wait_until(lambda: bob_bare in alice.client_roster and alice.client_roster[bob_bare]["subscription"] == "both"
                     and alice_bare in bob.client_roster and bob.client_roster[alice_bare]["subscription"] == "both",
                     "mutual subscription")
    await wait_until(lambda: len(alice.client_roster[bob_bare].resources) > 0, "bob's presence at alice")

    devices = ET.Element("{%s}list" % AXOLOTL)
    ET.SubElement(devices, "{%s}device" % AXOLOTL, id="4223")
    await alice["xep_0060"].publish(None, DEVICES, id="current", payload=devices, options=open_options(alice))
    bundle = ET.Element("{%s}bundle" % AXOLOTL)
    ET.SubElement(bundle, "{%s}signedPreKeyPublic" % AXOLOTL, signedPreKeyId="1").text = "BQ=="
    await alice["xep_0060"].publish(None, BUNDLES, id="current", payload=bundle, options=open_options(alice))

    await wait_until(lambda: "current" in events["devices"], "bob's device list notification")

    # carol is no contact of alice: open access lets her fetch the keys.
    res = await carol["xep_0060"].get_items(alice_bare, DEVICES)
    ids = [i["id"] for i in res["pubsub"]["items"].iterables]
    if ids != ["current"]:
        fail("carol's device list fetch gave %r" % ids)
    res = await carol["xep_0060"].get_item(alice_bare, BUNDLES, "current")
    got = res["pubsub"]["items"].iterables
    if len(got) != 1 or got[0]["payload"].tag != "{%s}bundle" % AXOLOTL:
        fail("carol's bundle fetch gave %s" % res)

    # XEP-0084: data, then metadata; bob hears of the metadata and fetches the data.
    avatar_id = hashlib.sha1(AVATAR).hexdigest()
    await alice["xep_0084"].publish_avatar(AVATAR)
    await alice["xep_0084"].publish_avatar_metadata(items=[{"id": avatar_id, "type": "image/png", "bytes": len(AVATAR)}])
    await wait_until(lambda: alice_bare in events["avatar"], "bob's avatar metadata notification")
    res = await bob["xep_0084"].retrieve_avatar(alice_bare, avatar_id)
    items = res["pubsub"]["items"].iterables
    if len(items) != 1 or items[0]["id"] != avatar_id:
        fail("avatar fetch gave %s" % res)

    for c in clients.values():
        c.disconnect()
    print("OK", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=getattr(logging, __import__("os").environ.get("PYLOG", "ERROR")))
    host, port, domain = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    asyncio.get_event_loop().run_until_complete(main(host, port, domain))
