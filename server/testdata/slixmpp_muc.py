"""Interop check: Debian's python3-slixmpp xep_0045 plugin against hearth's MUC.

Usage: slixmpp_muc.py HOST PORT DOMAIN

alice and bob (password "pw-<name>-123") log in; alice creates a room on
muc.DOMAIN and configures it through the owner form, bob joins, both
chat, alice sets the subject, makes bob a member, lists members, kicks
bob (who sees 307), and destroys the room. Prints OK and exits 0 when all
of that worked.
"""
import asyncio
import logging
import ssl
import sys

import slixmpp
from slixmpp.exceptions import PresenceError


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
    clients, ready, inbox, presences = {}, {}, {}, {}
    for name in ("alice", "bob"):
        c = slixmpp.ClientXMPP("%s@%s/py" % (name, domain), "pw-%s-123" % name)
        c.ssl_context.check_hostname = False
        c.ssl_context.verify_mode = ssl.CERT_NONE
        for p in ("xep_0030", "xep_0004", "xep_0045", "xep_0199"):
            c.register_plugin(p)
        ev = asyncio.Event()
        ready[name] = ev
        inbox[name] = []
        presences[name] = []

        async def start(_event, c=c, ev=ev):
            c.send_presence()
            ev.set()

        c.add_event_handler("session_start", start)
        c.add_event_handler("groupchat_message",
                            lambda msg, name=name: inbox[name].append((str(msg["from"]), msg["body"])))
        c.add_event_handler("groupchat_presence", lambda pr, name=name: presences[name].append(pr))
        c.add_event_handler("no_auth", lambda _e, name=name: fail(name + ": authentication failed"))
        c.connect(address=(host, port), force_starttls=True)
        clients[name] = c
    for name, ev in ready.items():
        try:
            await asyncio.wait_for(ev.wait(), 20)
        except asyncio.TimeoutError:
            fail(name + " did not start a session")
    alice, bob = clients["alice"], clients["bob"]
    amuc, bmuc = alice.plugin["xep_0045"], bob.plugin["xep_0045"]
    room = slixmpp.JID("interop@muc." + domain)

    pres, _subject, _occ, _hist = await amuc.join_muc_wait(room, "Alice", timeout=10)
    if 201 not in pres["muc"]["status_codes"] or 110 not in pres["muc"]["status_codes"]:
        fail("creation self-presence lacks 110/201: %s" % pres)
    form = await amuc.get_room_config(room)
    if "muc#roomconfig_roomname" not in form.get_fields():
        fail("config form lacks roomname: %s" % form)
    submit = alice.plugin["xep_0004"].make_form(ftype="submit")
    submit.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/muc#roomconfig")
    submit.add_field(var="muc#roomconfig_roomname", value="Interop")
    submit.add_field(var="muc#roomconfig_persistentroom", ftype="boolean", value=False)
    await amuc.set_room_config(room, submit)

    info = await bob.plugin["xep_0030"].get_info(jid=room, timeout=10)
    if "http://jabber.org/protocol/muc" not in info["disco_info"]["features"]:
        fail("room disco#info lacks the muc feature")
    pres, _subject, occupants, _hist = await bmuc.join_muc_wait(room, "Bob", maxstanzas=0, timeout=10)
    if pres["muc"]["role"] != "participant":
        fail("bob's role: %s" % pres["muc"]["role"])
    if "Alice" not in bmuc.get_roster(room):
        fail("bob does not see Alice: %r" % bmuc.get_roster(room))

    alice.send_message(mto=room, mbody="hello from alice", mtype="groupchat")
    await wait_until(lambda: ("%s/Alice" % room, "hello from alice") in inbox["bob"], "groupchat at bob")
    await wait_until(lambda: ("%s/Alice" % room, "hello from alice") in inbox["alice"], "reflection at alice")
    bob.send_message(mto=room, mbody="hi alice", mtype="groupchat")
    await wait_until(lambda: ("%s/Bob" % room, "hi alice") in inbox["alice"], "groupchat at alice")

    await amuc.set_affiliation(room, "member", jid=slixmpp.JID("bob@" + domain))
    members = await amuc.get_affiliation_list(room, "member")
    if [str(j) for j in members] != ["bob@" + domain]:
        fail("member list: %r" % members)

    await amuc.set_role(room, "Bob", "none", reason="interop")
    await wait_until(lambda: any(p["type"] == "unavailable" and 307 in p["muc"]["status_codes"]
                                 for p in presences["bob"]), "bob kicked (307)")
    try:
        await bmuc.join_muc_wait(room, "Alice", timeout=10)
        fail("joining with alice's nick succeeded")
    except PresenceError as e:
        if e.condition != "conflict":
            fail("nick conflict: %s" % e.condition)

    await amuc.destroy(room, reason="done")
    alice.disconnect()
    bob.disconnect()
    await asyncio.sleep(0.2)
    print("OK", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    host, port, domain = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    asyncio.get_event_loop().run_until_complete(asyncio.wait_for(main(host, port, domain), 90))
